import gc

import pytest

from hellograd.timing import fastest


def test_one_time_per_function_each_run_at_least_repeats_times():
    calls = [0, 0]

    def first():
        calls[0] += 1

    def second():
        calls[1] += 1

    times = fastest(first, second, repeats=7, budget=0)
    assert len(times) == 2 and all(t >= 0 for t in times)
    assert calls == [7, 7]


def test_slower_code_measures_slower():
    fast, slow = fastest(lambda: sum(range(10)), lambda: sum(range(200_000)), repeats=3)
    assert fast < slow


def test_garbage_collector_and_blas_restored_even_when_a_function_raises():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [p["num_threads"] for p in threadpoolctl.threadpool_info()]
    assert gc.isenabled()

    def broken():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fastest(broken)
    assert gc.isenabled()
    assert [p["num_threads"] for p in threadpoolctl.threadpool_info()] == before


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="at least one function"):
        fastest()
    with pytest.raises(ValueError, match="repeats"):
        fastest(lambda: None, repeats=0)
