"""The MNIST digits, and mini-batches over a data set.

Introduced in the chapter "Gradient descent" (chapter 1, which reads the 3s
and 7s); the chapter "The full MNIST network" (chapter 10) trains on all of
it, in mini-batches::

    import numpy as np
    from hellograd.data import load_mnist, batches
    x_train, y_train, x_test, y_test = load_mnist()
    rng = np.random.default_rng(0)
    for x_batch, y_batch in batches(x_train, y_train, 128, rng=rng):
        ...

Where :func:`load_mnist` finds the four files (each gzipped or not), in this
order:

1. the folder passed as ``load_mnist(root)``;
2. the folder in the environment variable ``MNIST_DIR``, e.g.
   ``MNIST_DIR=/data/mnist make book``;
3. the cache folder, :func:`cache_dir` (``$HELLOGRAD_CACHE/mnist`` if that
   is set);
4. otherwise each missing file is downloaded into the cache from the
   mirrors, tried in turn: the base URLs in ``HELLOGRAD_MNIST_MIRRORS``
   (comma-separated, ``http(s)://`` or ``file://``, e.g.
   ``HELLOGRAD_MNIST_MIRRORS=https://example.org/mnist/``) if it is set,
   else :data:`MIRRORS`. A download prints one line per file, on stderr; all
   the downloads of one call must end within :data:`DOWNLOAD_SECONDS`, and
   none may exceed the size of the file it should be.

When the data cannot be had, :class:`MNISTUnavailable` says where it looked,
what failed and what to do. ``python -m hellograd.data`` fetches and checks
the files ahead of time (see :func:`main`).

MNIST comes as four IDX files. An IDX file is a big-endian header (a magic
number, then one uint32 per dimension) followed by the raw uint8 values. No
file is trusted: its header is read and checked against what MNIST may hold
before any memory is set aside for the values, then exactly the announced
bytes are read, and their SHA-256 compared with the known one. A download
goes to a temporary file that becomes part of the cache only once it passes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from ._files import atomic_write

# The four files, in the order `load_mnist` returns them.
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# SHA-256 of each file's *decompressed* IDX bytes: gzip wrappers differ from
# mirror to mirror (compression level, timestamps), the digits inside do
# not. (A name mapped to None is not checked; the tests swap in the
# checksums of their own small files.)
SHA256 = {
    "train-images-idx3-ubyte":
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte":
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte":
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte":
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Public mirrors of the gzipped files (`<mirror><name>.gz`), tried in turn
# when HELLOGRAD_MNIST_MIRRORS is not set.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# the longest the downloads of one load_mnist call may take, all mirrors
DOWNLOAD_SECONDS = 600
_SILENT_SECONDS = 30    # the longest a mirror may stay silent
# gzip can make incompressible data a little larger, never by a megabyte
_GZIP_SLACK = 1 << 20
_CHUNK = 1 << 16

# uint8 data with 3 dimensions, with 1 dimension
_IMAGES_MAGIC, _LABELS_MAGIC = 0x803, 0x801
_SIDE = 28


class MNISTUnavailable(FileNotFoundError):
    """The MNIST files are not on this machine and could not be downloaded
    or stored; the message says where :func:`load_mnist` looked, what
    failed, and how to fix it."""


class MNISTFileError(ValueError):
    """A file where an MNIST file should be is not that file (truncated,
    corrupt, or another file); the message names the file and what was
    expected."""


def cache_dir() -> Path:
    """Where downloaded MNIST files are kept: ``$HELLOGRAD_CACHE/mnist`` if
    set, else ``$XDG_CACHE_HOME/hellograd/mnist``, else
    ``~/.cache/hellograd/mnist``."""
    if os.environ.get("HELLOGRAD_CACHE"):
        return Path(os.environ["HELLOGRAD_CACHE"]) / "mnist"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hellograd" / "mnist"


def load_mnist(root=None, *, download=True, mirrors=None, quiet=False):
    """MNIST as ``(x_train, y_train, x_test, y_test)``: 60,000 and 10,000
    examples (chapter 1).

    Images are uint8 of shape ``(n, 28, 28)``, from 0 (background) to 255
    (ink); labels are int64 digits 0-9. The files are looked for in
    ``root``, in ``$MNIST_DIR`` and in the cache, and every one is checked.
    A missing file is downloaded into the cache from ``mirrors`` (base URLs;
    default ``$HELLOGRAD_MNIST_MIRRORS``, else :data:`MIRRORS`) with one
    line on stderr (none if ``quiet``), unless ``download=False``. Raises
    :class:`MNISTUnavailable` if the data cannot be had; the module's help
    has the details.
    """
    folders = _folders(root)
    downloads = _Downloads(mirrors, quiet) if download else None
    arrays = [_load_or_download(name, folders, downloads) for name in FILES]
    for images, labels in (arrays[:2], arrays[2:]):
        if len(images) != len(labels):
            raise MNISTFileError(f"MNIST: {len(images)} images but "
                                 f"{len(labels)} labels; the files come "
                                 "from different data sets")
    return tuple(arrays)


def batches(x, y, batch_size, *, shuffle=True, rng=None):
    """An iterator of ``(x_batch, y_batch)`` pairs that covers every example
    exactly once.

    Introduced in the chapter "The full MNIST network" (chapter 10). Batches
    hold ``batch_size`` examples along the first axis; the last one may be
    smaller. With ``shuffle=True`` (the default) the order is a fresh
    permutation drawn from ``rng``, which must then be a
    ``np.random.Generator``, e.g. ``np.random.default_rng(0)``: create it
    once and pass the same one every epoch, so each epoch gets a new order
    and the run is reproducible. With ``shuffle=False`` the batches are
    consecutive slices, in order.
    """
    if len(x) != len(y):
        raise ValueError(f"batches: x has {len(x)} examples but y has "
                         f"{len(y)}")
    if (isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1):
        raise ValueError("batches: batch_size must be a positive integer, "
                         f"got {batch_size!r}")
    if not shuffle:
        return ((x[i:i + batch_size], y[i:i + batch_size])
                for i in range(0, len(x), batch_size))
    if not isinstance(rng, np.random.Generator):
        raise TypeError("batches(shuffle=True) needs "
                        "rng=np.random.Generator, e.g. "
                        "np.random.default_rng(0) created once before the "
                        f"epochs; got {rng!r}")
    order = rng.permutation(len(x))
    chunks = (order[i:i + batch_size] for i in range(0, len(x), batch_size))
    return ((x[idx], y[idx]) for idx in chunks)


# --- where the files are --------------------------------------------------

def _folders(root):
    """The folders to look in, in order, as ``(how it was named, Path)``
    pairs. A folder the user named that does not exist is an error, not a
    reason to quietly download instead."""
    named = [("root=", root),
             ("$MNIST_DIR=", os.environ.get("MNIST_DIR") or None)]
    folders = []
    for label, folder in named:
        if folder is not None:
            folder = Path(folder).expanduser()
            if not folder.is_dir():
                raise MNISTUnavailable(f"MNIST: {label}{folder} is not a "
                                       "folder. It should be the folder "
                                       "holding the four MNIST files.")
            folders.append((label, folder))
    return folders + [("the cache ", cache_dir())]


def _find(name, folders):
    for _, folder in folders:
        for path in (folder / name, folder / (name + ".gz")):
            if path.is_file():
                return path
    return None


def _load_or_download(name, folders, downloads):
    path = _find(name, folders)
    if path is not None:
        return _load_file(path, name)
    if downloads is None:
        raise MNISTUnavailable(
            _unavailable(name, folders, "download=False was given"))
    return downloads.fetch(name, folders)


def _unavailable(name, folders, why):
    """The message of MNISTUnavailable: where we looked, what failed, what
    to do."""
    looked = ", ".join(f"{label}{folder}" for label, folder in folders)
    if not os.environ.get("MNIST_DIR"):
        looked += " ($MNIST_DIR is not set)"
    return (f"MNIST is not available: {name}[.gz] is not in {looked}, and "
            f"{why}.\nTo fix: put the four MNIST files (gzipped or not) in "
            "a folder and set MNIST_DIR=/that/folder (or pass "
            "load_mnist(root=...)), or set HELLOGRAD_MNIST_MIRRORS to "
            "comma-separated base URLs that serve them.")


# --- reading and checking a file ------------------------------------------

def _load_file(path, name):
    """The array in the MNIST file ``name`` at ``path``, checked; errors
    name the file."""
    try:
        return _read_checked(path, name, gzipped=path.suffix == ".gz")
    except ValueError as err:
        raise MNISTFileError(f"{path}: {err}. Expected the MNIST file "
                             f"{name}; delete or replace this file and "
                             "load again.") from None
    except OSError as err:
        raise MNISTUnavailable(f"MNIST: cannot read {path}: "
                               f"{err.strerror or err}") from None


def _read_checked(path, name, gzipped):
    """The array in the file at ``path``; a ValueError says what is wrong
    with it."""
    try:
        with gzip.open(path) if gzipped else open(path, "rb") as stream:
            return _read_idx(stream, name)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise ValueError("not a valid gzip file, truncated or corrupt "
                         f"({err})") from None


def _read_idx(stream, name):
    """The array in the IDX file ``name``, read from ``stream`` without
    trusting it: the header is checked before memory is set aside, then
    exactly the announced bytes are read."""
    images = "images" in name
    if images:
        magic, item_shape = _IMAGES_MAGIC, (_SIDE, _SIDE)
    else:
        magic, item_shape = _LABELS_MAGIC, ()
    most = _most_items(name)
    digest = hashlib.sha256()
    found = int.from_bytes(
        _read_exactly(stream, 4, digest, "an IDX header"), "big")
    if found != magic:
        raise ValueError(f"wrong magic number {found:#x} (expected "
                         f"{magic:#x})")
    header = _read_exactly(stream, 4 * (1 + len(item_shape)), digest,
                           "an IDX header")
    n, *shape = np.frombuffer(header, ">u4").tolist()
    if images and shape != [_SIDE, _SIDE]:
        raise ValueError(f"images of {shape[0]}x{shape[1]} pixels "
                         f"(expected {_SIDE}x{_SIDE})")
    if n > most:
        raise ValueError(f"the header announces {n:,} items (expected at "
                         f"most {most:,})")
    values = np.empty((n, *item_shape), np.uint8)
    _read_exactly(stream, values.reshape(-1), digest,
                  f"the {n:,} items the header announces")
    if stream.read(1):
        raise ValueError("item-count mismatch: there are more bytes than "
                         f"the {n:,} items the header announces")
    if SHA256.get(name) not in (None, digest.hexdigest()):
        raise ValueError("checksum mismatch: SHA-256 of the IDX bytes is "
                         f"{digest.hexdigest()}, expected {SHA256[name]}")
    return values if images else values.astype(np.int64)


def _read_exactly(stream, size_or_buffer, digest, what):
    """Read exactly ``size_or_buffer`` bytes (a count, or a buffer to fill)
    from ``stream``, adding them to ``digest``; returns the buffer."""
    buffer = size_or_buffer
    if isinstance(size_or_buffer, int):
        buffer = bytearray(size_or_buffer)
    view = memoryview(buffer).cast("B")
    done = 0
    while done < len(view):
        # a chunk at a time: gzip copies
        n = stream.readinto(view[done:done + _CHUNK])
        if not n:
            raise ValueError(f"truncated: {len(view):,} bytes expected for "
                             f"{what}, only {done:,} there")
        digest.update(view[done:done + n])
        done += n
    return buffer


# --- downloading ----------------------------------------------------------

def _mirror_list(mirrors):
    """The base URLs to try: ``mirrors`` (a list, or one comma-separated
    string) if given, else ``$HELLOGRAD_MNIST_MIRRORS``, else
    :data:`MIRRORS`."""
    if mirrors is None:
        mirrors = os.environ.get("HELLOGRAD_MNIST_MIRRORS", "") or MIRRORS
    if isinstance(mirrors, str):
        mirrors = mirrors.split(",")
    return [m.strip() for m in mirrors if m.strip()]


class _Downloads:
    """The downloads of one :func:`load_mnist` call: the mirrors, whether to
    report, and one deadline for all of them, DOWNLOAD_SECONDS after the
    first one starts."""

    def __init__(self, mirrors, quiet):
        self.mirrors = _mirror_list(mirrors)
        self.quiet = quiet
        self.deadline = None

    def fetch(self, name, folders):
        """Download ``name``.gz into the cache from the first mirror whose
        copy passes every check, and return its array. A failing mirror is
        reported and the next one tried."""
        folder = _writable_cache()
        self.deadline = self.deadline or time.monotonic() + DOWNLOAD_SECONDS
        failures = []
        for mirror in self.mirrors:
            url = mirror.rstrip("/") + "/" + name + ".gz"
            self.say(f"downloading {name}.gz from {mirror} ... ")
            try:
                array, size = _download_from(url, folder / (name + ".gz"),
                                             name, self.deadline)
            except KeyboardInterrupt:
                self.say("interrupted\n")
                raise
            except Exception as err:
                # whatever one mirror does wrong, the next may work
                reason = f"{type(err).__name__}: {err}"
                self.say(f"failed ({reason})\n")
                failures.append(f"\n  {url}: {reason}")
            else:
                self.say(f"{_size(size)}, ok\n")
                self.mirrors.remove(mirror)
                # the next files try the one that worked first
                self.mirrors.insert(0, mirror)
                return array
        why = ("no mirror had it:" + "".join(failures) if failures else
               "there are no mirrors to download it from (mirrors is "
               "empty)")
        raise MNISTUnavailable(_unavailable(name, folders, why))

    def say(self, text):
        if not self.quiet:
            print(text, end="", file=sys.stderr, flush=True)


def _download_from(url, path, name, deadline):
    """Download ``url`` to ``path``: all of it, checked, or nothing. Returns
    (array, bytes)."""
    # removed unless the block ends normally
    with atomic_write(path) as out:
        size = _fetch(url, out, most=_most_idx_bytes(name) + _GZIP_SLACK,
                      deadline=deadline)
        out.flush()
        array = _read_checked(out.name, name, gzipped=True)
    return array, size


def _fetch(url, out, most, deadline):
    """Copy ``url`` into the open file ``out``: at most ``most`` bytes,
    before ``deadline`` (a time.monotonic() value). Returns the number of
    bytes."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https", "file"):
        raise ValueError("a mirror must be an http://, https:// or file:// "
                         "URL")
    late = (f"not finished within the {DOWNLOAD_SECONDS} s allowed for "
            "downloading MNIST")
    if time.monotonic() >= deadline:
        raise TimeoutError(late)
    timeout = min(_SILENT_SECONDS, deadline - time.monotonic())
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = _announced_size(response)
        if total is not None and total > most:
            raise ValueError(f"the server announces {total:,} bytes, more "
                             f"than the {most:,} this file may have")
        done = 0
        # read1: what has arrived, however little
        while chunk := response.read1(_CHUNK):
            done += len(chunk)
            if done > most:
                raise ValueError(f"more than the {most:,} bytes this file "
                                 "may have")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{late} ({done:,} bytes so far)")
            out.write(chunk)
    if total is not None and done != total:
        raise ValueError(f"download incomplete: {done:,} of {total:,} "
                         "bytes")
    return done


