"""The backward pass: topological order, reverse-mode accumulation, grad
mode.

The core is two functions, :func:`topological_order` and
:func:`backpropagate` (chapter "Topological sort"), plus :func:`unbroadcast`
(chapter "From scalars to tensors"). They walk the graph that
:func:`hellograd.make_op` records and know nothing about any particular
operation, nor about the layers later chapters add: those join the engine
through :data:`hooks`, its one seam.

Around the core: ``backward`` (what ``Tensor.backward`` calls), which keeps
gradients on the leaves and frees the graph it walked (chapter "Topological
sort"), and :func:`grad` with ``create_graph`` (chapter "Derivatives of
derivatives").
"""

from __future__ import annotations

import functools
import threading
import weakref

import numpy as np

# ----- grad mode: whether operations record the graph ---------------------

class _GradMode(threading.local):
    # A class attribute is every thread's default; reading it is cheap,
    # whereas getattr(local, name, default) on a missing name raises and
    # catches an exception inside, and every operation asks.
    grad_enabled = True


_state = _GradMode()


def is_grad_enabled() -> bool:
    """True unless we are inside :func:`no_grad`: operations then record the
    graph (chapter "Learning from data"). During a backward pass it says
    whether the pass itself is recorded (``create_graph=True``, chapter
    "Derivatives of derivatives")."""
    return _state.grad_enabled


class _GradModeSetting:
    """Sets grad mode on entry and restores the previous one on exit.

    A small class rather than a generator under
    ``@contextlib.contextmanager``: every backward pass enters one, and this
    costs a fraction as much.
    """

    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        self.previous = _state.grad_enabled
        _state.grad_enabled = self.enabled

    def __exit__(self, *exc_info):
        _state.grad_enabled = self.previous

    def __call__(self, function):
        """As a decorator (``@no_grad()``): the whole function runs in
        this mode, as with PyTorch's."""
        @functools.wraps(function)
        def in_mode(*args, **kwargs):
            with _GradModeSetting(self.enabled):
                return function(*args, **kwargs)
        return in_mode


def no_grad():
    """A context manager in which operations record no graph (chapter
    "Learning from data").

    Use it for evaluation and for optimizer updates: results have
    ``requires_grad=False`` and keep no reference to their inputs, so no
    memory is held for a backward pass that will never come. Grad mode is
    per thread.

    >>> with no_grad():
    ...     y = x * 2      # y.requires_grad is False

    It also decorates a function: ``@no_grad()`` above ``def evaluate``.
    """
    return _GradModeSetting(False)


def _grad_mode(enabled: bool):
    """Record the graph (``True``) or not (``False``) inside the ``with``
    block."""
    return _GradModeSetting(enabled)


# ----- the seam -----------------------------------------------------------

def _unchanged(value):
    return value


class EngineHooks:
    """The engine's one seam: where the layers of later chapters plug into
    the core.

    ``make_op`` hands every node it makes to ``hooks.node_made(node)``, and
    each backward pass hands the function it will call with every node's
    gradient to ``hooks.gradient_callback(on_gradient)``, using whatever
    comes back. Both return what they are given, so the core engine is just
    the core engine; anomaly mode (chapter "When autodiff fails: custom
    gradients") puts checks in their place while it is on.
    """

    __slots__ = ("node_made", "gradient_callback")

    def __init__(self):
        self.node_made = _unchanged
        self.gradient_callback = _unchanged


hooks = EngineHooks()


# ----- the core: the order, the walk, the adjoint of broadcasting ---------

