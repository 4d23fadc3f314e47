"""Anomaly mode: find the first operation that produces a NaN or an
infinity.

Introduced in the chapter "When autodiff fails: custom gradients".

A NaN spreads: once one number is NaN, everything computed from it is NaN,
and by the time a loss prints ``nan`` the operation that started it is long
gone. Inside :func:`detect_anomaly` every operation remembers the line of
*your* code that created it, and the first result (forward pass) or gradient
(backward pass) that is not finite raises :class:`AnomalyError`, naming that
operation and that line.

It joins the engine through the engine's one seam,
:data:`hellograd.autograd.hooks`: while it is on, every new node goes
through :func:`on_forward`, and every node's gradient through
:func:`on_gradient` before the backward pass uses it. When it is off, the
engine runs without it and pays nothing for it.
"""

from __future__ import annotations

import contextlib
import linecache
import os
import re
import sys
import threading

import numpy as np

from . import autograd

# True while any detect_anomaly() block is open, in any thread
enabled = False
_open_blocks = 0
_lock = threading.Lock()
_saved_hooks = None

_NOT_RECORDED = "<not recorded: created outside detect_anomaly()>"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class AnomalyError(FloatingPointError):
    """Raised inside :func:`detect_anomaly` by the first op whose forward
    value or backward gradient contains NaN or inf.

    Attributes: ``op`` (the operation's name), ``phase`` (``"forward"`` or
    ``"backward"``) and ``site`` (``"file:line"`` where the op was created).
    Introduced in the chapter "When autodiff fails: custom gradients".
    """

    def __init__(self, message, op, phase, site):
        super().__init__(message)
        self.op, self.phase, self.site = op, phase, site


@contextlib.contextmanager
def detect_anomaly():
    """A context manager that stops at the first NaN or inf, forward or
    backward.

    Slower (each operation looks at its result and at the Python call
    stack), so use it to hunt a NaN down, not to train. Anomaly mode is
    process-wide: it is on while any thread is inside a ``detect_anomaly()``
    block.

    >>> with detect_anomaly():
    ...     loss = model(X).sum()  # raises AnomalyError at the first bad op
    ...     loss.backward()        # ... or at the first bad gradient

    Introduced in the chapter "When autodiff fails: custom gradients".
    """
    _open(+1)
    try:
        yield
    finally:
        _open(-1)


def _open(step):
    """Count the open blocks; install the checks in the engine's hooks on
    the first, and put the previous hooks back after the last."""
    global enabled, _open_blocks, _saved_hooks
    hooks = autograd.hooks
    with _lock:
        _open_blocks += step
        if _open_blocks == 1 and step == 1:
            _saved_hooks = (hooks.node_made, hooks.gradient_callback)
            hooks.node_made, hooks.gradient_callback = on_forward, _checking
        elif _open_blocks == 0:
            hooks.node_made, hooks.gradient_callback = _saved_hooks
        enabled = _open_blocks > 0


def _origin():
    """``(site, in_backward)``: ``file:line: source`` of the innermost
    caller outside the hellograd package, and whether a backward pass is
    running in this thread (then the op is part of a gradient). The call
    stack answers both, and it is each thread's own."""
    frame = sys._getframe(2)
    while frame is not None and (os.path.abspath(frame.f_code.co_filename)
                                 .startswith(_PACKAGE_DIR)):
        frame = frame.f_back
    if frame is None:
        site = "<unknown>"
    else:
        filename, line = frame.f_code.co_filename, frame.f_lineno
        source = linecache.getline(filename, line, frame.f_globals).strip()
        site = _where(filename, line) + (f": {source}" if source else "")
    walk = autograd.backpropagate.__code__
    caller = sys._getframe(2)
    while caller is not None and caller.f_code is not walk:
        caller = caller.f_back
    return site, caller is not None


def _where(filename, line):
    """``file:line``, or for a notebook cell (whose code IPython keeps in a
    numbered temporary file) "line N of a notebook cell": never the
    machine's temporary folders."""
    notebook = re.search(r"ipykernel_\d+[/\\]\d+\.py$", filename)
    if filename.startswith("<") or notebook:
        return f"line {line} of a notebook cell"
    return f"{filename}:{line}"


def _describe(values):
    bad = values[~np.isfinite(values)]
    found = (("nan", np.isnan(bad).any()), ("inf", np.isinf(bad).any()))
    kinds = " and ".join(kind for kind, present in found if present)
    return f"{kinds} in {bad.size} of {values.size} element(s)"


def on_forward(out):
    """Every new op, in anomaly mode: remember where it was created and
    check its value.

    An op that a backward rule creates is part of a gradient, which
    :func:`on_gradient` checks instead. The ``node_made`` hook of anomaly
    mode (chapter "When autodiff fails: custom gradients").
    """
    out._site, in_backward = _origin()
    if not in_backward and not np.all(np.isfinite(out.data)):
        raise AnomalyError(
            f"op {out._op!r} produced {_describe(out.data)} in the forward "
            f"pass; it was created at {out._site}",
            out._op, "forward", out._site)
    return out


def _checking(on_gradient_of_pass):
    """Wrap a backward pass's ``on_gradient(node, grad)`` so that every
    gradient is checked first; the nodes seen so far are kept to find the
    rule at fault."""
    seen = []

    def checked(node, grad):
        on_gradient(node, grad, seen)
        seen.append((node, grad))
        on_gradient_of_pass(node, grad)

    return checked


def on_gradient(node, grad, seen):
    """Check the gradient ``node`` received in a backward pass, in anomaly
    mode.

    If it is not finite, one of the rules that sent it a share is at fault:
    ``seen``, the nodes already handled with their gradients, holds every
    node that uses ``node``, and running their rules for it again finds the
    first share that is not finite, so the error names that op and input
    (chapter "When autodiff fails: custom gradients").
    """
    if np.all(np.isfinite(grad.data)):
        return
    for user, user_grad in seen:
        pairs = zip(user._parents, user._backward_rules)
        for index, (parent, rule) in enumerate(pairs):
            share = rule(user_grad, user).data if parent is node else None
            if share is not None and not np.all(np.isfinite(share)):
                site = getattr(user, "_site", None) or _NOT_RECORDED
                raise AnomalyError(
                    f"op {user._op!r} produced {_describe(share)} in the "
                    f"backward pass (the gradient for its input {index}); "
                    f"it was created at {site}",
                    user._op, "backward", site)
    site = getattr(node, "_site", None) or "<not recorded>"
    where = ("the sum of its finite gradients" if seen
             else "the gradient backward() was given")
    raise AnomalyError(f"{where} for op {node._op or 'input'!r} holds "
                       f"{_describe(grad.data)}; it was created at "
                       f"{site}", node._op, "backward", site)
