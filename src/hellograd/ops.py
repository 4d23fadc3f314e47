"""More operations, written the way you would write them yourself.

Introduced in the chapter "From scalars to tensors", as examples of the
extension point :func:`hellograd.make_op`: compute the value with NumPy,
then give one backward rule per input, written with Tensor operations so
that it can be differentiated again. Where an operation is an exact
combination of existing ones (``var`` from ``mean``, ``stack`` from
``concatenate``, ``flatten`` from ``reshape``) it is written as that
combination and needs no rule of its own.

The functions are ``hellograd.where``, ``maximum``, ``minimum``,
``concatenate`` and ``stack``; ``import hellograd`` also makes the methods
defined here methods of :class:`hellograd.Tensor` (``x.clip(0, 1)``,
``x.logsumexp(axis=1)``, ...). Axes, broadcasting and results follow NumPy:
an axis out of range raises NumPy's ``AxisError`` (both a ``ValueError`` and
an ``IndexError``), and float32 stays float32.
"""

from __future__ import annotations

import math
import numbers
import operator
import warnings

import numpy as np

from .tensor import Tensor, _normalize_axes, _zero_where, make_op

try:
    from numpy.exceptions import AxisError  # NumPy >= 1.25
except ImportError:  # pragma: no cover - older NumPy
    from numpy import AxisError

__all__ = ["where", "maximum", "minimum", "concatenate", "stack"]


# ----- helpers ------------------------------------------------------------
def _tensors(values, op):
    """``values`` as Tensors of one dtype: numbers and arrays take the dtype
    of the first Tensor, as in ``x * 2``; Tensors of two dtypes raise
    TypeError (see ``Tensor._lift``)."""
    values = list(values)
    if not values:
        raise ValueError(f"{op}: needs at least one tensor")
    first = next((v for v in values if isinstance(v, Tensor)), None)
    if first is None:
        first = Tensor(values[0])
    return [first._lift(v, op) for v in values]


def _shapes(arrays):
    """The shapes of ``arrays``, for an error message: "(2, 3), (2, 2)"."""
    return ", ".join(str(a.shape) for a in arrays)


def _broadcast_shape(op, *arrays):
    """The shape ``arrays`` broadcast to, or a ValueError naming the op and
    every shape."""
    try:
        return np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        raise ValueError(f"{op}: shapes {_shapes(arrays)} cannot be "
                         "broadcast together") from None


def _refuse_an_axis_of_0d(x, axis, op):
    # np.sum and np.max read axis 0 or -1 of a 0-d array as no axis (so does
    # _normalize_axes); np.var and np.std raise NumPy's AxisError.
    if x.ndim == 0 and isinstance(axis, numbers.Integral):
        raise AxisError(axis, 0, op)


def _condition(cond, op):
    """``cond`` as a boolean NumPy array: a bool array, a bool Tensor or a
    comparison's mask."""
    mask = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if mask.dtype != np.bool_:
        # 0/1 floats would work by accident and 0.5 would silently count as
        # true.
        raise TypeError(f"{op}: the condition must be boolean (a "
                        "comparison such as x > 0, or a bool array), got "
                        f"dtype {mask.dtype}")
    return mask


# ----- functions ----------------------------------------------------------
def where(cond, x, y):
    """``x`` where ``cond`` is true and ``y`` elsewhere, as ``numpy.where``;
    all three broadcast.

    ``cond`` is a boolean array, a boolean Tensor or a comparison's mask;
    another dtype raises TypeError. ``x`` and ``y`` are Tensors, arrays or
    numbers. Each element's gradient goes to the input it was taken from,
    and the other gets exactly 0, even where it is inf or NaN.

    One trap remains, in every autodiff library:
    ``where(x > 0, x.log(), 0)`` still has a NaN gradient at ``x = 0``,
    because ``log``'s own rule computes 0 / 0 there before ``where``
    discards it. Keep the bad value out of the branch not taken as well:
    ``where(x > 0, where(x > 0, x, 1).log(), 0)``.

    Introduced in the chapter "From scalars to tensors".
    """
    mask = _condition(cond, "where")
    x, y = _tensors((x, y), "where")
    _broadcast_shape("where", mask, x, y)
    # The rules pick g rather than multiply it by the mask: 0 * inf would
    # be NaN.
    return make_op("where", np.where(mask, x.data, y.data), (x, y),
                   (lambda g, out: where(mask, g, 0),
                    lambda g, out: where(mask, 0, g)))


