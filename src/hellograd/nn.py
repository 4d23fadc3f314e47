"""Layers, a loss, and saving weights: the building blocks of a network.

Introduced in the chapters "Learning from data" (``Module``, ``Linear``,
``ReLU``, ``Sequential``, ``cross_entropy``) and "The full MNIST network"
(``state_dict``, ``save`` and ``load``).

A :class:`Module` is an object whose attributes are its parameters (tensors
that require grad) and its sub-modules. Nothing is registered by hand:
``parameters()`` walks the attributes in the order they were assigned, so
the order is the same on every run and on every machine.
"""

from __future__ import annotations

import os

import numpy as np

from ._files import atomic_write, read_npz
from .autograd import is_grad_enabled
from .tensor import Tensor, _wrap, make_op


class Module:
    """Base class of every layer and network (chapter "Learning from data").

    Subclasses set their parameters and sub-modules as attributes in
    ``__init__`` and define ``forward``; calling the module calls
    ``forward``. Lists and tuples of modules or tensors are walked too.
    """

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define "
                                  "forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def named_parameters(self):
        """``(name, tensor)`` for every parameter, e.g.
        ``("layers.0.weight", W)``.

        Depth first, in attribute-assignment order. A tensor reachable twice
        (a shared weight) is listed once, under its first name (chapter
        "Learning from data").
        """
        seen = set()
        for name, tensor in _walk(self, ""):
            if id(tensor) not in seen:
                seen.add(id(tensor))
                yield name, tensor

    def parameters(self):
        """The list of tensors an optimizer should update, in a fixed order
        (chapter "Learning from data")."""
        return [tensor for _, tensor in self.named_parameters()]

    def zero_grad(self):
        """Forget the gradients of the last backward pass, which accumulate
        otherwise (chapter "Learning from data")."""
        for tensor in self.parameters():
            tensor.grad = None

    def state_dict(self):
        """A dict from parameter name to a copy of its values, NumPy arrays
        (chapter "The full MNIST network")."""
        return {name: tensor.data.copy()
                for name, tensor in self.named_parameters()}

    def load_state_dict(self, state):
        """Copy the arrays of ``state`` into the parameters, in place.

        In place, so an optimizer created earlier still holds the same
        tensors. The names must match exactly and every shape must agree;
        otherwise nothing is changed and a ``ValueError`` says what differs
        (chapter "The full MNIST network").
        """
        own = dict(self.named_parameters())
        missing = [name for name in own if name not in state]
        unexpected = [name for name in state if name not in own]
        if missing or unexpected:
            raise ValueError(
                "load_state_dict: parameter names differ from "
                f"{type(self).__name__}'s; missing: {missing or 'none'}, "
                f"unexpected: {unexpected or 'none'}"
            )
        arrays = {name: np.asarray(state[name]) for name in own}
        for name, tensor in own.items():
            array = arrays[name]
            if array.shape != tensor.shape:
                raise ValueError(
                    f"load_state_dict: '{name}' has shape {array.shape} in "
                    f"the saved weights but {tensor.shape} in the model"
                )
            if array.dtype.kind not in "fiu":
                raise ValueError(f"load_state_dict: '{name}' holds "
                                 f"{array.dtype} values, not numbers")
        for name, tensor in own.items():
            # converted to the parameter's dtype
            tensor.data[...] = arrays[name]

    def save(self, path):
        """Write ``state_dict()`` to a NumPy ``.npz`` file (chapter "The
        full MNIST network").

        The file is written beside ``path`` and renamed into place once
        complete, so a failure or Ctrl-C part-way leaves an earlier file at
        ``path`` as it was.
        """
        # a file, not a name: np.savez would add ".npz" to it
        with atomic_write(path) as file:
            np.savez(file, **self.state_dict())

    def load(self, path):
        """Read weights written by :meth:`save` into this module (checked by
        name and shape).

        Nothing changes unless the file is whole and every name and shape
        fits; otherwise a ``ValueError`` names the file and what differs
        (and ``FileNotFoundError`` if absent).
        """
        path = os.fspath(path)
        shapes = {name: tensor.shape
                  for name, tensor in self.named_parameters()}
        try:
            # arrays of other names or shapes are not read
            state = read_npz(path, shapes)
        except FileNotFoundError:
            raise FileNotFoundError(f"load: no weights file at {path!r}; "
                                    "write one with save()") from None
        except ValueError as error:
            raise ValueError(f"load: {path!r} is not a weights file "
                             f"written by save(): {error}") from None
        try:
            self.load_state_dict(state)
        except ValueError as error:
            reason = str(error).removeprefix("load_state_dict: ")
            raise ValueError(f"load: {path!r} does not fit this model: "
                             f"{reason}") from None


