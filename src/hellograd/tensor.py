"""`Tensor`: a NumPy array that remembers how it was computed.

Introduced in the chapters "Building the graph" (the idea, on scalars) and
"From scalars to tensors" (arrays, broadcasting, matrix multiply).

Every operation has the same shape: compute the result with NumPy, then hand
:func:`make_op` the inputs it came from and one *backward rule* per input. A
rule ``rule(grad, out)`` maps the gradient of the final output with respect
to ``out`` to the gradient with respect to that one input. Rules are written
with Tensor operations, so a backward pass can itself be recorded and
differentiated again (chapter "Derivatives of derivatives"). Adding up the
contributions of a node used twice, and summing gradients back over
broadcast dimensions, is the engine's job (:mod:`hellograd.autograd`), so no
rule has to remember it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import autograd
from .autograd import hooks, is_grad_enabled

try:
    from numpy.exceptions import AxisError  # NumPy >= 1.25
except ImportError:  # pragma: no cover - NumPy 1.24
    from numpy import AxisError


def _as_array(data) -> np.ndarray:
    """Floating arrays keep their dtype; integers and booleans become
    float64."""
    if isinstance(data, Tensor):
        return data.data
    try:
        array = np.asarray(data)
    except (TypeError, ValueError) as error:
        raise TypeError("Tensor data must be numeric, got "
                        f"{type(data).__name__}: {error}") from None
    if array.dtype.kind == "f":
        return array
    if array.dtype.kind in "biu":
        return array.astype(np.float64)
    raise TypeError(
        "Tensor data must be real numbers, got an array of dtype "
        f"{array.dtype} from {type(data).__name__}"
    )


def make_op(op, data, parents, rules):
    """Wrap ``data``, the result of operation ``op``; record its parents and
    rules if needed.

    Every operation ends here. Outside :func:`hellograd.no_grad`, and when
    at least one parent requires a gradient, the result keeps its
    ``parents`` (a tuple, in argument order, so that gradients are always
    added up in the same order) and ``rules``, one backward rule
    ``rule(g, out)`` per parent. Otherwise it keeps nothing, and the graph
    stops here. This is also how a new operation joins the engine.
    Introduced in the chapter "Building the graph".
    """
    # not Tensor(data): that would check and convert data again
    out = Tensor.__new__(Tensor)
    out.data = np.asarray(data)
    out.grad = None
    out.name = None
    out._op = op
    if is_grad_enabled() and _any_requires_grad(parents):
        out.requires_grad = True
        out._parents = parents
        out._backward_rules = rules
    else:
        out.requires_grad = False
        out._parents = ()
        out._backward_rules = ()
    return hooks.node_made(out)


def _any_requires_grad(parents):
    # A plain loop: any(<generator>) costs more than the rest of make_op
    # together.
    for p in parents:
        if p.requires_grad:
            return True
    return False


def _wrap(array):
    """A Tensor with no history around ``array``, which must already be an
    ndarray of floats: what a backward rule that computes on arrays returns
    (chapter "Learning from data"). It skips the checks of
    ``Tensor(array)``, which cost more than the arithmetic on a small array.
    """
    out = Tensor.__new__(Tensor)
    out.data = np.asarray(array)
    out.grad = None
    out.requires_grad = False
    out.name = None
    out._op = ""
    out._parents = ()
    out._backward_rules = ()
    return out


def _normalize_axes(axis, ndim, op="axis", scalar_axis=True):
    """``axis`` as a tuple of axes in 0..ndim-1; NumPy's AxisError (a
    ValueError and an IndexError) for one out of range. As in NumPy's sum
    and max (``scalar_axis``), an integer axis 0 or -1 of a 0-d tensor means
    no axis at all; its mean refuses it."""
    if axis is None:
        return tuple(range(ndim))
    # `type(axis) is int` first: isinstance against the abstract
    # numbers.Integral is slow. A bool is an int to Python, never an axis.
    if type(axis) is int or (isinstance(axis, numbers.Integral)
                             and not isinstance(axis, (bool, np.bool_))):
        if ndim == 0 and scalar_axis and axis in (0, -1):
            return ()
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be an integer or a tuple of "
                        f"integers, got {axis!r}")
    normalized = []
    for a in axes:
        if isinstance(a, (bool, np.bool_)) or not isinstance(
                a, numbers.Integral):
            raise TypeError(f"{op}: axis must be an integer or a tuple of "
                            f"integers, got {axis!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise AxisError(a, ndim, op)
        normalized.append(a % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(normalized)


def _values(other):
    """What a comparison compares: a Tensor's numbers, anything else as it
    is."""
    return other.data if isinstance(other, Tensor) else other


def _kept_shape(shape, axis):
    """The shape a reduction over ``axis`` has with ``keepdims=True``."""
    axes = _normalize_axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _is_basic_index(index):
    """Slices, integers, ``...`` and ``None`` select each element at most
    once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(p, (slice, numbers.Integral, type(Ellipsis), type(None)))
        and not isinstance(p, bool)
        for p in parts
    )


