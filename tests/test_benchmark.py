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
    assert {"numpy", "hellograd", "jax"} <= record["timed"].keys()
    for runs in record["timed"].values():
        assert all(len(run["epoch_seconds"]) == 15 for run in runs)
        # OpenBLAS chose its own kernel, and the record says which
        assert all(run["blas"] and all(b["architecture"] for b in run["blas"]) for run in runs)
    assert {"numpy", "hellograd"} <= record["memory"].keys()


@pytest.mark.parametrize("measure_memory", [False, True])
@pytest.mark.parametrize("framework", ["numpy", "hellograd"])
def test_a_worker_reports_its_figures(bench, framework, measure_memory, monkeypatch):
    """Two epochs on 600 random images: the figures one run of `make bench` reports."""
    monkeypatch.setattr(bench, "load_data", tiny_data)
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
    best, median, over, epoch_over = (figures[k] for k in ("best", "median", "over", "epoch_over"))
    machine = record["machine"]
    quoted = [f"{best[f]:.1f} s | {median[f]:.1f} s | {record['timed'][f][0]['test_accuracy'][-1]:.2%}"
              for f in best]
    quoted += [f"{record['memory'][f]['peak_bytes'] / 1e6:.2f} MB" for f in record["memory"]]
    jax_epochs = record["timed"]["jax"][0]["epoch_seconds"]
    quoted += [f"takes {over['numpy']:.2f}×", f"(the median runs: {median['hellograd'] / median['numpy']:.2f}×",
               f"side by side: {epoch_over['numpy']:.2f}×", f"PyTorch eager ({over['torch']:.2f}×)",
               f"whole run ({over['jax']:.2f}×)", f"epoch by epoch: {epoch_over['jax']:.2f}×",
               f"({figures['memory_ratio']:.2f}×)", f"Measured {machine['date']}",
               f"about {round(figures['extra_per_step'] * 1e6, -1):.0f} µs a step",
               f"some {jax_epochs[0] - np.median(jax_epochs):.1f} s of its first epoch",
               f"NumPy {machine['numpy']}", f"PyTorch {machine['torch'].split('+')[0]}",
               f"JAX {machine['jax']}", f"Python {machine['python']}"]
    quoted += [f"{b['architecture']} kernel" for b in record["timed"]["numpy"][0]["blas"]]
    missing = [text for text in quoted if text not in readme]
    assert not missing, f"README.md does not quote benchmarks/results/mnist_mlp.json: {missing}"
    # "faster than PyTorch eager", "about as fast as JAX over the whole run", "a JAX epoch is the
    # faster", "no more memory", "not there" (the aim of at most the hand-written time)
    assert over["torch"] < 1 and 0.9 < over["jax"] < 1.1 and epoch_over["jax"] > 1
    assert figures["memory_ratio"] <= 1 and over["numpy"] > 1


def test_summary_of_a_record(bench):
    def run(*epochs):
        return {"seconds": sum(epochs), "epoch_seconds": list(epochs)}

    record = {"epochs": 2, "timed": {"numpy": [run(5.0, 5.0), run(6.0, 6.0), run(4.0, 7.0)],
                                     "hellograd": [run(6.0, 6.0), run(6.5, 6.5), run(8.0, 7.0)],
                                     "jax": [run(9.0, 3.0), run(9.0, 3.0), run(9.0, 3.0)]},
              "memory": {"numpy": {"peak_bytes": 4e6}, "hellograd": {"peak_bytes": 3e6}}}
    figures = bench.summarize(record)
    assert figures["best"] == {"numpy": 10.0, "hellograd": 12.0, "jax": 12.0}
    assert figures["median"] == {"numpy": 11.0, "hellograd": 13.0, "jax": 12.0}
    assert figures["steps"] == 2 * 469 and figures["over"] == {"numpy": 1.2, "jax": 1.0}
    # epoch by epoch: 6/5, 6/5, 6.5/6, 6.5/6, 8/4, 7/7 -> the median of 1.2, 1.2, 1.083, 1.083, 2, 1
    assert figures["epoch_over"]["numpy"] == pytest.approx((1.2 + 13 / 12) / 2)
    assert figures["epoch_over"]["jax"] == pytest.approx(np.median([6 / 9, 6 / 3, 6.5 / 9, 6.5 / 3, 8 / 9, 7 / 3]))
    assert figures["extra_per_step"] == pytest.approx(2.0 / 938) and figures["memory_ratio"] == 0.75


def tiny_data():
    rng = np.random.default_rng(1)
    return (rng.standard_normal((600, 784)).astype(np.float32), rng.integers(0, 10, 600),
            rng.standard_normal((200, 784)).astype(np.float32), rng.integers(0, 10, 200))


def test_a_served_run_works_when_told(bench, monkeypatch):
    """--serve: one line of JSON for each command; the result is a whole run's."""
    import io

    monkeypatch.setattr(bench, "load_data", tiny_data)
    replies = io.StringIO()
    bench.serve("hellograd", 2, 1, io.StringIO("start\nepoch\nepoch\nresult\n"), replies)
    start, first, second, result = map(json.loads, replies.getvalue().splitlines())
    assert result["epoch_seconds"] == [first["seconds"], second["seconds"]]
    assert result["seconds"] == pytest.approx(start["seconds"] + first["seconds"] + second["seconds"])
    assert len(result["test_accuracy"]) == 2
    with pytest.raises(ValueError, match="unknown command 'go'"):
        bench.serve("numpy", 1, 1, io.StringIO("go\n"), io.StringIO())


def test_the_runs_of_a_round_take_turns(bench, monkeypatch):
    """Every framework builds its model, then each trains epoch 1, then epoch 2...;
    whoever goes first changes from one turn to the next."""
    asked = []

    class FakeTurns:
        def __init__(self, framework, epochs, threads):
            self.framework = framework

        def ask(self, command):
            asked.append((self.framework, command))
            return {"framework": self.framework}

        def close(self):
            asked.append((self.framework, "closed"))

    monkeypatch.setattr(bench, "Turns", FakeTurns)
    results = bench.timed_round(["numpy", "hellograd", "jax"], epochs=2, threads=1)
    assert results == {f: {"framework": f} for f in ("numpy", "hellograd", "jax")}
    commands = [command for _, command in asked]
    assert commands == ["start"] * 3 + ["epoch"] * 6 + ["result"] * 3 + ["closed"] * 3
    firsts = [asked[i][0] for i in (0, 3, 6)]
    assert firsts == ["numpy", "hellograd", "jax"]  # the order rotates
    for turn in range(3):
        assert {f for f, _ in asked[3 * turn:3 * turn + 3]} == {"numpy", "hellograd", "jax"}


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_jax_computes_what_hellograd_does(bench, rng):
    """The JAX trainer's first step: the same loss, and after it the same weights."""
    x = rng.standard_normal((32, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=32)
    jax_trainer = bench.JaxTrainer(np.random.default_rng(0))
    engine = bench.HellogradTrainer(np.random.default_rng(0))
    assert jax_trainer.step(x, y, 1e-3) == pytest.approx(engine.step(x, y, 1e-3), rel=1e-5)
    # Adam's first step moves each weight by about lr = 1e-3: the same within 5% of it
    # (where a gradient is near 0, float32 rounding decides its sign).
    for p, q in zip(jax_trainer.params, engine.model.parameters()):
        np.testing.assert_allclose(np.asarray(p), q.data, rtol=0, atol=5e-5)
    np.testing.assert_array_equal(jax_trainer.predict(x), engine.predict(x))