def maximum(a, b):
    """The larger of ``a`` and ``b`` element by element, as
    ``numpy.maximum`` (they broadcast).

    The gradient goes to the larger one. On a tie each gets half, as in
    PyTorch, so that ``maximum(x, x)`` still passes on the whole gradient.
    Where either is NaN the value is NaN, as in NumPy, and both get the
    whole gradient, as in PyTorch.

    Introduced in the chapter "From scalars to tensors".
    """
    return _pick("maximum", np.maximum, np.less, a, b)


def minimum(a, b):
    """The smaller of ``a`` and ``b`` element by element, as
    ``numpy.minimum``; ties and NaN as in :func:`maximum` (half the gradient
    each; NaN gives both the whole gradient).

    Introduced in the chapter "From scalars to tensors".
    """
    return _pick("minimum", np.minimum, np.greater, a, b)


def _pick(op, choose, loses, a, b):
    """An op that takes each element from ``a`` or ``b``: ``choose``
    computes the value and ``loses(a, b)`` is true where ``a`` was not
    taken."""
    a, b = _tensors((a, b), op)
    _broadcast_shape(op, a, b)

    def share(lost):
        # 0 where this input lost, 1/2 on a tie, else 1; every comparison
        # with NaN is false, so both inputs of a NaN keep 1.
        tie = np.where(a.data == b.data, 0.5, 1)
        return Tensor(np.where(lost, 0, tie).astype(a.dtype))

    # The shares are constants (a kink has no curvature), so a second
    # derivative sees only g. Where an input lost, the output does not
    # move with it: 0 even if g is inf there.
    def rule(x, y):
        def backward(g, out):
            lost = loses(x.data, y.data)
            return _zero_where(g * share(lost), g, lost)
        return backward

    return make_op(op, choose(a.data, b.data), (a, b),
                   (rule(a, b), rule(b, a)))


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis, as ``numpy.concatenate``;
    ``axis=None`` flattens them first. Each input's gradient is its own
    slice of the output's gradient.

    Introduced in the chapter "From scalars to tensors".
    """
    tensors = _tensors(tensors, "concatenate")
    if axis is None:
        tensors, axis = [t.flatten() for t in tensors], 0
    try:
        value = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError as error:
        # NumPy's AxisError is a ValueError too; keep its type
        raise type(error)(f"concatenate: {error} (shapes "
                          f"{_shapes(tensors)})") from None
    axis = operator.index(axis) % value.ndim
    # where each input starts and ends
    edges = np.cumsum([0] + [t.shape[axis] for t in tensors])

    def slice_of(start, stop):
        index = (slice(None),) * axis + (slice(int(start), int(stop)),)
        return lambda g, out: g[index]

    rules = tuple(slice_of(start, stop)
                  for start, stop in zip(edges[:-1], edges[1:]))
    return make_op("concatenate", value, tuple(tensors), rules)


def stack(tensors, axis=0):
    """Join tensors of one shape along a new axis, as ``numpy.stack``.

    It is :func:`concatenate` of the tensors each given a new axis of length
    1, so it needs no backward rule of its own.

    Introduced in the chapter "From scalars to tensors".
    """
    tensors = _tensors(tensors, "stack")
    if len({t.shape for t in tensors}) > 1:
        raise ValueError("stack: all tensors must have the same shape, got "
                         f"{_shapes(tensors)}")
    ndim = tensors[0].ndim + 1
    (axis,) = _normalize_axes(operator.index(axis), ndim, "stack")
    return concatenate([t.unsqueeze(axis) for t in tensors], axis=axis)


# ----- methods (attached to Tensor at the bottom) -------------------------
# Their names are the methods' names, so this module's `min` hides Python's
# own.

def clip(self, lo=None, hi=None):
    """Limit the values to ``[lo, hi]``, as ``numpy.clip``; ``None`` leaves
    that side open.

    The gradient passes where ``lo <= x <= hi``, bounds included, and is 0
    outside, as in PyTorch's ``clamp``: at a bound the value was not
    changed. A NaN stays NaN, with gradient 0. The bounds are constants
    (numbers or arrays, broadcast against ``x``); for bounds that need
    gradients write ``minimum(maximum(x, lo), hi)``.

    Introduced in the chapter "From scalars to tensors".
    """
    bounds = [-np.inf if lo is None else lo, np.inf if hi is None else hi]
    if any(isinstance(b, Tensor) and b.requires_grad for b in bounds):
        raise TypeError("clip: the bounds are constants and get no "
                        "gradient; for bounds that need one, write "
                        "minimum(maximum(x, lo), hi)")
    lo, hi = (self._lift(b, "clip") for b in bounds)
    _broadcast_shape("clip", self, lo, hi)
    inside = (lo.data <= self.data) & (self.data <= hi.data)
    return make_op("clip", np.clip(self.data, lo.data, hi.data), (self,),
                   (lambda g, out: where(inside, g, 0),))


def min(self, axis=None, keepdims=False):
    """Smallest element over ``axis`` (all axes by default), as
    ``numpy.min``; ties share the gradient equally, as in
    :meth:`Tensor.max`.

    Written as ``-max(-x)``: negation is exact, so the value is NumPy's, and
    max's rule already shares ties.

    Introduced in the chapter "From scalars to tensors".
    """
    axes = _normalize_axes(axis, self.ndim, "min")
    if any(self.shape[a] == 0 for a in axes):
        raise ValueError("min: an empty axis has no minimum (shape "
                         f"{self.shape}, axis {axis})")
    return -(-self).max(axis=axes, keepdims=keepdims)


def logsumexp(self, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis`` (all axes by default), computed
    stably.

    The largest element is subtracted before ``exp`` and added back after
    ``log``, so ``exp`` cannot overflow (the trick
    :meth:`Tensor.log_softmax` uses). The gradient is the softmax of ``x``
    along ``axis``.

    Where every element along the axis is ``-inf`` (or there is none) the
    value is ``-inf``, the log of an empty sum, and the gradient is 0, not
    NaN: moving any one element by a finite amount leaves the value at
    ``-inf``. (PyTorch's rule, ``exp(x - result)``, gives NaN there.) A
    ``+inf`` element gives ``+inf``, a NaN NaN.

    Introduced in the chapter "From scalars to tensors".
    """
    axes = _normalize_axes(axis, self.ndim, "logsumexp")
    kept = tuple(1 if i in axes else n for i, n in enumerate(self.shape))
    peak = np.max(self.data, axis=axes, keepdims=True, initial=-np.inf)
    # A row whose peak is -inf is shifted by 0 instead, since -inf - -inf is
    # NaN (so are rows peaking at inf or NaN: their value is inf or NaN
    # whatever the shift).
    peak = np.where(np.isfinite(peak), peak, 0)
    # log(0) = -inf is the value we want
    with np.errstate(divide="ignore", over="ignore"):
        total = np.exp(self.data - peak).sum(axis=axes, keepdims=True)
        value = np.log(total) + peak
    empty = value == -np.inf

    def rule(g, out):
        # d logsumexp / dx = exp(x - logsumexp(x)); in a row of -inf,
        # exp(-inf - 0) = 0.
        shift = where(empty, 0, out.reshape(*kept))
        return g.reshape(*kept) * (self - shift).exp()

    result = value if keepdims else np.squeeze(value, axis=axes)
    return make_op("logsumexp", result, (self,), (rule,))


