"""Optimizers: turning gradients into better parameters.

Introduced in the chapter "Learning from data". Each optimizer holds the
list of parameters it updates and a plain ``lr`` attribute, which a schedule
such as :func:`cosine_lr` may change between steps. Updates write into
``param.data`` in place, with whole-array NumPy operations into buffers
allocated once, so a step allocates no memory and a float32 parameter stays
float32.
"""

from __future__ import annotations

import math

import numpy as np

from .tensor import Tensor


class Optimizer:
    """What every optimizer shares: the parameter list, ``lr`` and
    ``zero_grad()`` (chapter "Learning from data")."""

    def __init__(self, params, lr):
        name = type(self).__name__
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: got no parameters to optimize")
        # id -> index: a tensor given twice would be stepped twice per
        # step()
        first = {}
        for i, p in enumerate(self.params):
            if (not isinstance(p, Tensor) or not p.requires_grad
                    or not p.is_leaf):
                raise TypeError(
                    f"{name}: parameter {i} must be a leaf Tensor with "
                    "requires_grad=True (an intermediate result keeps no "
                    f".grad), got {p!r:.60}"
                )
            if first.setdefault(id(p), i) != i:
                raise ValueError(f"{name}: parameters {first[id(p)]} and "
                                 f"{i} are the same tensor; pass each "
                                 "parameter once (Module.parameters() "
                                 "does)")
        if not lr >= 0:  # `not >=` also refuses NaN
            raise ValueError(f"{name}: lr must be non-negative, got {lr}")
        self.lr = lr

    def zero_grad(self):
        """Set every parameter's ``.grad`` to ``None`` before the next
        backward pass (chapter "Learning from data")."""
        for p in self.params:
            p.grad = None

    def _wrong_shape(self, p):
        """The error for a ``.grad`` of another shape, which would broadcast
        into the update."""
        i = next(i for i, q in enumerate(self.params) if q is p)
        return ValueError(f"{type(self).__name__}: parameter {i} has shape "
                          f"{p.data.shape} but its .grad has shape "
                          f"{np.shape(p.grad)}")

    def step(self):
        """Update every parameter from its ``.grad``; each optimizer defines
        it (chapter "Learning from data")."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (chapter
    "Learning from data").

    Without momentum: ``p -= lr * grad``. With momentum ``mu`` each
    parameter keeps a velocity ``v = mu * v + grad`` and moves
    ``p -= lr * v`` (the convention of PyTorch), so a steady gradient builds
    up speed ``1 / (1 - mu)``. Parameters whose ``.grad`` is ``None`` are
    left alone.
    """

    def __init__(self, params, lr, momentum=0.0):
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError("SGD: momentum must be in [0, 1), got "
                             f"{momentum}")
        self.momentum = momentum
        self.velocities = ([np.zeros_like(p.data) for p in self.params]
                           if momentum else None)
        self._scratch = [np.empty_like(p.data) for p in self.params]

    def step(self):
        """One update of every parameter that has a gradient (chapter
        "Learning from data")."""
        # Python floats keep float32 arrays float32
        lr, mu = float(self.lr), float(self.momentum)
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            if g.shape != p.data.shape:
                raise self._wrong_shape(p)
            direction = g
            if self.velocities is not None:
                direction = self.velocities[i]
                direction *= mu
                direction += g
            p.data -= np.multiply(direction, lr, out=self._scratch[i])


class Adam(Optimizer):
    """Adam (chapter "Learning from data"): momentum on the gradient and on
    its square.

    For each parameter, running averages ``m`` of the gradient and ``v`` of
    its elementwise square, corrected for starting at zero, give the step
    ``lr * m_hat / (sqrt(v_hat) + eps)``: about ``lr`` in size whatever the
    scale of the gradient. The same formula as ``torch.optim.Adam``, with
    each parameter's own step count ``t`` (``updates``): a parameter that
    gets its first gradient late is corrected as a new one.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        beta1, beta2 = betas
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        if not eps > 0:
            raise ValueError(f"Adam: eps must be positive, got {eps}")
        self.betas = (float(beta1), float(beta2))
        self.eps = float(eps)
        self.steps = 0  # calls of step()
        # Each parameter's own count of updates, its t: one that had no
        # gradient for a while is corrected as new, as in PyTorch.
        self.updates = [0] * len(self.params)
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self._scratch = [np.empty_like(p.data) for p in self.params]

    def step(self):
        """One update of every parameter that has a gradient, allocating
        nothing (chapter "Learning from data")."""
        beta1, beta2 = self.betas
        self.steps += 1
        for i, (p, m, v, s) in enumerate(
                zip(self.params, self.m, self.v, self._scratch)):
            g = p.grad
            if g is None:
                continue
            if g.shape != p.data.shape:
                raise self._wrong_shape(p)
            self.updates[i] += 1
            t = self.updates[i]
            # The bias corrections, folded into two scalars (Python
            # floats: float32 stays float32).
            step_size = float(self.lr) / (1.0 - beta1 ** t)
            inv_sqrt_correction = 1.0 / math.sqrt(1.0 - beta2 ** t)
            m *= beta1  # m = beta1 m + (1 - beta1) g
            m += np.multiply(g, 1.0 - beta1, out=s)
            v *= beta2  # v = beta2 v + (1 - beta2) g^2
            np.multiply(g, g, out=s)
            s *= 1.0 - beta2
            v += s
            np.sqrt(v, out=s)  # s = sqrt(v_hat) + eps
            s *= inv_sqrt_correction
            s += self.eps
            np.divide(m, s, out=s)  # p -= step_size * m / s
            s *= step_size
            p.data -= s


def cosine_lr(step, total_steps, base_lr, final_lr=0.0):
    """The learning rate at ``step`` of a cosine schedule (chapter "Learning
    from data").

    Starts at ``base_lr`` (step 0) and follows half a cosine down to
    ``final_lr`` at ``total_steps``; steps past the end stay at
    ``final_lr``. Set it before each update:
    ``opt.lr = cosine_lr(t, total, 2e-3)``.
    """
    if not total_steps > 0:
        raise ValueError("cosine_lr: total_steps must be positive, got "
                         f"{total_steps}")
    progress = min(max(step, 0), total_steps) / total_steps
    falloff = 1.0 + math.cos(math.pi * progress)  # from 2 down to 0
    return final_lr + 0.5 * (base_lr - final_lr) * falloff
