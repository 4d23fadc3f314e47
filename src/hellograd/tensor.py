"""`Tensor`: a NumPy array that remembers how it was computed.

Introduced in the chapters "Building the graph" (the idea, on scalars) and
"From scalars to tensors" (arrays, broadcasting, matrix multiply).

Every operation has the same shape: compute the result with NumPy, then hand
:func:`_make` the inputs it came from and one *backward rule* per input. A rule
``rule(grad, out)`` maps the gradient of the final output with respect to
``out`` to the gradient with respect to that one input. Rules are written with
Tensor operations, so a backward pass can itself be recorded and differentiated
again; the network's ops also give a NumPy copy of their rules, which is quicker
when it is not (see :func:`_make`). Adding up the contributions of a node used twice, and summing gradients
back over broadcast dimensions, is the engine's job (:mod:`hellograd.autograd`),
so no rule has to remember it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import anomaly, autograd
from .autograd import is_grad_enabled


def _as_array(data) -> np.ndarray:
    """Floating arrays keep their dtype; integers and booleans become float64."""
    if isinstance(data, Tensor):
        return data.data
    try:
        array = np.asarray(data)
    except (TypeError, ValueError) as error:
        raise TypeError(f"Tensor data must be numeric, got {type(data).__name__}: {error}") from None
    if array.dtype.kind == "f":
        return array
    if array.dtype.kind in "biu":
        return array.astype(np.float64)
    raise TypeError(
        f"Tensor data must be real numbers, got an array of dtype {array.dtype} "
        f"from {type(data).__name__}"
    )


def _make(op, data, parents, rules, numpy_rules=()):
    """Wrap the result of ``op``; record its parents and backward rules if needed.

    Outside :func:`hellograd.no_grad`, and when at least one parent requires a
    gradient, the result keeps its parents (a tuple, in argument order, so that
    gradients are always added up in the same order) and one rule per parent.
    Otherwise it keeps nothing, and the graph stops here.

    ``numpy_rules``, optional, are the same rules on NumPy arrays: ``g`` is an
    array and so is what they return. A backward pass that is not itself
    recorded uses them, which saves building a Tensor for every step of every
    rule; the network's own ops give them (chapter "Learning from data").
    """
    out = Tensor.__new__(Tensor)
    out.data = np.asarray(data)
    out.grad = None
    out.name = None
    out._op = op
    out._site = None
    if is_grad_enabled() and _any_requires_grad(parents):
        out.requires_grad = True
        out._parents = parents
        out._backward_rules = rules
        out._numpy_rules = numpy_rules
    else:
        out.requires_grad = False
        out._parents = ()
        out._backward_rules = ()
        out._numpy_rules = ()
    if anomaly.enabled:  # inside detect_anomaly(): record the call site, check for NaN/inf
        anomaly.on_forward(out)
    return out


# The public name of the extension point: a new operation computes its value with NumPy and
# hands make_op its inputs and one backward rule per input (chapter "From scalars to tensors").
make_op = _make


def _any_requires_grad(parents):
    # A plain loop: any(<generator>) costs more than the rest of _make together.
    for p in parents:
        if p.requires_grad:
            return True
    return False


def _normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    # `type(axis) is int` first: isinstance against the abstract numbers.Integral is slow.
    axes = (axis,) if type(axis) is int or isinstance(axis, numbers.Integral) else tuple(axis)
    normalized = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        normalized.append(a % ndim)
    return tuple(normalized)


def _kept_shape(shape, axis):
    """The shape a reduction over ``axis`` has with ``keepdims=True``."""
    axes = _normalize_axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _is_basic_index(index):
    """Slices, integers, ``...`` and ``None`` select each element at most once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(p, (slice, numbers.Integral, type(Ellipsis), type(None))) and not isinstance(p, bool)
        for p in parts
    )


