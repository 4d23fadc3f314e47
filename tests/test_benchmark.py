"""benchmarks/mnist_mlp.py compares hellograd with a forward and backward pass written by hand
in NumPy; the comparison means something only if both compute the same thing."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "mnist_mlp.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("mnist_mlp", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hand_written_backward_matches_hellograd(bench, rng):
    x = rng.standard_normal((32, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=32)
    by_hand = bench.NumpyTrainer(np.random.default_rng(0))
    engine = bench.HellogradTrainer(np.random.default_rng(0))
    # lr = 0: Adam leaves the weights alone, and each .grad holds this batch's gradient.
    loss_by_hand, loss_engine = by_hand.step(x, y, 0.0), engine.step(x, y, 0.0)
    assert loss_by_hand == pytest.approx(loss_engine, rel=1e-5)
    for p, q in zip(by_hand.params, engine.model.parameters()):
        assert p.grad.dtype == q.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(by_hand.predict(x), engine.predict(x))


def test_machine_description_names_what_the_figures_depend_on(bench):
    description = bench.machine_description()
    assert {"date", "cpus", "processor", "python", "numpy"} <= description.keys()


def test_recorded_results_are_complete():
    """The figures the README and the appendix page quote: written by `make bench`."""
    record = json.loads((SCRIPT.parent / "results" / "mnist_mlp.json").read_text())
    assert record["epochs"] == 15 and record["threads"] == 1
    assert {"numpy", "hellograd"} <= record["timed"].keys()
    for runs in record["timed"].values():
        assert all(len(run["epoch_seconds"]) == 15 for run in runs)
    assert {"numpy", "hellograd"} <= record["memory"].keys()


@pytest.mark.parametrize("measure_memory", [False, True])
@pytest.mark.parametrize("framework", ["numpy", "hellograd"])
def test_a_worker_reports_its_figures(bench, framework, measure_memory, monkeypatch):
    """Two epochs on 600 random images: the figures one run of `make bench` reports."""
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((600, 784)).astype(np.float32), rng.integers(0, 10, 600),
            rng.standard_normal((200, 784)).astype(np.float32), rng.integers(0, 10, 200))
    monkeypatch.setattr(bench, "load_data", lambda: data)
    result = bench.worker(framework, epochs=2, measure_memory=measure_memory, threads=1)
    assert result["framework"] == framework and result["seconds"] > 0
    assert len(result["epoch_seconds"]) == len(result["test_accuracy"]) == 2
    assert all(0 <= a <= 1 for a in result["test_accuracy"])
    assert result["train_loss"][1] < result["train_loss"][0]
    assert len(result["epoch_peak_bytes"]) == (2 if measure_memory else 0)
    assert ("peak_bytes" in result) == measure_memory
    assert all({"internal_api", "version", "architecture"} <= blas.keys() for blas in result["blas"])
    json.dumps(result)  # it travels to the parent process as JSON


def test_runs_let_openblas_pick_its_own_kernel(bench, monkeypatch):
    """OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are not passed to the timed runs."""
    seen = {}

    def fake_run(command, env, capture_output, text):
        seen.update(env)
        return type("Done", (), {"returncode": 0, "stdout": "{}", "stderr": ""})()

    monkeypatch.setenv("OPENBLAS_CORETYPE", "Prescott")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "262144")
    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    bench.run_in_subprocess(["--worker", "numpy"], threads=1)
    assert "OPENBLAS_CORETYPE" not in seen and "OPENBLAS_L2_SIZE" not in seen
    assert seen["OPENBLAS_NUM_THREADS"] == "1"
    assert bench._kernels({"blas": [{"internal_api": "openblas", "version": "0.3", "architecture": "Haswell"}]}) \
        == "openblas 0.3 Haswell"


def test_readme_quotes_the_recorded_figures(bench):
    record = json.loads((SCRIPT.parent / "results" / "mnist_mlp.json").read_text())
    readme = (SCRIPT.parent.parent / "README.md").read_text()
    figures = bench.summarize(record)
    best, median = figures["best"], figures["median"]
    hellograd_runs = [run["seconds"] for run in record["timed"]["hellograd"]]
    quoted = [f"{best[f]:.1f} s | {median[f]:.1f} s | {record['timed'][f][0]['test_accuracy'][-1]:.2%}"
              for f in best]
    quoted += [f"{record['memory'][f]['peak_bytes'] / 1e6:.2f} MB" for f in record["memory"]]
    quoted += [f"({figures['over_torch']:.2f}×)", f"takes {figures['over_numpy']:.2f}×",
               f"({figures['memory_ratio']:.2f}×)", f"Measured {record['machine']['date']}",
               f"about {round(figures['extra_per_step'] * 1e6, -1):.0f} µs a step",
               f"(the median runs: {median['hellograd'] / median['numpy']:.2f}×)",
               f"slowest run took {max(hellograd_runs) / min(hellograd_runs) - 1:.0%} longer"]
    missing = [text for text in quoted if text not in readme]
    assert not missing, f"README.md does not quote benchmarks/results/mnist_mlp.json: {missing}"


def test_summary_of_a_record(bench):
    run = lambda seconds: {"seconds": seconds}  # noqa: E731
    record = {"epochs": 2, "timed": {"numpy": [run(10.0), run(12.0), run(11.0)],
                                     "hellograd": [run(12.0), run(13.0), run(15.0)]},
              "memory": {"numpy": {"peak_bytes": 4e6}, "hellograd": {"peak_bytes": 3e6}}}
    figures = bench.summarize(record)
    assert figures["best"] == {"numpy": 10.0, "hellograd": 12.0}
    assert figures["median"] == {"numpy": 11.0, "hellograd": 13.0}
    assert figures["steps"] == 2 * 469 and figures["over_numpy"] == 1.2 and figures["over_torch"] is None
    assert figures["extra_per_step"] == pytest.approx(2.0 / 938) and figures["memory_ratio"] == 0.75
