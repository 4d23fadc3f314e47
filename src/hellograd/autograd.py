"""The backward pass: topological order, reverse-mode accumulation, grad mode.

Introduced in the chapters "Building the graph" and "Topological sort".
Everything here walks the graph that :class:`hellograd.Tensor` operations record;
nothing here knows about any particular operation.
"""

from __future__ import annotations

import threading

import numpy as np

from . import anomaly

class _GradMode(threading.local):
    # A class attribute is every thread's default; reading it is cheap, whereas
    # getattr(local, name, default) on a missing name raises and catches an
    # exception inside, and every operation asks.
    grad_enabled = True


_state = _GradMode()


def is_grad_enabled() -> bool:
    """True unless we are inside :func:`no_grad`: operations then record the graph."""
    return _state.grad_enabled


class _GradModeSetting:
    """Sets grad mode on entry and restores the previous one on exit.

    A small class rather than a generator under ``@contextlib.contextmanager``:
    every backward pass enters one, and this costs a fraction as much.
    """

    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        self.previous = _state.grad_enabled
        _state.grad_enabled = self.enabled

    def __exit__(self, *exc_info):
        _state.grad_enabled = self.previous


def no_grad():
    """A context manager in which operations record no graph.

    Use it for evaluation and for optimizer updates: results have
    ``requires_grad=False`` and keep no reference to their inputs, so no memory
    is held for a backward pass that will never come.

    >>> with no_grad():
    ...     y = x * 2      # y.requires_grad is False
    """
    return _GradModeSetting(False)


def _grad_mode(enabled: bool):
    """Record the graph (``True``) or not (``False``) inside the ``with`` block."""
    return _GradModeSetting(enabled)


def topological_order(root):
    """Every node that ``root`` depends on (and that requires grad), parents first.

    Iterative depth-first search: an explicit stack instead of recursion, so a
    chain of 100,000 operations needs no deep Python call stack. Visited nodes
    are keyed by ``id`` (object identity), never by the tensor's value.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)  # all of its parents are already in `order`
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in reversed(node._parents):
            if parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the adjoint of NumPy broadcasting.

    If an input of shape (3, 1) was broadcast to (2, 3, 4) in the forward pass,
    each of its numbers was used 2 * 4 times, so its gradient is the sum over
    those uses. Works on Tensors, so it is itself differentiable.
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    stretched = tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    if extra > 0 and not stretched:  # only new leading axes (a bias added to a batch): one sum, no reshape
        return grad.sum(axis=tuple(range(extra)))
    axes = tuple(range(extra)) + stretched
    summed = grad.sum(axis=axes, keepdims=True) if axes else grad
    return summed.reshape(*shape) if summed.shape != tuple(shape) else summed


def backpropagate(root, root_grad, create_graph, on_gradient):
    """Reverse-mode sweep from ``root``; calls ``on_gradient(node, grad)`` once per node.

    ``grad`` is the total derivative of ``root`` with respect to ``node``: the sum
    over every path, because a node used twice receives a contribution from each
    use. Each node's backward rules run once, after all of its uses (later in
    the topological order) have contributed.
    """
    from .tensor import Tensor

    grads = {id(root): root_grad}
    with _grad_mode(create_graph), anomaly.backward_phase():
        for node in reversed(topological_order(root)):
            grad = grads.pop(id(node), None)
            if grad is None:
                continue
            on_gradient(node, grad)
            if node._numpy_rules and not create_graph:
                # Nobody will differentiate this pass, so the op's NumPy rules (see _make) will do.
                rules, g = node._numpy_rules, grad.data
            else:
                rules, g = node._backward_rules, grad
            for index, (parent, rule) in enumerate(zip(node._parents, rules)):
                if not parent.requires_grad:
                    continue
                parent_grad = rule(g, node)
                if not isinstance(parent_grad, Tensor):
                    parent_grad = Tensor(parent_grad)
                if anomaly.enabled:  # inside detect_anomaly(): stop at the first NaN/inf gradient
                    anomaly.on_gradient(node, index, parent_grad)
                if parent_grad.data.shape != parent.data.shape:
                    parent_grad = unbroadcast(parent_grad, parent.shape)
                previous = grads.get(id(parent))
                grads[id(parent)] = parent_grad if previous is None else previous + parent_grad


def _seed_gradient(y, grad):
    from .tensor import Tensor

    if grad is None:
        if y.data.size != 1:
            raise ValueError(
                f"backward() without a gradient needs a scalar output, but this tensor has "
                f"shape {y.shape}; pass grad= of that shape, or reduce first (e.g. y.sum())"
            )
        return Tensor(np.ones_like(y.data))
    grad = grad if isinstance(grad, Tensor) else Tensor(np.asarray(grad, dtype=y.dtype))
    if grad.shape != y.shape:
        raise ValueError(f"backward: grad has shape {grad.shape} but the output has shape {y.shape}")
    if grad.dtype != y.dtype:
        raise TypeError(
            f"backward: grad has dtype {grad.dtype} but the output has dtype {y.dtype}; "
            f"hellograd never converts silently, so convert it with .astype(...)"
        )
    return grad


def backward(y, grad=None):
    """Fill ``.grad`` of every node that ``y`` depends on; see :meth:`Tensor.backward`."""
    if not y.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: no input had "
            "requires_grad=True, or it was computed inside no_grad()"
        )

    def accumulate(node, g):
        # A new array each time, never `+=`: `g.data` may be shared with another node.
        node.grad = g.data if node.grad is None else node.grad + g.data

    backpropagate(y, _seed_gradient(y, grad), create_graph=False, on_gradient=accumulate)


def grad(y, inputs, grad_output=None, create_graph=False):
    """Gradients of ``y`` with respect to each tensor in ``inputs``, as Tensors.

    Unlike :meth:`Tensor.backward` this leaves every ``.grad`` untouched. With
    ``create_graph=True`` the backward pass is itself recorded, so the returned
    gradients can be differentiated again (second derivatives, Hessian-vector
    products). An input that ``y`` does not depend on gets a zero gradient.

    Introduced in the chapter "Derivatives of derivatives".
    """
    from .tensor import Tensor

    inputs = list(inputs)
    if not y.requires_grad:
        raise RuntimeError("grad(): the output does not require grad, so it has no graph to differentiate")
    wanted = {id(x): None for x in inputs}

    def collect(node, g):
        if id(node) in wanted:
            wanted[id(node)] = g

    backpropagate(y, _seed_gradient(y, grad_output), create_graph, collect)
    return [
        wanted[id(x)] if wanted[id(x)] is not None else Tensor(np.zeros_like(x.data))
        for x in inputs
    ]