class Tensor:
    """A NumPy array plus what is needed to differentiate through it.

    ``Tensor(data, requires_grad=False)`` wraps ``data`` (a number, a nested
    list or a NumPy array). Floating arrays keep their dtype, so float32 stays
    float32; integer and boolean data become float64. ``name`` is an optional
    label used by the graph drawings.

    Attributes: ``data`` (the array), ``grad`` (a NumPy array of the same shape,
    ``None`` until a backward pass reaches this tensor), ``requires_grad``.
    """

    # NumPy then defers to us: `array * tensor` calls Tensor.__rmul__.
    __array_ufunc__ = None
    # Fixed attributes: a graph creates thousands of tensors a second, and slots make each
    # one smaller and quicker to build than a per-object __dict__.
    __slots__ = ("data", "grad", "requires_grad", "name", "_op", "_parents", "_backward_rules",
                 "_numpy_rules", "_site", "__weakref__")

    def __init__(self, data, requires_grad=False, name=None):
        self.data = _as_array(data)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._op = ""
        self._parents = ()
        self._backward_rules = ()
        self._numpy_rules = ()
        self._site = None  # where the op was created; recorded only inside detect_anomaly()

    # ----- plain attributes -----------------------------------------------------
    shape = property(lambda self: self.data.shape, doc="The shape of ``data``.")
    ndim = property(lambda self: self.data.ndim, doc="The number of dimensions.")
    dtype = property(lambda self: self.data.dtype, doc="The NumPy dtype of ``data``.")
    size = property(lambda self: self.data.size, doc="The number of elements.")

    def item(self):
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def numpy(self):
        """The underlying NumPy array (not a copy)."""
        return self.data

    def detach(self):
        """The same values as a new tensor with no history."""
        return Tensor(self.data)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        extras = [f"dtype={self.dtype}"] if self.dtype != np.float64 else []
        if self.requires_grad:
            extras.append("requires_grad=True")
        if self._op:
            extras.append(f"op={self._op!r}")
        return "Tensor(" + ", ".join([body] + extras) + ")"

    def backward(self, grad=None):
        """Reverse-mode differentiation: add d(self)/d(node) to ``node.grad`` for every node.

        Walks the graph once, in reverse topological order, without recursion.
        Gradients accumulate across calls, as in PyTorch: reset them with
        ``x.grad = None`` (or an optimizer's ``zero_grad()``). A non-scalar
        tensor needs ``grad``, the gradient of some scalar with respect to it.
        """
        autograd.backward(self, grad)

    # ----- helpers for binary operations ---------------------------------------
    def _lift(self, other, op):
        """Make ``other`` a Tensor; Python numbers and arrays take our dtype."""
        if isinstance(other, Tensor):
            if other.data.dtype != self.data.dtype:
                raise TypeError(
                    f"{op}: dtypes {self.dtype} and {other.dtype} differ; hellograd never "
                    f"converts silently, so convert one with .astype(...)"
                )
            return other
        if isinstance(other, (int, float)):  # the common case `x * 2`, made quick
            return Tensor(np.array(other, dtype=self.dtype))
        if isinstance(other, (numbers.Number, np.ndarray, np.generic, list, tuple)):
            array = _as_array(other)
            return Tensor(array.astype(self.dtype, copy=False))
        raise TypeError(f"{op}: unsupported operand of type {type(other).__name__}")

    def _broadcast_check(self, other, op):
        # NumPy's rule, checked in plain Python (np.broadcast_shapes costs more than
        # the whole operation on a small array): aligned from the right, each pair of
        # sizes must be equal or contain a 1.
        if self.data.shape == other.data.shape:
            return
        for m, n in zip(reversed(self.shape), reversed(other.shape)):
            if m != n and m != 1 and n != 1:
                raise ValueError(
                    f"{op}: shapes {self.shape} and {other.shape} cannot be broadcast together"
                )

    def _binary(self, other, op):
        other = self._lift(other, op)
        self._broadcast_check(other, op)
        return other

    # ----- arithmetic -------------------------------------------------------------
    def __add__(self, other):
        other = self._binary(other, "add")
        return _make("add", self.data + other.data, (self, other),
                     (lambda g, out: g, lambda g, out: g))

    def __sub__(self, other):
        other = self._binary(other, "sub")
        return _make("sub", self.data - other.data, (self, other),
                     (lambda g, out: g, lambda g, out: -g))

    def __mul__(self, other):
        other = self._binary(other, "mul")
        return _make("mul", self.data * other.data, (self, other),
                     (lambda g, out: g * other, lambda g, out: g * self))

    def __truediv__(self, other):
        other = self._binary(other, "div")
        return _make("div", self.data / other.data, (self, other),
                     (lambda g, out: g / other, lambda g, out: -g * out / other))

    def __pow__(self, exponent):
        exponent = self._binary(exponent, "pow")
        return _make("pow", self.data ** exponent.data, (self, exponent),
                     (lambda g, out: g * exponent * self ** (exponent - 1),
                      lambda g, out: g * out * self.log()))

    def __neg__(self):
        return _make("neg", -self.data, (self,), (lambda g, out: -g,))

    def __radd__(self, other):
        return self._lift(other, "add") + self

    def __rsub__(self, other):
        return self._lift(other, "sub") - self

    def __rmul__(self, other):
        return self._lift(other, "mul") * self

    def __rtruediv__(self, other):
        return self._lift(other, "div") / self

    def __rpow__(self, other):
        return self._lift(other, "pow") ** self

    def __matmul__(self, other):
        other = self._lift(other, "matmul")
        a, b = self.data.shape, other.data.shape
        if len(a) == 2 and len(b) == 2 and a[1] == b[0]:
            pass  # two aligned matrices: the common case, checked first and cheaply
        elif not a or not b or a[-1] != (b[-2] if len(b) > 1 else b[0]):
            raise ValueError(
                f"matmul: shapes {a} and {b} are not aligned "
                f"(the last dimension of the first must equal the "
                f"{'second-to-last' if len(b) > 1 else 'only'} dimension of the second)"
            )
        elif len(a) == 1 or len(b) == 1:
            # A vector is a one-row (or one-column) matrix whose extra axis is dropped.
            left = self.reshape(1, -1) if len(a) == 1 else self
            right = other.reshape(-1, 1) if len(b) == 1 else other
            product = left @ right
            shape = product.shape[:-2]
            shape += () if len(a) == 1 else product.shape[-2:-1]
            shape += () if len(b) == 1 else product.shape[-1:]
            return product.reshape(*shape)
        elif len(a) > 2 or len(b) > 2:
            try:
                np.broadcast_shapes(a[:-2], b[:-2])
            except ValueError:
                raise ValueError(f"matmul: batch shapes of {a} and {b} cannot be broadcast together") from None
        return _make("matmul", self.data @ other.data, (self, other),
                     (lambda g, out: g @ other.mT, lambda g, out: self.mT @ g))

    def __rmatmul__(self, other):
        return self._lift(other, "matmul") @ self

    # ----- elementwise functions --------------------------------------------------
    def exp(self):
        """e to the power of each element."""
        return _make("exp", np.exp(self.data), (self,), (lambda g, out: g * out,))

    def log(self):
        """Natural logarithm of each element."""
        return _make("log", np.log(self.data), (self,), (lambda g, out: g / self,))

    def sqrt(self):
        """Square root of each element."""
        return _make("sqrt", np.sqrt(self.data), (self,), (lambda g, out: g / (out * 2),))

    def sin(self):
        """Sine of each element."""
        return _make("sin", np.sin(self.data), (self,), (lambda g, out: g * self.cos(),))

    def cos(self):
        """Cosine of each element."""
        return _make("cos", np.cos(self.data), (self,), (lambda g, out: -g * self.sin(),))

    def tanh(self):
        """Hyperbolic tangent of each element."""
        return _make("tanh", np.tanh(self.data), (self,), (lambda g, out: g * (1 - out * out),))

    def sigmoid(self):
        """1 / (1 + exp(-x)), computed as (1 + tanh(x/2)) / 2, which cannot overflow."""
        value = 0.5 + 0.5 * np.tanh(0.5 * self.data)
        return _make("sigmoid", value, (self,), (lambda g, out: g * out * (1 - out),))

    def relu(self):
        """max(x, 0) elementwise; its gradient at exactly 0 is taken to be 0."""
        return _make("relu", np.maximum(self.data, 0), (self,),
                     rules=(lambda g, out: _mask(g, self.data > 0),),
                     numpy_rules=(lambda g, out: g * (self.data > 0),))

    def abs(self):
        """Absolute value; its gradient at exactly 0 is taken to be 0."""
        return _make("abs", np.abs(self.data), (self,), (lambda g, out: g * Tensor(np.sign(self.data)),))

    def astype(self, dtype):
        """The same values in another floating dtype (the gradient is converted back)."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"astype: hellograd tensors hold floating-point numbers, not {dtype}")
        return _make("astype", self.data.astype(dtype), (self,), (lambda g, out: g.astype(self.dtype),))

    # ----- reductions -----------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (all axes by default), as ``numpy.sum``."""
        axes = _normalize_axes(axis, self.data.ndim)

        def rule(g, out):
            return g.reshape(*_kept_shape(self.shape, axes)).broadcast_to(self.shape)

        # np.add.reduce is what ndarray.sum calls, minus a layer of Python.
        return _make("sum", np.add.reduce(self.data, axis=axes, keepdims=keepdims), (self,), (rule,))

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis`` (all axes by default): the sum divided by the count."""
        axes = _normalize_axes(axis, self.ndim)
        count = math.prod(self.shape[a] for a in axes)
        return self.sum(axis=axis, keepdims=keepdims) / count

    def max(self, axis=None, keepdims=False):
        """Largest element over ``axis``; ties share the gradient equally."""
        kept = _kept_shape(self.shape, axis)
        axes = _normalize_axes(axis, self.ndim)
        value = self.data.max(axis=axes, keepdims=True)

        def rule(g, out):
            is_max = (self.data == value).astype(self.dtype)
            share = is_max / is_max.sum(axis=axes, keepdims=True)
            return g.reshape(*kept) * Tensor(share)

        return _make("max", value if keepdims else value.reshape(_reduced_shape(self.shape, axes)),
                     (self,), (rule,))

    # ----- shapes -----------------------------------------------------------------
    def reshape(self, *shape):
        """The same elements in a new shape; ``reshape(2, 3)`` or ``reshape((2, 3))``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        try:
            data = self.data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape shape {self.shape} into {shape}") from None
        return _make("reshape", data, (self,), (lambda g, out: g.reshape(*self.shape),))

    def transpose(self, *axes):
        """Permute the axes (reverse them when none are given), as ``numpy.transpose``."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = tuple(reversed(range(self.ndim))) if not axes else _normalize_axes(axes, self.ndim)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation for shape {self.shape}")
        inverse = tuple(int(i) for i in np.argsort(axes))
        return _make("transpose", self.data.transpose(axes), (self,),
                     (lambda g, out: g.transpose(*inverse),))

    @property
    def T(self):
        """All axes reversed (for a 2-D tensor, the matrix transpose)."""
        return self.transpose()

    @property
    def mT(self):
        """The last two axes swapped, which transposes each matrix in a batch."""
        if self.data.ndim < 2:
            raise ValueError(f"mT: needs at least 2 dimensions, got shape {self.shape}")
        # Its own inverse; built directly (not via transpose) as every matmul's backward uses it.
        return _make("transpose", self.data.swapaxes(-1, -2), (self,), (lambda g, out: g.mT,))

    def broadcast_to(self, shape):
        """Repeat along broadcast dimensions, as ``numpy.broadcast_to``.

        Its backward rule is the identity: the engine sums the gradient back to
        this tensor's shape, as it does for every operation that broadcasts.
        """
        shape = tuple(shape)
        try:
            data = np.broadcast_to(self.data, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: shape {self.shape} cannot be broadcast to {shape}") from None
        return _make("broadcast_to", data, (self,), (lambda g, out: g,))

    def __getitem__(self, index):
        """Indexing as in NumPy: slices, integers, and integer arrays such as
        ``logits[np.arange(n), labels]``. Elements picked twice get both gradients."""
        if isinstance(index, Tensor):
            index = index.data.astype(np.intp)
        elif isinstance(index, tuple):
            index = tuple(i.data.astype(np.intp) if isinstance(i, Tensor) else i for i in index)
        try:
            data = self.data[index]
        except IndexError as error:
            raise IndexError(f"getitem: {error} (tensor shape {self.shape})") from None
        return _make("getitem", data, (self,),
                     (lambda g, out: _scatter_add(g, index, self.shape),))

    # ----- probabilities --------------------------------------------------------
    def log_softmax(self, axis=-1):
        """log(softmax(x)) computed stably: x - max - log(sum(exp(x - max))).

        Subtracting the maximum first means ``exp`` never sees a large positive
        number, so it cannot overflow (the log-sum-exp trick).
        """
        shifted = self.data - self.data.max(axis=axis, keepdims=True)
        value = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return _make("log_softmax", value, (self,),
                     (lambda g, out: g - out.exp() * g.sum(axis=axis, keepdims=True),))

    def softmax(self, axis=-1):
        """exp(x) / sum(exp(x)) along ``axis``, through the stable :meth:`log_softmax`."""
        return self.log_softmax(axis=axis).exp()


def _reduced_shape(shape, axes):
    """The shape a reduction over ``axes`` leaves (``keepdims=False``)."""
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _mask(g, mask):
    """``g`` where the boolean array ``mask`` is true, 0 elsewhere (relu's backward rule).

    Multiplying by a constant 0/1 array, without first converting the mask to
    ``g``'s dtype. The result is linear in ``g``, so its own rule is itself.
    """
    return _make("mask", g.data * mask, (g,), (lambda g2, out: _mask(g2, mask),))


def _scatter_add(g, index, shape):
    """A zero tensor of ``shape`` with ``g`` added at ``index``: the adjoint of indexing."""
    data = np.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        data[index] = g.data  # a basic index never picks an element twice
    else:
        np.add.at(data, index, g.data)
    return _make("scatter_add", data, (g,), (lambda g2, out: g2[index],))
