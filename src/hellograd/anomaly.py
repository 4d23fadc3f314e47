"""Anomaly mode: find the first operation that produces a NaN or an infinity.

Introduced in the chapter "When autodiff fails: custom gradients".

A NaN spreads: once one number is NaN, everything computed from it is NaN, and
by the time a loss prints ``nan`` the operation that started it is long gone.
Inside :func:`detect_anomaly` every operation remembers the line of *your* code
that created it, and the first result (forward pass) or gradient (backward
pass) that is not finite raises :class:`AnomalyError`, naming that operation
and that line. Outside it the engine pays one boolean check per operation.
"""

from __future__ import annotations

import contextlib
import linecache
import os
import sys

import numpy as np

# Read by `tensor._make` and `autograd.backpropagate`: the only cost when anomaly mode is off.
enabled = False
_in_backward = False  # ops made by backward rules are checked as gradients, not as forward values

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class AnomalyError(FloatingPointError):
    """Raised inside :func:`detect_anomaly` by the first op whose forward value or
    backward gradient contains NaN or inf.

    Attributes: ``op`` (the operation's name), ``phase`` (``"forward"`` or
    ``"backward"``) and ``site`` (``"file:line"`` where the op was created).
    """

    def __init__(self, message, op, phase, site):
        super().__init__(message)
        self.op, self.phase, self.site = op, phase, site


@contextlib.contextmanager
def detect_anomaly():
    """A context manager that stops at the first NaN or inf, forward or backward.

    Slower (each operation looks at its result and at the Python call stack), so
    use it to hunt a NaN down, not to train. Anomaly mode is process-wide.

    >>> with detect_anomaly():
    ...     loss = model(X).sum()   # raises AnomalyError at the first bad op
    ...     loss.backward()         # ... or at the first bad gradient

    Introduced in the chapter "When autodiff fails: custom gradients".
    """
    global enabled
    previous = enabled
    enabled = True
    try:
        yield
    finally:
        enabled = previous


class _BackwardPhase:
    # A class, not a @contextlib.contextmanager generator: every backward pass enters one.
    def __enter__(self):
        global _in_backward
        self.previous = _in_backward
        _in_backward = True

    def __exit__(self, *exc_info):
        global _in_backward
        _in_backward = self.previous


def backward_phase():
    """Used by the backward pass: while rules run, their own ops are not reported as
    forward anomalies, because the gradient they produce is checked instead."""
    return _BackwardPhase()


def creation_site():
    """``file:line: source`` of the innermost caller outside the hellograd package."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    filename, line = frame.f_code.co_filename, frame.f_lineno
    source = linecache.getline(filename, line, frame.f_globals).strip()
    return f"{filename}:{line}" + (f": {source}" if source else "")


def _describe(values):
    bad = values[~np.isfinite(values)]
    kinds = [kind for kind, present in (("nan", np.isnan(bad).any()), ("inf", np.isinf(bad).any())) if present]
    return f"{' and '.join(kinds)} in {bad.size} of {values.size} element(s)"


def on_forward(out):
    """Called by ``_make`` for every new op in anomaly mode: remember where it was
    created and check its value."""
    out._site = creation_site()
    if not _in_backward and not np.all(np.isfinite(out.data)):
        raise AnomalyError(
            f"op {out._op!r} produced {_describe(out.data)} in the forward pass; "
            f"it was created at {out._site}",
            out._op, "forward", out._site)


def on_gradient(node, index, gradient):
    """Called by the backward pass in anomaly mode with what ``node``'s backward rule
    gives its input number ``index``."""
    if not np.all(np.isfinite(gradient.data)):
        site = node._site or "<not recorded: created outside detect_anomaly()>"
        raise AnomalyError(
            f"op {node._op!r} produced {_describe(gradient.data)} in the backward pass "
            f"(the gradient for its input {index}); it was created at {site}",
            node._op, "backward", site)