def topological_order(root):
    """Every node that ``root`` depends on (and that requires grad), parents
    first.

    Iterative depth-first search: an explicit stack instead of recursion, so
    a chain of 100,000 operations needs no deep Python call stack. Visited
    nodes are keyed by ``id`` (object identity), never by the tensor's
    value. Introduced in the chapter "Topological sort".
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
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


def backpropagate(root, root_grad, on_gradient):
    """Reverse-mode sweep from ``root``; calls ``on_gradient(node, grad)``
    once per node.

    ``grad`` is the total derivative of ``root`` with respect to ``node``:
    the sum over every path, because a node used twice receives a
    contribution from each use. Each node's rules run once, after all of its
    uses (later in the topological order) have contributed. Returns the
    nodes it walked, parents first. Introduced in the chapter "Topological
    sort".
    """
    grads = {id(root): root_grad}
    order = topological_order(root)
    for node in reversed(order):
        grad = grads.pop(id(node))
        on_gradient(node, grad)
        for parent, rule in zip(node._parents, node._backward_rules):
            if not parent.requires_grad:
                continue
            share = unbroadcast(rule(grad, node), parent.shape)
            total = grads.get(id(parent))
            grads[id(parent)] = share if total is None else total + share
    return order


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the adjoint of NumPy broadcasting.

    If an input of shape (3, 1) was broadcast to (2, 3, 4) in the forward
    pass, each of its numbers was used 2 * 4 times, so its gradient is the
    sum over those uses. Works on Tensors, so it is itself differentiable.
    Introduced in the chapter "From scalars to tensors".
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    stretched = tuple(extra + i for i, n in enumerate(shape)
                      if n == 1 and grad.shape[extra + i] != 1)
    # only new leading axes (a bias added to a batch): one sum, no reshape
    if extra > 0 and not stretched:
        return grad.sum(axis=tuple(range(extra)))
    axes = tuple(range(extra)) + stretched
    summed = grad.sum(axis=axes, keepdims=True) if axes else grad
    return summed.reshape(shape) if summed.shape != shape else summed


# ----- what backward() and grad() add around the walk ---------------------

class _FreedGraph:
    """Stands in for the parents of a node whose graph a backward pass has
    freed.

    Walking through it, as a second backward pass would, raises the error
    that says why, at no cost to a backward pass that does not.
    """

    __slots__ = ()

    def __iter__(self):
        raise RuntimeError(
            "this graph was freed by the backward pass that walked it, so "
            "that the memory of its intermediate results could be given "
            "back; pass retain_graph=True to that backward() (or grad()) "
            "to keep it for a second backward pass, or to walk it again "
            "with topological_order or draw_graph"
        )

    __reversed__ = __iter__

    def __repr__(self):
        return "<graph freed by backward()>"


_FREED = _FreedGraph()


def _free(order):
    """Let every walked node that is not a leaf forget its parents and
    rules.

    What keeps an intermediate result alive is a reference to it: from a
    later node's ``_parents`` or from a rule's closure. Dropping both lets
    Python's reference counting give the arrays back as soon as nothing else
    holds them.
    """
    for node in order:
        if node._parents:
            node._parents = _FREED
            node._backward_rules = ()


def _run_backward(root, seed, on_gradient, create_graph, retain_graph):
    """One backward pass from ``root``, as ``backward()`` and ``grad()`` run
    it.

    The walk of :func:`backpropagate`, recorded if ``create_graph`` (the
    rules are Tensor operations, so recording them builds the graph of the
    gradient: chapter "Derivatives of derivatives"); its callback passed
    through the seam, :data:`hooks`; and afterwards the graph freed, unless
    ``retain_graph``.
    """
    with _grad_mode(create_graph):
        order = backpropagate(root, seed,
                              hooks.gradient_callback(on_gradient))
    if not retain_graph:
        _free(order)


def _seed_gradient(y, grad):
    from .tensor import Tensor, _wrap

    if grad is None:
        if y.data.size != 1:
            raise ValueError(
                "backward() without a gradient needs a scalar output, but "
                f"this tensor has shape {y.shape}; pass grad= of that "
                "shape, or reduce first (e.g. y.sum())"
            )
        # (np.ones_like, written in Python, costs more than the pass)
        return _wrap(np.ones(y.data.shape, y.data.dtype))
    if not isinstance(grad, Tensor):
        grad = Tensor(np.asarray(grad, dtype=y.dtype))
    if grad.shape != y.shape:
        raise ValueError(f"backward: grad has shape {grad.shape} but the "
                         f"output has shape {y.shape}")
    if grad.dtype != y.dtype:
        raise TypeError(
            f"backward: grad has dtype {grad.dtype} but the output has "
            f"dtype {y.dtype}; hellograd never converts silently, so "
            "convert it with .astype(...)"
        )
    return grad


def _check_has_graph(y, caller):
    if not y.requires_grad:
        raise RuntimeError(
            f"{caller} on a tensor that does not require grad: nothing it "
            "was computed from has requires_grad=True (a constant, such as "
            "relu's gradient), or it was computed inside no_grad()"
        )


# id(tensor) -> a weak reference whose callback removes the entry when the
# tensor dies, so an id reused by a later tensor is never mistaken for it.
# Most tensors never ask, so this costs them nothing, not even an attribute.
_retaining_grad = {}


def retain_grad(tensor):
    """Make ``backward()`` keep ``tensor.grad``, though not a leaf: what
    :meth:`Tensor.retain_grad` calls (chapter "Topological sort")."""
    key = id(tensor)
    _retaining_grad[key] = weakref.ref(
        tensor, lambda _, key=key: _retaining_grad.pop(key, None))


def backward(y, grad=None, retain_graph=False):
    """Add d(y)/d(leaf) to ``leaf.grad`` for every leaf: what
    :meth:`Tensor.backward` calls (chapter "Topological sort")."""
    _check_has_graph(y, "backward()")
    seed = _seed_gradient(y, grad)
    # Arrays already handed out as a .grad in this pass, and the caller's
    # own seed: a rule may pass the same array on to two parents (that of
    # `a + b` does), and a .grad must be an array of its own, which an
    # in-place update changes nowhere else.
    handed_out = {id(seed.data)}

    def keep(node, g):
        if node._parents and id(node) not in _retaining_grad:
            # an intermediate result: its gradient is used, then dropped
            return
        if node.grad is not None:
            # a new array: whoever holds the old one keeps it
            # (np.asarray: the sum of two 0-d arrays is a NumPy scalar)
            node.grad = np.asarray(node.grad + g.data)
            return
        array = g.data
        # Shared, or a view of another array (a broadcast view is also
        # read-only). An array that owns its memory is one the engine just
        # computed, and writeable.
        if id(array) in handed_out or array.base is not None:
            array = array.copy()
        handed_out.add(id(array))
        node.grad = array

    _run_backward(y, seed, keep, create_graph=False,
                  retain_graph=retain_graph)


def grad(y, inputs, grad_output=None, create_graph=False,
         retain_graph=None):
    """Gradients of ``y`` with respect to ``inputs``, as Tensors; ``.grad``
    is left alone.

    ``inputs`` is a Tensor (the gradient comes back as a Tensor) or a list
    of them (a list comes back). With ``create_graph=True`` the backward
    pass is itself recorded, so the gradients can be differentiated again
    (second derivatives, Hessian-vector products). An input must require
    grad; one that ``y`` does not depend on gets a zero gradient. Like
    ``backward()``, it frees the graph it walked unless
    ``retain_graph=True``, which is the default when ``create_graph=True``,
    as in PyTorch.

    Introduced in the chapter "Derivatives of derivatives".
    """
    from .tensor import Tensor

    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    _check_has_graph(y, "grad()")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            what = ("does not require grad" if isinstance(x, Tensor)
                    else "is not a Tensor")
            raise ValueError(f"grad(): input {i} {what}, so no gradient is "
                             "recorded for it; create it with "
                             "requires_grad=True")
    wanted = {id(x): None for x in inputs}

    def collect(node, g):
        if id(node) in wanted:
            wanted[id(node)] = g

    retain_graph = create_graph if retain_graph is None else retain_graph
    seed = _seed_gradient(y, grad_output)
    _run_backward(y, seed, collect, create_graph, retain_graph)
    grads = [wanted[id(x)] if wanted[id(x)] is not None
             else Tensor(np.zeros_like(x.data)) for x in inputs]
    return grads[0] if single else grads