def _walk(value, name):
    """Depth-first ``(name, tensor)`` pairs below ``value``; see
    :meth:`Module.named_parameters`."""
    if isinstance(value, Tensor):
        if value.requires_grad:
            yield name, value
    elif isinstance(value, Module):
        prefix = name + "." if name else ""
        for attribute, child in vars(value).items():
            yield from _walk(child, prefix + attribute)
    elif isinstance(value, (list, tuple)):
        for i, child in enumerate(value):
            yield from _walk(child, f"{name}.{i}")


class Linear(Module):
    """``x @ weight + bias``: a fully connected layer (chapter "Learning
    from data").

    ``weight`` has shape ``(in_features, out_features)``, so a batch of rows
    ``x`` of shape ``(n, in_features)`` maps to ``(n, out_features)``.
    Weights start with He initialisation, normal with variance
    ``2 / in_features``, which keeps the size of the signal steady through
    ReLU layers; biases start at zero. ``rng`` is a seed or a
    ``numpy.random.Generator`` (pass one for results you can reproduce);
    ``dtype`` is float32 unless you ask otherwise.
    """

    def __init__(self, in_features, out_features, rng=None,
                 dtype=np.float32):
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError("Linear: dtype must be a floating type, not "
                            f"{dtype}")
        rng = np.random.default_rng(rng)
        scale = np.sqrt(2.0 / in_features)
        weight = rng.standard_normal((in_features, out_features)) * scale
        self.weight = Tensor(weight.astype(dtype), requires_grad=True)
        bias = np.zeros(out_features, dtype=dtype)
        self.bias = Tensor(bias, requires_grad=True)

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def __repr__(self):
        n_in, n_out = self.weight.shape
        return f"Linear({n_in}, {n_out}, dtype={self.weight.dtype})"


class ReLU(Module):
    """``max(x, 0)`` as a layer, for :class:`Sequential` (chapter "Learning
    from data")."""

    def forward(self, x):
        return x.relu()

    def __repr__(self):
        return "ReLU()"


