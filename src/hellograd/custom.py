"""Custom gradients: write the backward rule of a function yourself.

Introduced in the chapter "When autodiff fails: custom gradients".

Automatic differentiation differentiates the program you wrote, not the
function you meant. When the program overflows on the way (``1 / exp(x)`` at
``x = 100``), or the function has no derivative at a point (``sqrt(x**2)``
at 0), you can wrap it in :func:`custom_gradient` and say what its gradient
is. The wrapped function then becomes a single node of the graph, like
``exp``.
"""

from __future__ import annotations

import functools

import numpy as np

from .autograd import no_grad
from .tensor import Tensor, _as_array, make_op


def custom_gradient(fn):
    """Decorate ``fn(*args) -> (y, grad_fn)`` so that ``grad_fn`` is its
    backward rule.

    ``fn`` computes the value ``y`` (a Tensor or an array; it takes the
    dtype of the Tensor arguments when they share one) and returns it with
    ``grad_fn(upstream)``, which receives the gradient with respect to ``y``
    as a Tensor and returns the gradient with respect to each Tensor
    argument of ``fn``, in order: one Tensor or array per Tensor argument,
    or a single one when there is only one. ``None`` means a zero gradient.
    Arguments that are not Tensors (numbers, options) are passed through and
    get no gradient.

    ``fn`` runs under :func:`no_grad`, so the operations inside it are not
    recorded: the result is one node whose parents are the Tensor arguments.
    ``grad_fn`` runs inside the backward pass; if it uses Tensor operations
    on tensors that require grad, ``grad(..., create_graph=True)`` can
    differentiate it again.

    >>> @custom_gradient
    ... def inv_exp(x):             # 1 / exp(x), without the overflow
    ...     y = (-x).exp()
    ...     return y, lambda g: -g * y

    Introduced in the chapter "When autodiff fails: custom gradients".
    """
    name = getattr(fn, "__name__", "custom")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        inputs = tuple(a for a in args if isinstance(a, Tensor))
        with no_grad():
            result = fn(*args, **kwargs)
        if not (isinstance(result, tuple) and len(result) == 2
                and callable(result[1])):
            raise TypeError(f"custom_gradient({name}): the function must "
                            "return (value, grad_fn), got "
                            f"{type(result).__name__}")
        value, grad_fn = result
        needed = [i for i, x in enumerate(inputs) if x.requires_grad]
        # The engine asks each parent's rule in turn with the same upstream
        # gradient: call grad_fn once per backward visit and hand out its
        # parts.
        cache = {"upstream": None, "grads": None}

        def rule_for(i):
            def rule(upstream, out):
                if cache["upstream"] is not upstream:
                    grads = _as_gradients(grad_fn(upstream), inputs, name)
                    cache["upstream"], cache["grads"] = upstream, grads
                gradient = cache["grads"][i]
                # the last rule of this visit: let go of the arrays
                if needed and i == needed[-1]:
                    cache["upstream"] = cache["grads"] = None
                return gradient
            return rule

        value = _as_array(value)
        dtypes = {x.dtype for x in inputs}
        # As every op's. (On NumPy 1.x, 0-d float32 math with Python numbers
        # gives float64.)
        if len(dtypes) == 1:
            value = value.astype(dtypes.pop(), copy=False)
        rules = tuple(rule_for(i) for i in range(len(inputs)))
        return make_op(name, value, inputs, rules)

    return wrapper


def _as_gradients(grads, inputs, name):
    """Check what a ``grad_fn`` returned and turn it into one Tensor per
    input."""
    if len(inputs) == 1 and not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if not isinstance(grads, (tuple, list)) or len(grads) != len(inputs):
        got = len(grads) if isinstance(grads, (tuple, list)) else 1
        raise ValueError(f"custom_gradient({name}): grad_fn must return "
                         f"{len(inputs)} gradient(s), one per Tensor "
                         f"argument, but returned {got}")
    tensors = []
    for i, (g, x) in enumerate(zip(grads, inputs)):
        if g is None:
            g = Tensor(np.zeros_like(x.data))
        elif not isinstance(g, Tensor):
            # Copied: the .grad it may become must not be the caller's own
            # array, which an in-place update of that .grad would change.
            g = Tensor(np.array(_as_array(g), dtype=x.dtype))
        elif not (g._op or g.requires_grad):
            # a Tensor no operation made: the caller's own too
            g = Tensor(g.data.copy())
        if g.dtype != x.dtype:
            raise TypeError(f"custom_gradient({name}): grad_fn returned "
                            f"dtype {g.dtype} for argument {i}, which has "
                            f"dtype {x.dtype}")
        try:
            full = np.broadcast_shapes(g.shape, x.shape)
        except ValueError:
            full = None
        # the engine sums a broadcast gradient back down
        if full not in (g.shape, x.shape):
            raise ValueError(f"custom_gradient({name}): grad_fn returned "
                             f"shape {g.shape} for argument {i}, which has "
                             f"shape {x.shape}")
        tensors.append(g if full == g.shape else g.broadcast_to(x.shape))
    return tensors