def var(self, axis=None, keepdims=False, ddof=0):
    """Variance over ``axis`` (all axes by default), as ``numpy.var``: the
    squared deviations from the mean, summed and divided by ``n - ddof``
    (``ddof=1``: the sample variance).

    Written as that formula with Tensor operations, so it needs no backward
    rule of its own. Where ``n - ddof <= 0`` the result is inf or NaN with a
    RuntimeWarning, as in NumPy.

    Introduced in the chapter "From scalars to tensors".
    """
    _refuse_an_axis_of_0d(self, axis, "var")
    axes = _normalize_axes(axis, self.ndim, "var")
    count = math.prod(self.shape[a] for a in axes)
    if count - ddof <= 0:
        warnings.warn(f"var: degrees of freedom <= 0 (n = {count}, "
                      f"ddof = {ddof})", RuntimeWarning, stacklevel=2)
    deviation = self - self.mean(axis=axes, keepdims=True)
    squares = (deviation * deviation).sum(axis=axes, keepdims=keepdims)
    return squares / max(count - ddof, 0)


def std(self, axis=None, keepdims=False, ddof=0):
    """Standard deviation: the square root of :meth:`Tensor.var`, with the
    same arguments.

    Where the spread is 0 the gradient is 0, as in PyTorch, not the NaN of
    ``var().sqrt()`` (whose slope is infinite at 0):
    ``std(c + t * v) = |t| std(v)`` has a kink there, like ``abs`` at 0, and
    0 is the gradient hellograd gives ``abs`` there.

    Introduced in the chapter "From scalars to tensors".
    """
    _refuse_an_axis_of_0d(self, axis, "std")
    axes = _normalize_axes(axis, self.ndim, "std")
    variance = self.var(axis=axes, keepdims=keepdims, ddof=ddof)
    flat = variance.data == 0

    def rule(g, out):
        # Divide by 1, not 0, also in the branch `where` discards: else its
        # inf * 0 is NaN.
        return where(flat, 0, g / (where(flat, 1, out) * 2))

    return make_op("std", np.sqrt(variance.data), (variance,), (rule,))


