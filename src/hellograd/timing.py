"""``fastest``: how long code takes, measured so that a busy machine
disturbs it little.

Book plumbing used by the chapters that time things (gradient against
evaluation, forward against reverse mode, a graph of scalars against one of
arrays). It lives in the library, not beside the notebooks, so that a
chapter opened alone (in Colab, say) still has it.
"""

from __future__ import annotations

import gc
import math
import time


def fastest(*functions, repeats=5, budget=0.2):
    """The fastest CPU time of each of ``functions`` (called with no
    arguments), in seconds.

    Returns a list with one float per function. The functions take turns,
    for at least ``repeats`` rounds and until ``budget`` seconds have been
    spent, so that a busy moment slows all of them alike, and the fastest
    run of each counts: anything else on the machine can only make a run
    slower.

    Three things are held still while timing, each because it would
    otherwise be charged to whichever run it happened to land in:

    - the time is this process's CPU time (:func:`time.process_time`), so
      other programs on the machine do not count;
    - Python's garbage collector is paused (chapter "From scalars to
      tensors" counts the collections one step of a graph of scalars sets
      off). While it is paused, a function that leaves many reference cycles
      behind slows the ones timed after it: time such a function in a call
      of its own;
    - NumPy's BLAS runs one thread (through ``threadpoolctl``, when it is
      installed), so a matrix product does not depend on what the other
      cores are doing.

    >>> fast, slow = fastest(lambda: sum(range(10)),
    ...                      lambda: sum(range(10_000)))
    >>> fast < slow
    True
    """
    if not functions:
        raise TypeError("fastest() needs at least one function to time")
    if repeats < 1:
        raise ValueError("fastest(): repeats must be at least 1, got "
                         f"{repeats}")
    one_thread = _one_blas_thread()
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        best = [math.inf] * len(functions)
        spent, rounds = 0.0, 0
        while rounds < repeats or spent < budget:
            for i, function in enumerate(functions):
                start = time.process_time()
                function()
                took = time.process_time() - start
                best[i] = min(best[i], took)
                spent += took
            rounds += 1
        return best
    finally:
        if collecting:
            gc.enable()
        if one_thread is not None:
            one_thread.restore_original_limits()


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        # timings then include BLAS's own threads; still fine on one core
        return None
    return threadpool_limits(limits=1, user_api="blas")