def _announced_size(response):
    length = response.headers.get("Content-Length")
    return int(length) if length and length.strip().isdigit() else None


def _most_items(name):
    return 60_000 if name.startswith("train") else 10_000


def _most_idx_bytes(name):
    """The size of the largest IDX file ``name`` may be: its header, then
    its items."""
    most = _most_items(name)
    return 16 + most * _SIDE * _SIDE if "images" in name else 8 + most


def _writable_cache():
    """The cache folder, created if needed, after checking that files can be
    written there; stale temporary files of downloads killed outright are
    removed."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise MNISTUnavailable(
            f"MNIST: cannot write to the cache folder {folder} "
            f"({err.strerror or err}). Set HELLOGRAD_CACHE to a folder you "
            "can write to, or put the four MNIST files in a folder and set "
            "MNIST_DIR to it.") from None
    for part in folder.glob(".*.gz.*.part"):
        # no download is alive
        if time.time() - part.stat().st_mtime > 2 * DOWNLOAD_SECONDS:
            part.unlink(missing_ok=True)
    return folder


def _size(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


# --- from the command line ------------------------------------------------

def main(argv=None):
    """``python -m hellograd.data [--no-download] [FOLDER]``: make sure
    MNIST is here.

    Finds the four files (in FOLDER, ``$MNIST_DIR`` or the cache), downloads
    the missing ones into the cache, checks them all, and prints where they
    are. Exits with status 1 and one short message, no traceback, when the
    data cannot be had or a file is wrong.
    """
    parser = argparse.ArgumentParser(
        prog="python -m hellograd.data",
        description="Find, download if needed, and check the four MNIST "
                    "files.")
    parser.add_argument("folder", nargs="?",
                        help="a folder holding the files (optional)")
    parser.add_argument("--no-download", action="store_true",
                        help="never use the network")
    args = parser.parse_args(argv)
    try:
        x_train, _, x_test, _ = load_mnist(args.folder,
                                           download=not args.no_download)
    except (MNISTUnavailable, MNISTFileError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    folders = _folders(args.folder)
    where = sorted({str(_find(name, folders).parent) for name in FILES})
    print(f"MNIST is ready: {len(x_train):,} training and {len(x_test):,} "
          f"test images, checked, in {' and '.join(where)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
