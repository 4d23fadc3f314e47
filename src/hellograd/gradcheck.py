"""Checking reverse-mode gradients against finite differences.

Introduced in the chapter "From scalars to tensors"; every backward rule
in the library is tested with it (``tests/test_ops.py``).
"""

from __future__ import annotations

import numpy as np

from .autograd import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with
    the numeric one (chapter "From scalars to tensors")."""


def numeric_gradient(fn, inputs, index, eps=1e-6):
    """Central differences (f(x + eps) - f(x - eps)) / (2 eps) of
    ``sum(fn(*inputs))`` with respect to ``inputs[index]``, one element at a
    time, in float64 (chapter "From scalars to tensors")."""
    x = inputs[index]
    # a step of 1e-6 would be lost in float32's rounding, silently
    if x.dtype != np.float64:
        raise TypeError(f"numeric_gradient: input {index} is {x.dtype}; "
                        "differences need float64")
    gradient = np.zeros_like(x.data)
    with no_grad():
        for position in np.ndindex(x.shape):
            original = x.data[position]
            x.data[position] = original + eps
            plus = fn(*inputs).data.sum()
            x.data[position] = original - eps
            minus = fn(*inputs).data.sum()
            x.data[position] = original
            gradient[position] = (plus - minus) / (2 * eps)
    return gradient


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Compare the reverse-mode gradients of ``fn`` with central finite
    differences.

    ``fn`` takes Tensors and returns a Tensor (a non-scalar output is
    summed). Each input (a Tensor, array or number) is copied to float64 so
    the finite differences are accurate. Returns ``True``, or raises
    :class:`GradcheckError` naming the input, the element index and both
    values of the worst mismatch, where
    ``|analytic - numeric| <= atol + rtol * |numeric|`` fails. Introduced in
    the chapter "From scalars to tensors".
    """
    tensors = [
        Tensor(np.array(x.data if isinstance(x, Tensor) else x,
                        dtype=np.float64),
               requires_grad=True)
        for x in inputs
    ]
    output = fn(*tensors)
    if not isinstance(output, Tensor):
        raise TypeError("gradcheck: fn must return a Tensor, got "
                        f"{type(output).__name__}")
    if not output.requires_grad:
        raise GradcheckError("gradcheck: the output does not depend on any "
                             "input")
    output.sum().backward()
    for i, x in enumerate(tensors):
        analytic = x.grad if x.grad is not None else np.zeros_like(x.data)
        numeric = numeric_gradient(fn, tensors, i, eps)
        error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if error.size and (np.isnan(error).any() or error.max() > 0):
            nan_first = np.where(np.isnan(error), np.inf, error)
            worst = np.unravel_index(np.nanargmax(nan_first), x.shape)
            raise GradcheckError(
                f"gradcheck: input {i} (shape {x.shape}), index "
                f"{tuple(int(k) for k in worst)}: reverse mode gives "
                f"{float(analytic[worst])!r}, finite differences give "
                f"{float(numeric[worst])!r}"
            )
    return True
