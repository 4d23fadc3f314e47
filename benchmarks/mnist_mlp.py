"""How fast is hellograd? The book's MNIST training, four ways, timed and measured.

    python benchmarks/mnist_mlp.py               # or: make bench
    python benchmarks/mnist_mlp.py --epochs 1    # a quick look

One recipe for everyone, the one of the chapter "The full MNIST network": the
784-128-64-10 ReLU network with He initialisation from seed 0 (the very same
starting weights for all), Adam (lr 2e-3, betas 0.9/0.999, eps 1e-8) with the
learning rate following a cosine from 2e-3 to 0 over the run, mini-batches of 128
drawn by ``hellograd.data.batches`` from the same seeded generator, float32
throughout, 15 epochs, test accuracy after every epoch. It is trained by

* ``hellograd``: the library of the book, as chapter 10 trains it;
* ``numpy``: a forward and backward pass written by hand in NumPy, with no
  autodiff at all: the floor for any engine built on NumPy. It updates its
  weights with the same Adam (``hellograd.optim.Adam``, which only reads
  ``.grad`` and writes ``.data``), so the two differ in the forward and
  backward passes only;
* ``torch``: PyTorch in eager mode on the CPU, if it is installed;
* ``jax``: JAX, if it is installed, with the whole training step (forward,
  backward and the same Adam) compiled by ``jax.jit`` into one XLA program, so no
  Python runs between its operations. It compiles once per batch shape (the last
  batch of an epoch is short), which its first epoch pays for.

Time. Each framework trains in a fresh Python process of its own, timed from
building the model to the last epoch's test accuracy (wall clock), and the runs
take turns epoch by epoch (every framework's first epoch, then every framework's
second, in an order that rotates), so that whatever else the machine is doing
falls on all of them alike: on a shared machine, the speed of a core can change
by half within a minute. ``--repeat`` runs such a round several times; the
report keeps each framework's fastest run (as ``timeit`` does) and its median,
and, the figure least moved by the machine, the median over all epochs of the
ratio of two frameworks' epochs that ran side by side. Every run uses one BLAS
(PyTorch, XLA) thread unless ``--threads`` says otherwise: at these sizes a
second thread gains little, and whenever another program wants a core a
two-thread matrix product waits for its slower half, so a run can take many
times as long. OpenBLAS picks its own kernel for the processor, as on a reader's
machine (``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are taken out of the
runs' environment), and each run records the kernel that ran (``blas``, from
threadpoolctl).

Memory is measured in separate runs, because tracemalloc slows Python code down:
the peak of the bytes allocated through Python and NumPy (``tracemalloc``; NumPy
reports its array buffers to it) from building the model to the end of training,
and the peak of each epoch's training steps, which stays flat when each step's
graph is freed. tracemalloc does not see PyTorch's or XLA's allocators, so for
them only the peak resident size of the process (``ru_maxrss``, which also counts
the data set and the libraries) is shown.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

FRAMEWORKS = ("numpy", "hellograd", "torch", "jax")
SIZES = (784, 128, 64, 10)
BATCH_SIZE, LEARNING_RATE, EPOCHS, SEED = 128, 2e-3, 15, 0
EVAL_BATCH = 1000  # the test set is scored 1000 images at a time, the same way for everyone
TRAIN_IMAGES = 60_000


# ----- the shared parts: data, starting weights, the loop -------------------------------------

def load_data():
    """MNIST as float32 rows of 784 pixels, standardised once with the training set's mean/std."""
    from hellograd.data import load_mnist

    x_train, y_train, x_test, y_test = load_mnist()
    x_train = x_train.reshape(len(x_train), -1).astype(np.float32)
    x_test = x_test.reshape(len(x_test), -1).astype(np.float32)
    mean, std = x_train.mean(), x_train.std()
    for x in (x_train, x_test):
        x -= mean  # in place: float32 stays float32
        x /= std
    return x_train, y_train, x_test, y_test