def squeeze(self, axis=None):
    """Remove axes of length 1 (all of them, or those in ``axis``), as
    ``numpy.squeeze``. Only the shape changes, so it is a
    :meth:`Tensor.reshape`.

    Introduced in the chapter "From scalars to tensors".
    """
    axes = _normalize_axes(axis, self.ndim, "squeeze")
    if axis is None:
        axes = [a for a in axes if self.shape[a] == 1]
    for a in axes:
        if self.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has length "
                             f"{self.shape[a]}, not 1 (shape {self.shape})")
    return self.reshape(tuple(n for i, n in enumerate(self.shape)
                              if i not in axes))


def unsqueeze(self, axis):
    """Insert an axis of length 1 at ``axis`` (an int, or a tuple for
    several), as ``numpy.expand_dims``; ``x.expand_dims(axis)`` is the same
    method under NumPy's name. Only the shape changes, so it is a
    :meth:`Tensor.reshape`.

    Introduced in the chapter "From scalars to tensors".
    """
    count = 1 if isinstance(axis, numbers.Integral) else len(tuple(axis))
    axes = _normalize_axes(axis, self.ndim + count, "unsqueeze")
    return self.reshape(np.expand_dims(self.data, axes).shape)


def flatten(self):
    """All the elements along one axis, in row-major order, as
    ``numpy.ndarray.flatten``; a 0-d tensor becomes shape ``(1,)``.

    Introduced in the chapter "From scalars to tensors".
    """
    return self.reshape(-1)


Tensor.clip = clip
Tensor.min = min
Tensor.logsumexp = logsumexp
Tensor.var = var
Tensor.std = std
Tensor.squeeze = squeeze
Tensor.unsqueeze = unsqueeze
Tensor.expand_dims = unsqueeze
Tensor.flatten = flatten