class Sequential(Module):
    """Layers applied one after the other:
    ``Sequential(Linear(2, 16), ReLU(), Linear(16, 3))``.

    Its parameters are named ``layers.<index>.<name>`` (chapter "Learning
    from data").
    """

    def __init__(self, *layers):
        for layer in layers:
            if not isinstance(layer, Module):
                raise TypeError("Sequential: every layer must be a Module, "
                                f"got {type(layer).__name__}")
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = "".join(f"\n  ({i}): "
                        f"{layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"


def linear(x, weight, bias):
    """``x @ weight + bias`` as one operation (chapter "Learning from
    data").

    The same value and the same gradients as the composition
    ``x @ weight + bias``, written as a single node with one rule per input:
    the gradient ``g`` of the output goes back to ``x`` as ``g @ weight.T``,
    to ``weight`` as ``x.T @ g``, and to ``bias`` summed over the batch,
    because the bias was added to every row. One node instead of two is less
    bookkeeping for the engine, and the bias is added in place, without a
    second output array. ``x`` is a batch of shape ``(n, in_features)``.

    Each rule is written twice. With Tensor operations, for a backward pass
    that is itself recorded (``create_graph=True``: grad mode is then on),
    so that it can be differentiated again; and on the arrays inside,
    wrapped back into a Tensor, for one that is not: the same formula
    without building a Tensor, with its checks, for every step of it.
    """
    # arrays take weight's dtype
    x, bias = weight._lift(x, "linear"), weight._lift(bias, "linear")
    x_shape, w_shape = x.data.shape, weight.data.shape
    if len(x_shape) != 2 or len(w_shape) != 2 or x_shape[1] != w_shape[0]:
        raise ValueError(
            "linear: expected x of shape (batch, "
            f"{w_shape[0] if len(w_shape) == 2 else '?'}) for a weight of "
            f"shape {w_shape}, got x of shape {x_shape}"
        )
    if bias.data.shape != w_shape[1:]:
        raise ValueError(f"linear: bias must have shape {w_shape[1:]}, got "
                         f"{bias.shape}")
    out = x.data @ weight.data
    out += bias.data
    return make_op("linear", out, (x, weight, bias), (
        lambda g, out: g @ weight.mT if is_grad_enabled()
            else _wrap(g.data @ weight.data.T),
        lambda g, out: x.mT @ g if is_grad_enabled()
            else _wrap(x.data.T @ g.data),
        lambda g, out: g.sum(axis=0) if is_grad_enabled()
            else _wrap(g.data.sum(axis=0)),
    ))


def cross_entropy(logits, labels):
    """Mean over the batch of ``-log softmax(logits)[label]`` (chapter
    "Learning from data").

    ``logits`` is a Tensor of shape ``(n, classes)``; ``labels`` holds ``n``
    integer class indices (a NumPy array, list or Tensor). The value comes
    from the stable :meth:`~hellograd.tensor.Tensor.log_softmax`, so a large
    logit cannot overflow ``exp``. The loss is one node of the graph, whose
    backward rule is the gradient worked out in the chapter:
    ``(softmax(logits) - one_hot(labels)) / n``, written with Tensor
    operations so that it can be differentiated again, and on the arrays for
    a backward pass that is not recorded, as :func:`linear`'s rules are.
    """
    if not isinstance(logits, Tensor):
        raise TypeError("cross_entropy: logits must be a Tensor, got "
                        f"{type(logits).__name__}")
    if isinstance(labels, Tensor):
        labels = labels.data
    labels = np.asarray(labels)
    if logits.ndim != 2:
        raise ValueError("cross_entropy: logits must have shape (batch, "
                         f"classes), got {logits.shape}")
    n, classes = logits.shape
    if classes == 0:
        raise ValueError("cross_entropy: logits of shape "
                         f"{logits.shape} have no classes to choose from")
    if labels.shape != (n,):
        raise ValueError(
            f"cross_entropy: expected {n} labels of shape ({n},) for "
            f"logits of shape {logits.shape}, got labels of shape "
            f"{labels.shape}"
        )
    if labels.dtype.kind not in "iu":
        if (labels.dtype.kind != "f"
                or not np.array_equal(labels, np.round(labels))):
            raise TypeError("cross_entropy: labels must be integer class "
                            f"indices, got dtype {labels.dtype}")
        # checked before the cast, which would wrap 1e20 around
        if labels.size and not (labels.min() >= 0
                                and labels.max() < classes):
            raise ValueError(
                f"cross_entropy: labels must lie in 0..{classes - 1}, "
                f"got values from {labels.min()} to {labels.max()}")
        labels = labels.astype(np.intp)
    if n == 0:
        raise ValueError("cross_entropy: the batch is empty, so its mean "
                         "loss is undefined")
    rows = np.arange(n)
    one_hot = np.zeros_like(logits.data)
    try:
        # raises IndexError for a label >= classes
        one_hot[rows, labels] = 1
        # a negative label would silently count from the end
        in_range = labels.min() >= 0
    except IndexError:
        in_range = False
    if not in_range:
        raise ValueError(
            f"cross_entropy: labels must lie in 0..{classes - 1}, got "
            f"values from {labels.min()} to {labels.max()}"
        )
    # Recorded like any operation, so that the rule below, which uses it,
    # can itself be differentiated; the backward pass then needs only its
    # exp, not a second log_softmax.
    log_probs = logits.log_softmax(axis=1)
    picked = log_probs.data[rows, labels]
    # Divided by n in the logits' dtype: on NumPy 1.x a float32 scalar
    # divided by a Python int is float64. (ndarray.mean is slower, in
    # Python.)
    loss = -picked.sum() / picked.dtype.type(n)
    return make_op("cross_entropy", loss, (logits,), (
        lambda g, out: (log_probs.exp() - one_hot) * (g / n)
            if is_grad_enabled()
            else _wrap((np.exp(log_probs.data) - one_hot) * g.data / n),))
