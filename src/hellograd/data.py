"""The MNIST digits, and mini-batches over a data set.

Introduced in the chapter "Gradient descent" (chapter 1, which reads the 3s and 7s); the
chapter "The full MNIST network" (chapter 10) trains on all of it, in mini-batches::

    import numpy as np
    from hellograd.data import load_mnist, batches
    x_train, y_train, x_test, y_test = load_mnist()
    for x_batch, y_batch in batches(x_train, y_train, 128, rng=np.random.default_rng(0)):
        ...

MNIST comes as four IDX files. An IDX file is a big-endian header (a magic number, then one
uint32 per dimension) followed by the raw uint8 values, so NumPy reads it in one go.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

# The four files, in the order `load_mnist` returns them.
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# SHA-256 of each file's *decompressed* IDX bytes: gzip wrappers differ from mirror to mirror
# (compression level, timestamps), the digits inside do not. (A name mapped to None is not
# checked; the tests swap in the checksums of their own small files.)
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Public mirrors of the gzipped files, tried in turn (`<mirror><name>.gz`).
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_IMAGES_MAGIC, _LABELS_MAGIC = 0x803, 0x801  # uint8 data with 3 dimensions, with 1 dimension
_SIDE = 28
_CHUNK = 1 << 16


def cache_dir() -> Path:
    """Where downloaded MNIST files are kept: ``$HELLOGRAD_CACHE/mnist`` if set, else
    ``$XDG_CACHE_HOME/hellograd/mnist``, else ``~/.cache/hellograd/mnist``."""
    if os.environ.get("HELLOGRAD_CACHE"):
        return Path(os.environ["HELLOGRAD_CACHE"]) / "mnist"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hellograd" / "mnist"


def load_mnist(root=None, download=True, mirrors=None, *, progress=None):
    """Load MNIST as ``(x_train, y_train, x_test, y_test)`` NumPy arrays.

    Introduced in the chapter "Gradient descent" (chapter 1). Images are uint8 of shape
    ``(n, 28, 28)`` (0 is background, 255 is ink), labels are int64 digits 0-9; 60,000 training
    and 10,000 test examples.

    Each of the four IDX files, gzipped (``.gz``) or not, is looked for in ``root``, then in
    ``$MNIST_DIR``, then in the cache folder (see :func:`cache_dir`). A file found nowhere is
    downloaded from ``mirrors`` (default :data:`MIRRORS`, tried in turn) into the cache, unless
    ``download=False``, which never touches the network. Every file is checked: its header, its
    length, and the SHA-256 of its decompressed bytes; a download is written to a temporary file
    and only renamed into the cache once it passes, so the cache never holds a partial file.

    ``progress`` reports downloads: ``None`` prints to stderr, ``False`` is silent, and a
    callable is called as ``progress(filename, bytes_done, bytes_total_or_None)``.
    """
    if mirrors is None:
        mirrors = MIRRORS
    elif isinstance(mirrors, str):  # one mirror, not a sequence of one-letter ones
        mirrors = [mirrors]
    places = [Path(p) for p in (root, os.environ.get("MNIST_DIR")) if p] + [cache_dir()]
    arrays = []
    for name in FILES:
        path = _find(name, places)
        if path is not None:
            data = _read_verified(path, name)
        elif download:
            data = _download(name, mirrors, places, progress)
        else:
            raise FileNotFoundError(_not_found(name, places, False))
        arrays.append(_parse_idx(data, name))
    x_train, y_train, x_test, y_test = arrays
    for images, labels in ((x_train, y_train), (x_test, y_test)):
        if len(images) != len(labels):
            raise ValueError(f"MNIST: {len(images)} images but {len(labels)} labels; "
                             "the files come from different data sets")
    return x_train, y_train, x_test, y_test


def batches(x, y, batch_size, shuffle=True, rng=None):
    """An iterator of ``(x_batch, y_batch)`` pairs that covers every example exactly once.

    Introduced in the chapter "The full MNIST network" (chapter 10). Batches hold
    ``batch_size`` examples along the first axis; the last one may be smaller. With
    ``shuffle=True`` (the default) the order is a fresh permutation drawn from ``rng``, which
    must then be a ``np.random.Generator``, e.g. ``np.random.default_rng(0)``: create it once
    and pass the same one every epoch, so each epoch gets a new order and the run is
    reproducible. With ``shuffle=False`` the batches are consecutive slices, in order.
    """
    if len(x) != len(y):
        raise ValueError(f"batches: x has {len(x)} examples but y has {len(y)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batches: batch_size must be a positive integer, got {batch_size!r}")
    if not shuffle:
        return ((x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size))
    if not isinstance(rng, np.random.Generator):
        raise TypeError("batches(shuffle=True) needs rng=np.random.Generator, e.g. "
                        f"np.random.default_rng(0) created once before the epochs; got {rng!r}")
    order = rng.permutation(len(x))
    chunks = (order[i:i + batch_size] for i in range(0, len(x), batch_size))
    return ((x[idx], y[idx]) for idx in chunks)


# --- finding, reading and checking files ------------------------------------------------------

def _find(name, places):
    for folder in places:
        for path in (folder / name, folder / (name + ".gz")):
            if path.is_file():
                return path
    return None


def _read_verified(path, name):
    """The decompressed bytes of a file found on disk, checked to be the expected file."""
    try:
        return _verified(path.read_bytes(), name, gzipped=path.suffix == ".gz")
    except ValueError as err:
        raise ValueError(f"{path}: {err}; delete or replace this file and load again") from None


def _verified(data, name, gzipped):
    """``data`` decompressed (if ``gzipped``), after checking it is the MNIST file ``name``:
    a valid IDX header, as many bytes as the header announces, and the known SHA-256."""
    if gzipped:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as err:
            raise ValueError(f"not a valid gzip file, truncated or corrupt ({err})") from None
    is_images = "images" in name
    magic, ndim = (_IMAGES_MAGIC, 3) if is_images else (_LABELS_MAGIC, 1)
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"truncated: {len(data)} bytes, shorter than an IDX header "
                         f"({header} bytes)")
    found_magic, *shape = (int(v) for v in np.frombuffer(data, ">u4", count=1 + ndim))
    if found_magic != magic:
        raise ValueError(f"wrong magic number {found_magic:#x} (expected {magic:#x}): "
                         f"this is not the MNIST {name} file")
    if is_images and shape[1:] != [_SIDE, _SIDE]:
        raise ValueError(f"images of {shape[1]}x{shape[2]} pixels (expected {_SIDE}x{_SIDE}): "
                         f"this is not the MNIST {name} file")
    expected = header + int(np.prod(shape))
    if len(data) < expected:
        raise ValueError(f"truncated: the header announces {shape[0]} items ({expected} bytes) "
                         f"but there are only {len(data)} bytes")
    if len(data) > expected:
        raise ValueError(f"item-count mismatch: the header announces {shape[0]} items "
                         f"({expected} bytes) but there are {len(data)} bytes")
    digest = hashlib.sha256(data).hexdigest()
    if SHA256.get(name) not in (None, digest):
        raise ValueError(f"checksum mismatch: SHA-256 of the IDX bytes is {digest}, expected "
                         f"{SHA256[name]}: corrupt, or not the MNIST {name} file")
    return data


def _parse_idx(data, name):
    """Images as uint8 (n, 28, 28), labels as int64 (n,), from IDX bytes that passed _verified."""
    if "images" in name:
        n = int.from_bytes(data[4:8], "big")
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, _SIDE, _SIDE).copy()
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


def _not_found(name, places, download_was_tried):
    looked = ", ".join(str(p) for p in places)
    if "MNIST_DIR" not in os.environ:
        looked += " ($MNIST_DIR is not set)"
    why, retry = (("every mirror failed", "check the internet connection and try again")
                  if download_was_tried else
                  ("download=False was given", "load_mnist(download=True) downloads them"))
    return (f"MNIST file {name}[.gz] not found, and {why}. Looked in: {looked}. To fix: put the "
            "four MNIST files (gzipped or not) in a folder and set MNIST_DIR to it or pass "
            f"load_mnist(root=that_folder); or {retry}.")


# --- downloading ----------------------------------------------------------------------------

def _download(name, mirrors, places, progress):
    """Fetch ``name``.gz from the first mirror that gives a verified copy into the cache, and
    return its IDX bytes. Whatever fails, no temporary file is left behind."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    report = _stderr_progress() if progress is None else (progress or (lambda *args: None))
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name + ".gz"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out, name + ".gz", report)
            data = _verified(Path(tmp).read_bytes(), name, gzipped=True)
            os.chmod(tmp, 0o644)  # mkstemp made it private; the cache is ordinary user data
            os.replace(tmp, folder / (name + ".gz"))  # atomic: the file is whole or absent
            return data
        except (OSError, ValueError, http.client.HTTPException) as err:  # URLError is an OSError
            failures.append(f"{url}: {err}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    tried = "".join(f"\n  {f}" for f in failures) or " none (mirrors is empty)"
    raise FileNotFoundError(_not_found(name, places, True) +
                            f"\nMirrors tried:{tried}")


def _fetch(url, out, label, report):
    """Copy ``url`` into the open file ``out``, calling ``report(label, done, total)``."""
    with urllib.request.urlopen(url, timeout=30) as response:
        total = response.length  # None when the server does not say
        done = 0
        report(label, done, total)
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            done += len(chunk)
            report(label, done, total)
        if total is None:  # now we know: tell the reporter it is finished
            report(label, done, done)
    if total is not None and done != total:
        raise OSError(f"download incomplete: {done} of {total} bytes")


def _stderr_progress():
    """A progress reporter that rewrites one stderr line, only when the shown text changes."""
    shown = None

    def report(label, done, total):
        nonlocal shown
        amount = f"{100 * done // total:3d}% of {_size(total)}" if total else _size(done)
        if amount != shown:
            shown = amount
            end = "\n" if total and done == total else ""
            print(f"\rdownloading {label}: {amount}", end=end, file=sys.stderr, flush=True)

    return report


def _size(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"