def hellograd_model(rng):
    from hellograd import nn

    layers = []
    for n_in, n_out in zip(SIZES, SIZES[1:]):
        layers += [nn.Linear(n_in, n_out, rng), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def starting_weights(rng):
    """``[(W1, b1), (W2, b2), (W3, b3)]`` as the hellograd model starts; W has shape (in, out)."""
    model = hellograd_model(rng)
    return [(layer.weight.data.copy(), layer.bias.data.copy()) for layer in model.layers[::2]]


class Training:
    """One framework's training run in this process, an epoch at a time.

    ``seconds`` counts only the time this framework worked: building the model and
    its epochs (each of ``epoch_seconds``: the training steps and the scoring of the
    test set), so that runs can take turns epoch by epoch without the waits counting.
    """

    def __init__(self, framework, epochs, measure_memory=False, threads=1):
        self.framework, self.epochs, self.measure_memory = framework, epochs, measure_memory
        self.torch_threads = set_torch_threads(threads) if framework == "torch" else None
        if framework == "jax":
            import jax  # noqa: F401  imported before any clock starts, like the others
        self.data = load_data()
        self.rng = np.random.default_rng(SEED)
        if measure_memory:
            tracemalloc.start()
        start = time.perf_counter()
        self.trainer = TRAINERS[framework](self.rng)
        self.seconds = time.perf_counter() - start
        self.total_steps = epochs * math.ceil(len(self.data[0]) / BATCH_SIZE)
        self.steps = 0
        self.history = {"epoch_seconds": [], "train_loss": [], "test_accuracy": [],
                        "epoch_peak_bytes": []}

    def epoch(self):
        """Train one epoch and score the test set; returns the epoch's seconds."""
        from hellograd.data import batches
        from hellograd.optim import cosine_lr

        x_train, y_train, x_test, y_test = self.data
        trainer, history = self.trainer, self.history
        start = time.perf_counter()
        if self.measure_memory:
            tracemalloc.reset_peak()
        total, first = 0.0, self.steps
        for x, y in batches(x_train, y_train, BATCH_SIZE, shuffle=True, rng=self.rng):
            total += trainer.step(x, y, cosine_lr(self.steps, self.total_steps, LEARNING_RATE))
            self.steps += 1
        if self.measure_memory:
            history["epoch_peak_bytes"].append(tracemalloc.get_traced_memory()[1])
        correct = sum(int((trainer.predict(x) == y).sum())
                      for x, y in batches(x_test, y_test, EVAL_BATCH, shuffle=False))
        history["train_loss"].append(total / (self.steps - first))
        history["test_accuracy"].append(correct / len(x_test))
        seconds = time.perf_counter() - start
        history["epoch_seconds"].append(seconds)
        self.seconds += seconds
        return seconds

    def result(self):
        """The run's figures as a dict (JSON-ready)."""
        result = {"framework": self.framework, "seconds": self.seconds, **self.history}
        if self.measure_memory:
            result["peak_bytes"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        result["max_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB
        result["torch_threads"] = self.torch_threads
        result["blas"] = blas_in_use()
        return result


# ----- the trainers ---------------------------------------------------------------------

class HellogradTrainer:
    """The library of the book, used as chapter 10 uses it."""

    def __init__(self, rng):
        from hellograd import Tensor, no_grad, nn, optim

        self.Tensor, self.no_grad, self.cross_entropy = Tensor, no_grad, nn.cross_entropy
        self.model = hellograd_model(rng)
        self.optimizer = optim.Adam(self.model.parameters(), lr=LEARNING_RATE)

    def step(self, x, y, lr):
        loss = self.cross_entropy(self.model(self.Tensor(x)), y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.lr = lr
        self.optimizer.step()
        return loss.item()

    def predict(self, x):
        with self.no_grad():
            return self.model(self.Tensor(x)).data.argmax(axis=1)


class NumpyTrainer:
    """The same network with its backward pass written out by hand: no graph, no autodiff."""

    def __init__(self, rng):
        from hellograd import Tensor, optim

        # Tensors only as containers for the shared Adam: it reads .grad and updates .data.
        self.params = [Tensor(a, requires_grad=True) for pair in starting_weights(rng) for a in pair]
        self.optimizer = optim.Adam(self.params, lr=LEARNING_RATE)

    def step(self, x, y, lr):
        W1, b1, W2, b2, W3, b3 = (p.data for p in self.params)
        n = len(y)
        rows = np.arange(n)
        # forward
        z1 = x @ W1
        z1 += b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ W2
        z2 += b2
        h2 = np.maximum(z2, 0)
        z3 = h2 @ W3
        z3 += b3
        z3 -= z3.max(axis=1, keepdims=True)             # a stable softmax
        e = np.exp(z3)
        s = e.sum(axis=1, keepdims=True)
        loss = (np.log(s[:, 0]) - z3[rows, y]).sum() / n  # the mean of -log softmax[label]
        # backward: d loss / d z3 = (softmax - one_hot) / n
        d3 = e / s
        d3[rows, y] -= 1
        d3 /= n
        gW3, gb3 = h2.T @ d3, d3.sum(axis=0)
        d2 = d3 @ W3.T
        d2 *= z2 > 0
        gW2, gb2 = h1.T @ d2, d2.sum(axis=0)
        d1 = d2 @ W2.T
        d1 *= z1 > 0
        gW1, gb1 = x.T @ d1, d1.sum(axis=0)
        for p, g in zip(self.params, (gW1, gb1, gW2, gb2, gW3, gb3)):
            p.grad = g
        self.optimizer.lr = lr
        self.optimizer.step()
        return float(loss)

    def predict(self, x):
        W1, b1, W2, b2, W3, b3 = (p.data for p in self.params)
        h = np.maximum(x @ W1 + b1, 0)
        h = np.maximum(h @ W2 + b2, 0)
        return (h @ W3 + b3).argmax(axis=1)


class TorchTrainer:
    """PyTorch in eager mode on the CPU, started from the same weights."""

    def __init__(self, rng):
        import torch

        self.torch = torch
        linears = [torch.nn.Linear(n_in, n_out) for n_in, n_out in zip(SIZES, SIZES[1:])]
        with torch.no_grad():
            for linear, (W, b) in zip(linears, starting_weights(rng)):
                linear.weight.copy_(torch.from_numpy(W.T))  # torch keeps (out, in)
                linear.bias.copy_(torch.from_numpy(b))
        self.model = torch.nn.Sequential(linears[0], torch.nn.ReLU(), linears[1], torch.nn.ReLU(),
                                         linears[2])
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE,
                                          betas=(0.9, 0.999), eps=1e-8)

    def step(self, x, y, lr):
        torch = self.torch
        loss = torch.nn.functional.cross_entropy(self.model(torch.from_numpy(x)), torch.from_numpy(y))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        return loss.item()

    def predict(self, x):
        with self.torch.no_grad():
            return self.model(self.torch.from_numpy(x)).argmax(dim=1).numpy()


class JaxTrainer:
    """JAX on the CPU with the whole training step (forward, backward and Adam) compiled
    by ``jax.jit`` into one XLA program: no Python at all between the operations of a step.
    The same Adam as the others, written out (JAX itself has no optimizers)."""

    def __init__(self, rng):
        import jax
        import jax.numpy as jnp

        self.jnp = jnp
        self.params = [jnp.asarray(a) for pair in starting_weights(rng) for a in pair]
        self.m = [jnp.zeros_like(p) for p in self.params]
        self.v = [jnp.zeros_like(p) for p in self.params]
        self.steps = 0
        beta1, beta2, eps = 0.9, 0.999, 1e-8

        def logits(params, x):
            W1, b1, W2, b2, W3, b3 = params
            h = jax.nn.relu(x @ W1 + b1)
            h = jax.nn.relu(h @ W2 + b2)
            return h @ W3 + b3

        def loss_fn(params, x, y):
            log_p = jax.nn.log_softmax(logits(params, x))
            return -jnp.take_along_axis(log_p, y[:, None], axis=1).mean()

        def step(params, m, v, t, x, y, lr):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            step_size = lr / (1 - beta1 ** t)
            inv_sqrt_correction = 1 / jnp.sqrt(1 - beta2 ** t)
            m = [beta1 * m_ + (1 - beta1) * g for m_, g in zip(m, grads)]
            v = [beta2 * v_ + (1 - beta2) * g * g for v_, g in zip(v, grads)]
            params = [p - step_size * m_ / (jnp.sqrt(v_) * inv_sqrt_correction + eps)
                      for p, m_, v_ in zip(params, m, v)]
            return params, m, v, loss

        # Donated buffers: the new weights and moments reuse the old ones' memory, as the
        # in-place updates of the other trainers do.
        self._step = jax.jit(step, donate_argnums=(0, 1, 2))
        self._predict = jax.jit(lambda params, x: logits(params, x).argmax(axis=1))

    def step(self, x, y, lr):
        self.steps += 1
        t, lr = np.float32(self.steps), np.float32(lr)  # float32 throughout
        y = y.astype(np.int32)  # JAX's own integer type: int64 only with x64 switched on
        self.params, self.m, self.v, loss = self._step(self.params, self.m, self.v, t, x, y, lr)
        return float(loss)

    def predict(self, x):
        return np.asarray(self._predict(self.params, x))


TRAINERS = {"hellograd": HellogradTrainer, "numpy": NumpyTrainer, "torch": TorchTrainer,
            "jax": JaxTrainer}


# ----- measurements ---------------------------------------------------------------------------

def set_torch_threads(threads):
    import torch  # imported before any clock starts, like NumPy and hellograd

    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def worker(framework, epochs, measure_memory, threads):
    """One whole training run in this process: the figures as a dict."""
    training = Training(framework, epochs, measure_memory, threads)
    for _ in range(epochs):
        training.epoch()
    return training.result()


def serve(framework, epochs, threads, commands=sys.stdin, replies=sys.stdout):
    """A training run that works only when told: a line ``start`` loads the data and
    builds the model, ``epoch`` trains one epoch, ``result`` sends the figures; each
    reply is one line of JSON. Runs of several frameworks in their own processes can
    so take turns epoch by epoch (``timed_round``)."""
    training = None
    for line in commands:
        command = line.strip()
        if command == "start":
            training = Training(framework, epochs, threads=threads)
            reply = {"seconds": training.seconds}
        elif command == "epoch":
            reply = {"seconds": training.epoch()}
        elif command == "result":
            reply = training.result()
        else:
            raise ValueError(f"serve: unknown command {command!r}")
        print(json.dumps(reply), file=replies, flush=True)


def blas_in_use():
    """The BLAS libraries loaded in this process, as threadpoolctl sees them: which library,
    its version, the kernel it picked for this processor (``architecture``) and its threads.
    The kernel decides the speed of every matrix product, so a record names the one that ran."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl is not installed)"
    keys = ("internal_api", "version", "architecture", "num_threads")
    return [{key: info.get(key) for key in keys} for info in threadpool_info()
            if info.get("user_api") == "blas"]


# Settings that pin OpenBLAS to a kernel or a cache size of someone's choosing. The benchmark
# lets OpenBLAS detect the processor itself, as it does on a reader's machine, and records
# the kernel it chose (blas_in_use).
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def worker_command(arguments, threads):
    """The command line and environment of a worker process."""
    command = [sys.executable, __file__, *arguments]
    env = {name: value for name, value in os.environ.items() if name not in OPENBLAS_OVERRIDES}
    if threads:
        command += ["--threads", str(threads)]
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
        if threads == 1:  # XLA knows only one thread or a pool of them
            env["XLA_FLAGS"] = " ".join([env.get("XLA_FLAGS", ""),
                                         "--xla_cpu_multi_thread_eigen=false"]).strip()
    return command, env


def run_in_subprocess(arguments, threads):
    command, env = worker_command(arguments, threads)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(arguments)} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


class Turns:
    """A worker process in ``--serve`` mode, asked for one thing at a time."""

    def __init__(self, framework, epochs, threads):
        self.framework = framework
        command, env = worker_command(["--worker", framework, "--epochs", str(epochs), "--serve"],
                                      threads)
        self.process = subprocess.Popen(command, env=env, text=True, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def ask(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        if not reply:
            self.process.wait()
            sys.exit(f"{self.framework} failed at {command!r}:\n{self.process.stderr.read()}")
        return json.loads(reply)

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def timed_round(frameworks, epochs, threads, round_=0):
    """One timed run of every framework, each in its own process, the runs taking
    turns: every framework builds its model, then trains its first epoch, then its
    second, and so on, in an order that rotates, so that whatever else the machine
    does falls on all of them alike. Returns each run's figures."""
    runs = [Turns(framework, epochs, threads) for framework in frameworks]
    try:
        for turn, command in enumerate(["start"] + ["epoch"] * epochs):
            shift = (turn + round_) % len(runs)
            for run in runs[shift:] + runs[:shift]:
                run.ask(command)
        return {run.framework: run.ask("result") for run in runs}
    finally:
        for run in runs:
            run.close()


# ----- the report -----------------------------------------------------------------------------

def available(framework):
    """hellograd and NumPy always run; PyTorch and JAX when they are installed."""
    if framework in ("numpy", "hellograd"):
        return True
    return importlib.util.find_spec(framework) is not None


def machine_description():
    """What the figures depend on: the processor, the core count, the versions, the date."""
    import platform

    description = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                   "processor": _processor_name(), "python": platform.python_version(),
                   "numpy": np.__version__, "system": platform.platform()}
    for framework in ("torch", "jax"):
        if available(framework):
            description[framework] = importlib.metadata.version(framework)
    return description


def _processor_name():
    try:
        with open("/proc/cpuinfo") as file:
            return next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    except (OSError, StopIteration):
        import platform

        return platform.processor() or "unknown"


def summarize(record):
    """The figures quoted from a record (what ``--json`` writes), as a dict.

    ``best`` and ``median``: seconds per framework (the fastest and the median run);
    ``over``: for each other framework that ran, hellograd's fastest run divided by
    its fastest; ``epoch_over``: for each other framework, the
    median over all epochs of hellograd's epoch time over that framework's epoch
    time in the same round (the epochs took turns, so each pair of epochs saw the
    machine alike); ``steps``: training steps per run; ``extra_per_step``: the
    seconds hellograd's fastest run adds to each step of the hand-written one's;
    ``memory_ratio``: hellograd's peak memory over the hand-written one's.
    """
    timed, memory = record["timed"], record["memory"]
    best = {f: min(run["seconds"] for run in runs) for f, runs in timed.items()}
    median = {f: float(np.median([run["seconds"] for run in runs])) for f, runs in timed.items()}
    steps = record["epochs"] * math.ceil(TRAIN_IMAGES / BATCH_SIZE)  # the last batch is short
    others = [f for f in best if f != "hellograd"] if "hellograd" in best else []
    over = {f: best["hellograd"] / best[f] for f in others}
    epoch_over = {}
    for f in others:
        ratios = [h / o for ours, theirs in zip(timed["hellograd"], timed[f])
                  for h, o in zip(ours.get("epoch_seconds", []), theirs.get("epoch_seconds", []))]
        epoch_over[f] = float(np.median(ratios)) if ratios else None
    return {
        "best": best, "median": median, "steps": steps, "over": over, "epoch_over": epoch_over,
        "extra_per_step": (best["hellograd"] - best["numpy"]) / steps if "numpy" in over else None,
        "memory_ratio": (memory["hellograd"]["peak_bytes"] / memory["numpy"]["peak_bytes"]
                         if {"hellograd", "numpy"} <= memory.keys() else None),
    }


def _kernels(run):
    """``openblas 0.3.31 Haswell`` for each BLAS a run used (older records have none)."""
    blas = run.get("blas", [])
    if isinstance(blas, str):
        return blas
    return ", ".join(f"{b['internal_api']} {b['version']} {b['architecture']}" for b in blas) or "none"


def ratio_line(what, value, target):
    return f"{what:42s} {value:6.3f}   (target {target})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--repeat", type=int, default=3, help="whole runs per framework (the fastest counts)")
    parser.add_argument("--memory-epochs", type=int, default=3, help="epochs of the memory runs (0: none)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/PyTorch threads for every run (0: each library's own default)")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    frameworks = [f for f in args.frameworks.split(",") if f]
    if args.worker and args.serve:
        serve(args.worker, args.epochs, args.threads)
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args.epochs, args.memory, args.threads)))
        return

    for skipped in [f for f in frameworks if not available(f)]:
        print(f"({skipped} is not installed: skipped)")
    frameworks = [f for f in frameworks if available(f)]
    print(f"MNIST 784-128-64-10, Adam 2e-3 + cosine, batch {BATCH_SIZE}, {args.epochs} epochs, float32; "
          f"threads: {args.threads or 'library defaults'}; {os.cpu_count()} CPUs")
    timed = {f: [] for f in frameworks}
    for round_ in range(args.repeat):
        for framework, run in timed_round(frameworks, args.epochs, args.threads, round_).items():
            timed[framework].append(run)
            print(f"  run {round_ + 1}/{args.repeat} {framework:9s} {run['seconds']:6.1f} s   "
                  f"test accuracy {run['test_accuracy'][-1]:.4f}   BLAS {_kernels(run)}", flush=True)
    memory = {}
    if args.memory_epochs:
        for framework in [f for f in frameworks if f not in ("torch", "jax")]:
            memory[framework] = run_in_subprocess(
                ["--worker", framework, "--epochs", str(args.memory_epochs), "--memory"], args.threads)

    record = {"timed": timed, "memory": memory, "threads": args.threads, "epochs": args.epochs,
              "command": " ".join(["python", "benchmarks/mnist_mlp.py", *sys.argv[1:]]),
              "machine": machine_description()}
    figures = summarize(record)
    fastest_run = {f: min(runs, key=lambda r: r["seconds"]) for f, runs in timed.items()}
    print()
    print(f"{'':10s} {'time (s)':>9s} {'median':>7s} {'s/epoch':>8s} {'test acc':>9s} {'loss':>7s} "
          f"{'peak MB':>8s} {'epoch peaks MB':>18s} {'max RSS MB':>10s}")
    for framework, run in fastest_run.items():
        mem = memory.get(framework)
        peak = f"{mem['peak_bytes'] / 1e6:8.2f}" if mem else f"{'-':>8s}"
        epoch_peaks = " ".join(f"{b / 1e6:.2f}" for b in mem["epoch_peak_bytes"]) if mem else "-"
        print(f"{framework:10s} {run['seconds']:9.1f} {figures['median'][framework]:7.1f} "
              f"{np.median(run['epoch_seconds']):8.2f} {run['test_accuracy'][-1]:9.4f} "
              f"{run['train_loss'][-1]:7.4f} {peak} {epoch_peaks:>18s} {run['max_rss_bytes'] / 1e6:10.0f}")
    print()
    median = figures["median"]
    names = {"numpy": "NumPy by hand", "torch": "PyTorch eager", "jax": "JAX jit"}
    for other, ratio in figures["over"].items():
        print(f"{'whole training, hellograd / ' + names[other]:42s} {ratio:6.3f}   "
              f"median runs: {median['hellograd'] / median[other]:.3f}   "
              f"epoch by epoch: {figures['epoch_over'][other]:.3f}")
    if figures["memory_ratio"] is not None:
        peaks = memory["hellograd"]["epoch_peak_bytes"]
        print(ratio_line("peak memory, hellograd / NumPy by hand", figures["memory_ratio"], "<= 1.2"))
        print(f"{'hellograd epoch peaks: largest - smallest':42s} {(max(peaks) - min(peaks)) / 1e3:6.1f} kB")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(record, file, indent=1)
            file.write("\n")


if __name__ == "__main__":
    main()