class Tensor:
    """A NumPy array plus what is needed to differentiate through it.

    ``Tensor(data, requires_grad=False)`` wraps ``data`` (a number, a nested
    list or a NumPy array). Floating arrays keep their dtype, so float32
    stays float32; integer and boolean data become float64. With
    ``requires_grad=True`` the tensor holds a copy of an array you pass, so
    that updating it in place never changes your array; otherwise it shares
    it. ``name`` is an optional label used by the graph drawings. Introduced
    in the chapter "Building the graph"; arrays in "From scalars to
    tensors".

    Attributes: ``data`` (the array), ``grad`` (a NumPy array of the same
    shape, ``None`` until a backward pass reaches this tensor),
    ``requires_grad``. Only leaves (tensors you create with
    ``requires_grad=True``) keep a ``.grad``, unless an intermediate result
    asks with :meth:`retain_grad`.

    As with NumPy arrays, ``np.asarray(t)`` gives the numbers, comparisons
    (``t > 0``, ``t == u``) give NumPy boolean arrays (they are not
    differentiable, so they are not Tensors), and ``bool(t)`` needs a single
    element. A Tensor hashes by identity, so it can be a dictionary key.
    """

    # NumPy then defers to us: `array * tensor` calls Tensor.__rmul__.
    __array_ufunc__ = None
    # Fixed attributes: a graph creates thousands of tensors a second, and
    # slots make each one smaller and quicker to build than a per-object
    # __dict__. `_site` is set only by anomaly mode.
    __slots__ = ("data", "grad", "requires_grad", "name", "_op", "_parents",
                 "_backward_rules", "_site", "__weakref__")

    def __init__(self, data, requires_grad=False, name=None):
        self.data = _as_array(data)
        shared = self.data is data or isinstance(data, Tensor)
        if requires_grad and shared:
            # A parameter is updated in place (an optimizer step): it must
            # not be the caller's own array (or another tensor's), which
            # would change with it. PyTorch copies too.
            self.data = self.data.copy()
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._op = ""
        self._parents = ()
        self._backward_rules = ()

    # ----- plain attributes -----------------------------------------------
    shape = property(lambda self: self.data.shape,
                     doc='The shape of ``data`` (chapter "From scalars to '
                         'tensors").')
    ndim = property(lambda self: self.data.ndim,
                    doc='The number of dimensions (chapter "From scalars '
                        'to tensors").')
    dtype = property(lambda self: self.data.dtype,
                     doc='The NumPy dtype of ``data`` (chapter "From '
                         'scalars to tensors").')
    size = property(lambda self: self.data.size,
                    doc='The number of elements (chapter "From scalars to '
                        'tensors").')
    is_leaf = property(lambda self: not self._parents,
                       doc='True for a tensor that no recorded operation '
                           'made (an input or a constant; chapter '
                           '"Topological sort").')

    def item(self):
        """The value of a one-element tensor as a Python number (chapter
        "Building the graph")."""
        return self.data.item()

    def numpy(self):
        """The underlying NumPy array, not a copy (chapter "From scalars to
        tensors")."""
        return self.data

    def detach(self):
        """The same values as a new tensor with no history (chapter
        "Building the graph")."""
        return Tensor(self.data)

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        # Without this, Python would iterate with __getitem__ until an
        # IndexError, and a 0-d tensor would silently look empty.
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)`` and ``np.array(t)`` give the numbers, a NumPy
        protocol (chapter "From scalars to tensors")."""
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        if dtype is None:
            return self.data
        return self.data.astype(dtype, copy=False)

    def __bool__(self):
        # as NumPy: only a single element has a truth value
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    # Comparisons are not differentiable: like NumPy's, they give boolean
    # arrays.
    def __lt__(self, other):
        return self.data < _values(other)

    def __le__(self, other):
        return self.data <= _values(other)

    def __gt__(self, other):
        return self.data > _values(other)

    def __ge__(self, other):
        return self.data >= _values(other)

    def __eq__(self, other):
        return self.data == _values(other)

    def __ne__(self, other):
        return self.data != _values(other)

    # Defining __eq__ would otherwise make Tensors unhashable; the engine
    # keys dicts by node.
    __hash__ = object.__hash__

    def __repr__(self):
        body = np.array2string(self.data, precision=4, separator=", ",
                               prefix="Tensor(")
        extras = [f"dtype={self.dtype}"] if self.dtype != np.float64 else []
        if self.requires_grad:
            extras.append("requires_grad=True")
        if self._op:
            extras.append(f"op={self._op!r}")
        return "Tensor(" + ", ".join([body] + extras) + ")"

    def backward(self, grad=None, retain_graph=False):
        """Reverse-mode differentiation: add d(self)/d(leaf) to
        ``leaf.grad`` for every leaf.

        Walks the graph once, in reverse topological order, without
        recursion. Gradients accumulate across calls, as in PyTorch: reset
        them with ``x.grad = None`` (or an optimizer's ``zero_grad()``). A
        non-scalar tensor needs ``grad``, the gradient of some scalar with
        respect to it.

        Memory, as in PyTorch: only leaves keep their ``.grad`` (an
        intermediate result keeps one after :meth:`retain_grad`), and the
        pass frees the graph it walked, so a list of kept losses does not
        keep every step's graph alive. A second backward pass through the
        same graph then raises; pass ``retain_graph=True`` to the first one
        to keep the graph. Introduced in the chapter "Topological sort".
        """
        autograd.backward(self, grad, retain_graph)

    def retain_grad(self):
        """Keep this intermediate result's ``.grad`` after ``backward()``,
        as a leaf does.

        Call it before the backward pass; a leaf keeps its gradient anyway.
        Introduced in the chapter "Topological sort".
        """
        if not self.requires_grad:
            raise RuntimeError("retain_grad(): this tensor does not "
                               "require grad, so no backward pass gives "
                               "it a gradient")
        autograd.retain_grad(self)

    # ----- helpers for binary operations ----------------------------------
    def _lift(self, other, op):
        """Make ``other`` a Tensor; Python numbers and arrays take our
        dtype."""
        if isinstance(other, Tensor):
            if other.data.dtype != self.data.dtype:
                raise TypeError(
                    f"{op}: dtypes {self.dtype} and {other.dtype} differ; "
                    "hellograd never converts silently, so convert one "
                    "with .astype(...)"
                )
            return other
        # the common case `x * 2`, made quick
        if isinstance(other, (int, float)):
            return _wrap(np.array(other, dtype=self.data.dtype))
        if isinstance(other, (numbers.Number, np.ndarray, np.generic,
                              list, tuple)):
            array = _as_array(other)
            return _wrap(array.astype(self.data.dtype, copy=False))
        raise TypeError(f"{op}: unsupported operand of type "
                        f"{type(other).__name__}")

    def _broadcast_check(self, other, op):
        # NumPy's rule, checked in plain Python (np.broadcast_shapes costs
        # more than the whole operation on a small array): aligned from the
        # right, each pair of sizes must be equal or contain a 1.
        if self.data.shape == other.data.shape:
            return
        for m, n in zip(reversed(self.shape), reversed(other.shape)):
            if m != n and m != 1 and n != 1:
                raise ValueError(
                    f"{op}: shapes {self.shape} and {other.shape} cannot "
                    "be broadcast together"
                )

    def _binary(self, other, op):
        other = self._lift(other, op)
        self._broadcast_check(other, op)
        return other

    # ----- arithmetic -----------------------------------------------------
    def __add__(self, other):
        other = self._binary(other, "add")
        return make_op("add", self.data + other.data, (self, other),
                     (lambda g, out: g, lambda g, out: g))

    def __sub__(self, other):
        other = self._binary(other, "sub")
        return make_op("sub", self.data - other.data, (self, other),
                     (lambda g, out: g, lambda g, out: -g))

    def __mul__(self, other):
        other = self._binary(other, "mul")
        return make_op("mul", self.data * other.data, (self, other),
                     (lambda g, out: g * other, lambda g, out: g * self))

    def __truediv__(self, other):
        other = self._binary(other, "div")
        return make_op("div", self.data / other.data, (self, other),
                     (lambda g, out: g / other,
                      lambda g, out: -g * out / other))

    def __pow__(self, exponent):
        """``self ** exponent`` elementwise; either may be a Tensor.

        Where a formula below would give 0 * inf = NaN, the gradients are
        the limits PyTorch gives: ``x ** 0`` has gradient 0 even at
        ``x = 0``, and the exponent's gradient ``x ** n * log(x)`` is 0 at
        ``x = 0`` for ``n >= 0`` (chapter "From scalars to tensors").
        """
        exponent = self._binary(exponent, "pow")

        # n x^(n-1), with x replaced by 1 where n = 0: the term is 0 there,
        # and x^-1 would be inf at x = 0 (or 1e-310), making 0 * inf = NaN.
        # For an exponent that requires grad, only where x = 0 too: d/dn of
        # n x^(n-1) is x^-1, not 0.
        def base_rule(g, out):
            n_zero = exponent.data == 0
            zero = n_zero & (self.data == 0 if exponent.requires_grad
                             else True)
            base = _replace(self, zero, 1) if zero.any() else self
            return _zero_where(g * exponent * base ** (exponent - 1), g,
                               n_zero)

        # x^n log(x), with x replaced by 1 where x = 0 and n > 0 (0^n = 0
        # whatever n > 0 is) or n = 0 (PyTorch's limit)
        def exponent_rule(g, out):
            zero = (self.data == 0) & (exponent.data >= 0)
            base = _replace(self, zero, 1) if zero.any() else self
            return _zero_where(g * out * base.log(), g, zero)

        value = self.data ** exponent.data
        return make_op("pow", value, (self, exponent),
                       (base_rule, exponent_rule))

    def __neg__(self):
        return make_op("neg", -self.data, (self,), (lambda g, out: -g,))

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

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
            # two aligned matrices: the common case, checked first and
            # cheaply
            pass
        elif not a or not b:
            raise ValueError(f"matmul: shapes {a} and {b}: a 0-d tensor "
                             "has no dimension to multiply over (use *)")
        elif a[-1] != (b[-2] if len(b) > 1 else b[0]):
            raise ValueError(
                f"matmul: shapes {a} and {b} are not aligned "
                f"(the last dimension of the first must equal the "
                f"{'second-to-last' if len(b) > 1 else 'only'} dimension "
                "of the second)"
            )
        elif len(a) == 1 or len(b) == 1:
            # A vector is a one-row (or one-column) matrix whose extra axis
            # is dropped.
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
                raise ValueError(f"matmul: batch shapes of {a} and {b} "
                                 "cannot be broadcast together") from None
        return make_op("matmul", self.data @ other.data, (self, other),
                     (lambda g, out: g @ other.mT,
                      lambda g, out: self.mT @ g))

    def __rmatmul__(self, other):
        return self._lift(other, "matmul") @ self

    # ----- elementwise functions ------------------------------------------
    def exp(self):
        """e to the power of each element (chapter "From scalars to
        tensors")."""
        return make_op("exp", np.exp(self.data), (self,),
                       (lambda g, out: g * out,))

    def log(self):
        """Natural logarithm of each element (chapter "From scalars to
        tensors")."""
        return make_op("log", np.log(self.data), (self,),
                       (lambda g, out: g / self,))

    def sqrt(self):
        """Square root of each element (chapter "From scalars to tensors").
        """
        return make_op("sqrt", np.sqrt(self.data), (self,),
                       (lambda g, out: g / (out * 2),))

    def sin(self):
        """Sine of each element (chapter "From scalars to tensors")."""
        return make_op("sin", np.sin(self.data), (self,),
                       (lambda g, out: g * self.cos(),))

    def cos(self):
        """Cosine of each element (chapter "From scalars to tensors")."""
        return make_op("cos", np.cos(self.data), (self,),
                       (lambda g, out: -g * self.sin(),))

    def tanh(self):
        """Hyperbolic tangent of each element (chapter "From scalars to
        tensors")."""
        return make_op("tanh", np.tanh(self.data), (self,),
                       (lambda g, out: g * (1 - out * out),))

    def sigmoid(self):
        """1 / (1 + exp(-x)), computed from ``e = exp(-|x|)`` as
        ``1 / (1 + e)`` for x >= 0 and ``e / (1 + e)`` below: ``exp`` never
        overflows, and a tiny sigmoid keeps its digits (1 - something close
        to 1 would lose them) (chapter "When autodiff fails: custom
        gradients")."""
        # not 1: NumPy 1.x makes 1 + a 0-d float32 float64
        one = self.data.dtype.type(1)
        with np.errstate(under="ignore"):  # a sigmoid below 1e-308 is 0
            e = np.exp(-np.abs(self.data))
            value = np.where(self.data >= 0, one / (one + e), e / (one + e))
        return make_op("sigmoid", value, (self,),
                       (lambda g, out: g * out * (1 - out),))

    def relu(self):
        """max(x, 0) elementwise; its gradient at exactly 0 is taken to be
        0. The gradient passes where the output is not 0: where x > 0, and
        where x is NaN (as in PyTorch, and as :func:`hellograd.maximum`).

        Its rule is given twice, as ``nn.linear``'s are (chapter "Learning
        from data"): with Tensor operations when the backward pass is
        recorded, on the arrays when it is not. Introduced in the chapter
        "Learning from data".
        """
        # not 0: NumPy 1.x makes max(a 0-d float32, 0) float64
        zero = self.data.dtype.type(0)
        return make_op("relu", np.maximum(self.data, zero), (self,), (
            lambda g, out: _mask(g, out.data != 0) if is_grad_enabled()
            else _wrap(_masked(g.data, out.data != 0)),))

    def abs(self):
        """Absolute value; its gradient at exactly 0 is taken to be 0
        (chapter "When autodiff fails: custom gradients")."""
        return make_op("abs", np.abs(self.data), (self,),
                       (lambda g, out: g * _wrap(np.sign(self.data)),))

    def astype(self, dtype):
        """The same values in another floating dtype; the gradient is
        converted back (chapter "The full MNIST network")."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError("astype: hellograd tensors hold "
                            f"floating-point numbers, not {dtype}")
        return make_op("astype", self.data.astype(dtype), (self,),
                       (lambda g, out: g.astype(self.dtype),))

    # ----- reductions -----------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (all axes by default), as ``numpy.sum``
        (chapter "From scalars to tensors")."""
        axes = _normalize_axes(axis, self.data.ndim, "sum")

        def rule(g, out):
            kept = _kept_shape(self.shape, axes)
            return g.reshape(*kept).broadcast_to(self.shape)

        # np.add.reduce is what ndarray.sum calls, minus a layer of Python.
        value = np.add.reduce(self.data, axis=axes, keepdims=keepdims)
        return make_op("sum", value, (self,), (rule,))

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis`` (all axes by default): the sum divided by the
        count (chapter "From scalars to tensors")."""
        axes = _normalize_axes(axis, self.ndim, "mean", scalar_axis=False)
        count = math.prod(self.shape[a] for a in axes)
        return self.sum(axis=axis, keepdims=keepdims) / count

    def max(self, axis=None, keepdims=False):
        """Largest element over ``axis``; ties share the gradient equally (a
        NaN is the maximum, as in NumPy, and takes the gradient) (chapter
        "From scalars to tensors")."""
        axes = _normalize_axes(axis, self.ndim, "max")
        if any(self.shape[a] == 0 for a in axes):
            raise ValueError("max: an empty axis has no maximum (shape "
                             f"{self.shape}, axis {axis})")
        kept = _kept_shape(self.shape, axes)
        value = self.data.max(axis=axes, keepdims=True)

        def rule(g, out):
            both_nan = np.isnan(self.data) & np.isnan(value)
            is_max = ((self.data == value) | both_nan).astype(self.dtype)
            share = is_max / is_max.sum(axis=axes, keepdims=True)
            return g.reshape(*kept) * Tensor(share)

        result = value
        if not keepdims:
            result = value.reshape(_reduced_shape(self.shape, axes))
        return make_op("max", result, (self,), (rule,))

    # ----- shapes ---------------------------------------------------------
    def reshape(self, *shape):
        """The same elements in a new shape, ``reshape(2, 3)`` or
        ``reshape((2, 3))`` (chapter "From scalars to tensors")."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        try:
            data = self.data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape shape {self.shape} "
                             f"into {shape}") from None
        return make_op("reshape", data, (self,),
                       (lambda g, out: g.reshape(*self.shape),))

    def transpose(self, *axes):
        """Permute the axes (reverse them when none are given), as
        ``numpy.transpose`` (chapter "From scalars to tensors")."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        axes = _normalize_axes(axes, self.ndim, "transpose")
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a "
                             f"permutation for shape {self.shape}")
        inverse = tuple(int(i) for i in np.argsort(axes))
        return make_op("transpose", self.data.transpose(axes), (self,),
                     (lambda g, out: g.transpose(*inverse),))

    @property
    def T(self):
        """All axes reversed, which for a 2-D tensor is the matrix
        transpose (chapter "From scalars to tensors")."""
        return self.transpose()

    @property
    def mT(self):
        """The last two axes swapped, which transposes each matrix in a
        batch (chapter "From scalars to tensors")."""
        if self.data.ndim < 2:
            raise ValueError("mT: needs at least 2 dimensions, got shape "
                             f"{self.shape}")
        # Its own inverse; built directly (not via transpose) as every
        # matmul's backward uses it.
        return make_op("transpose", self.data.swapaxes(-1, -2), (self,),
                       (lambda g, out: g.mT,))

    def broadcast_to(self, shape):
        """Repeat along broadcast dimensions, as ``numpy.broadcast_to``.

        Its backward rule is the identity: the engine sums the gradient back
        to this tensor's shape, as it does for every operation that
        broadcasts (chapter "From scalars to tensors").
        """
        shape = tuple(shape)
        try:
            data = np.broadcast_to(self.data, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: shape {self.shape} cannot be "
                             f"broadcast to {shape}") from None
        return make_op("broadcast_to", data, (self,), (lambda g, out: g,))

    def __getitem__(self, index):
        """Indexing as in NumPy: slices, integers, integer arrays such as
        ``logits[np.arange(n), labels]``, and boolean masks such as
        ``x[x > 0]``. Elements picked twice get both gradients.

        The index must not be a Tensor: a Tensor holds floating-point
        numbers, and, as NumPy refuses a float array, so does this (a mask
        of 0.0 and 1.0 would otherwise pick elements 0 and 1). A comparison
        gives the boolean array itself (chapter "From scalars to tensors").
        """
        parts = index if isinstance(index, tuple) else (index,)
        if any(isinstance(part, Tensor) for part in parts):
            raise IndexError(
                "getitem: a Tensor cannot be an index (it holds "
                "floating-point numbers); index with an integer or "
                "boolean NumPy array, such as the mask that x > 0 gives"
            )
        try:
            data = self.data[index]
        except (IndexError, TypeError, ValueError) as error:
            raise type(error)(
                f"getitem: {error} (tensor shape {self.shape})") from None
        return make_op("getitem", data, (self,),
                     (lambda g, out: _scatter_add(g, index, self.shape),))

    # ----- probabilities --------------------------------------------------
    def log_softmax(self, axis=-1):
        """log(softmax(x)) computed stably:
        x - max - log(sum(exp(x - max))).

        Subtracting the maximum first means ``exp`` never sees a large
        positive number, so it cannot overflow: the log-sum-exp trick
        (chapter "When autodiff fails: custom gradients").
        """
        axis = _normalize_axes(axis, self.ndim, "log_softmax")
        if self.data.size == 0:  # nothing to normalise: empty, as in NumPy
            return make_op("log_softmax", self.data.copy(), (self,),
                           (lambda g, out: g,))
        shifted = self.data - self.data.max(axis=axis, keepdims=True)
        total = np.exp(shifted).sum(axis=axis, keepdims=True)
        value = shifted - np.log(total)

        def rule(g, out):
            return g - out.exp() * g.sum(axis=axis, keepdims=True)

        return make_op("log_softmax", value, (self,), (rule,))

    def softmax(self, axis=-1):
        """exp(x) / sum(exp(x)) along ``axis``, through the stable
        :meth:`log_softmax` (chapter "Learning from data")."""
        axis = _normalize_axes(axis, self.ndim, "softmax")
        return self.log_softmax(axis=axis).exp()


def _reduced_shape(shape, axes):
    """The shape a reduction over ``axes`` leaves (``keepdims=False``)."""
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _mask(g, mask):
    """``g`` where the boolean array ``mask`` is true, 0 elsewhere (relu's
    backward rule). The result is linear in ``g``, so its own rule is
    itself.
    """
    return make_op("mask", _masked(g.data, mask), (g,),
                   (lambda g2, out: _mask(g2, mask),))


def _masked(array, mask):
    """``array`` where ``mask`` is true, 0 elsewhere, on arrays.

    A product with the 0/1 mask (three times quicker than ``np.where``),
    unless ``array`` holds an inf or a NaN: 0 * inf is NaN, yet where the
    mask is false the output does not move, so the gradient is 0 whatever
    arrives, as in PyTorch.
    """
    if np.isfinite(array).all():
        return array * mask
    return np.where(mask, array, array.dtype.type(0))


def _zero_where(grad, g, flat):
    """``grad`` (a rule's result) with 0 where ``flat``, where the
    operation's output does not depend on the input, even if the incoming
    gradient ``g`` is inf or NaN there, which times a local derivative of
    0 gives NaN. Free when ``g`` is finite."""
    if np.isfinite(g.data).all() or not flat.any():
        return grad
    return _replace(grad, np.broadcast_to(flat, grad.shape), 0)


def _replace(t, mask, value):
    """``t`` with the constant ``value`` where ``mask`` is true (no gradient
    flows there)."""
    # NumPy 1.x would make a 0-d float32 float64 otherwise
    value = t.data.dtype.type(value)
    return make_op("replace", np.where(mask, value, t.data), (t,),
                   (lambda g, out: _mask(g, ~mask),))


def _scatter_add(g, index, shape):
    """A zero tensor of ``shape`` with ``g`` added at ``index``: the adjoint
    of indexing."""
    data = np.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        data[index] = g.data  # a basic index never picks an element twice
    else:
        np.add.at(data, index, g.data)
    return make_op("scatter_add", data, (g,), (lambda g2, out: g2[index],))
