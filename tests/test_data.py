"""hellograd.data: the MNIST loader and mini-batches.

Nothing here leaves the machine: small IDX files written by the tests, the real data only
where MNIST_DIR is set, and downloads from an HTTP server on 127.0.0.1 or file:// URLs.
"""

import functools
import gzip
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import hellograd.data
from hellograd.data import FILES, MNISTFileError, MNISTUnavailable, batches, load_mnist

N_TRAIN, N_TEST = 7, 3


def idx_bytes(array, magic):
    """An IDX file: magic number, one big-endian uint32 per dimension, then the uint8 values."""
    dims = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return dims + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def make_fake_mnist(seed=0):
    """Small MNIST-shaped data: {file name: IDX bytes} and the four arrays."""
    rng = np.random.default_rng(seed)
    arrays = (rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, N_TRAIN).astype(np.int64),
              rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, N_TEST).astype(np.int64))
    files = {name: idx_bytes(a, 0x803 if a.ndim == 3 else 0x801) for name, a in zip(FILES, arrays)}
    return files, arrays


def write_files(folder, files, gzipped):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if gzipped:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Every test: an empty cache in tmp, no MNIST_DIR or HELLOGRAD_MNIST_MIRRORS (unless a
    test sets them), the real mirrors out of reach, and any attempt to open a URL off
    127.0.0.1 (or a local file:// URL) fails the test."""
    monkeypatch.setenv("HELLOGRAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    real_mnist_dir = os.environ.get("MNIST_DIR")
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.delenv("HELLOGRAD_MNIST_MIRRORS", raising=False)
    monkeypatch.setattr(hellograd.data, "MIRRORS", ())
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # a proxy setting must not reroute the server
    real_urlopen = urllib.request.urlopen

    def local_urlopen(url, *args, **kwargs):
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname == "127.0.0.1" or (parts.scheme == "file" and not parts.hostname), \
            f"a test tried to reach {url}"
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_urlopen)
    return real_mnist_dir


@pytest.fixture
def fake(monkeypatch):
    """The fake files, with the loader's expected checksums set to theirs."""
    files, arrays = make_fake_mnist()
    monkeypatch.setattr(hellograd.data, "SHA256",
                        {name: hashlib.sha256(data).hexdigest() for name, data in files.items()})
    return files, arrays


def cache():
    return hellograd.data.cache_dir()


def assert_same(loaded, arrays):
    for got, want in zip(loaded, arrays, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


# --- local files ----------------------------------------------------------------------------

@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "raw"])
def test_loads_from_root(tmp_path, fake, gzipped, capsys):
    files, arrays = fake
    write_files(tmp_path / "mnist", files, gzipped)
    loaded = load_mnist(tmp_path / "mnist", download=False)
    assert_same(loaded, arrays)
    assert [a.dtype for a in loaded] == [np.uint8, np.int64, np.uint8, np.int64]
    assert all(a.flags.writeable for a in loaded)
    assert load_mnist(str(tmp_path / "mnist"))[0].shape == (N_TRAIN, 28, 28)
    assert capsys.readouterr() == ("", "")  # quiet when the files are there


def test_looks_in_mnist_dir_then_the_cache(tmp_path, fake, monkeypatch):
    files, arrays = fake
    write_files(tmp_path / "env", files, gzipped=True)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "env"))
    assert_same(load_mnist(download=False), arrays)
    monkeypatch.delenv("MNIST_DIR")
    write_files(cache(), files, gzipped=False)
    assert_same(load_mnist(download=False), arrays)


def test_root_comes_before_mnist_dir(tmp_path, fake, monkeypatch):
    files, arrays = fake
    write_files(tmp_path / "root", files, gzipped=True)
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / FILES[0]).write_bytes(b"not mnist")  # would fail if it were read
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "env"))
    assert_same(load_mnist(tmp_path / "root", download=False), arrays)


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HELLOGRAD_CACHE", str(tmp_path / "h"))
    assert hellograd.data.cache_dir() == tmp_path / "h" / "mnist"
    monkeypatch.delenv("HELLOGRAD_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert hellograd.data.cache_dir() == tmp_path / "x" / "hellograd" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hellograd.data.cache_dir() == tmp_path / "home" / ".cache" / "hellograd" / "mnist"


def test_missing_file_without_download_says_where_it_looked(tmp_path, fake, monkeypatch):
    files, _ = fake
    del files["t10k-labels-idx1-ubyte"]
    write_files(tmp_path / "root", files, gzipped=True)
    (tmp_path / "env").mkdir()
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used"))
    with pytest.raises(MNISTUnavailable) as info:
        load_mnist(tmp_path / "root", download=False, mirrors=["http://127.0.0.1:9/"])
    assert isinstance(info.value, FileNotFoundError)  # what callers caught before
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte" in message and "download=False" in message
    for place in (tmp_path / "root", tmp_path / "env", cache()):
        assert str(place) in message
    assert "MNIST_DIR=" in message and "HELLOGRAD_MNIST_MIRRORS" in message
    assert not cache().exists()


@pytest.mark.parametrize("variable", ["root", "MNIST_DIR"])
def test_a_named_folder_that_does_not_exist_is_an_error(tmp_path, variable, monkeypatch):
    missing = tmp_path / "no-such-folder"
    if variable == "MNIST_DIR":
        monkeypatch.setenv("MNIST_DIR", str(missing))
    with pytest.raises(MNISTUnavailable, match=f"{variable}={missing} is not a folder"):
        load_mnist(missing if variable == "root" else None, mirrors=["http://127.0.0.1:9/"])
    assert not cache().exists()  # nothing was downloaded instead


def corrupt(files, name, change):
    files = dict(files)
    files[name] = change(files[name])
    return files


@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("name, change, expected", [
    ("train-images-idx3-ubyte", lambda b: b[:-100],
     "truncated: 5,488 bytes expected for the 7 items the header announces, only 5,388 there"),
    ("train-labels-idx1-ubyte", lambda b: b[:5],
     "truncated: 4 bytes expected for an IDX header, only 1 there"),
    ("t10k-images-idx3-ubyte", lambda b: b"\x00\x00\x08\x01" + b[4:],
     "wrong magic number 0x801 (expected 0x803)"),
    ("t10k-labels-idx1-ubyte", lambda b: b + b"\x03", "item-count mismatch"),
    ("train-labels-idx1-ubyte", lambda b: b[:-1] + bytes([(b[-1] + 1) % 256]),
     "checksum mismatch"),
    ("train-labels-idx1-ubyte", lambda b: b"", "truncated: 4 bytes expected for an IDX header"),
])
def test_a_bad_file_is_named_with_what_is_wrong(tmp_path, fake, gzipped, name, change, expected):
    files, _ = fake
    write_files(tmp_path, corrupt(files, name, change), gzipped)
    with pytest.raises(MNISTFileError) as info:
        load_mnist(tmp_path, download=False)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert f"{tmp_path / name}{'.gz' if gzipped else ''}: " in message and expected in message
    assert f"Expected the MNIST file {name}" in message
    assert "delete or replace this file" in message


def test_a_truncated_gzip_file_is_named(tmp_path, fake):
    files, _ = fake
    write_files(tmp_path, files, gzipped=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(MNISTFileError, match="t10k-images-idx3-ubyte.gz: not a valid gzip file"):
        load_mnist(tmp_path, download=False)


def test_images_must_be_28_by_28(tmp_path, fake, monkeypatch):
    files, _ = fake
    files = dict(files, **{"train-images-idx3-ubyte": idx_bytes(np.zeros((7, 14, 56)), 0x803)})
    monkeypatch.setitem(hellograd.data.SHA256, "train-images-idx3-ubyte", None)
    write_files(tmp_path, files, gzipped=False)
    with pytest.raises(MNISTFileError, match="14x56 pixels"):
        load_mnist(tmp_path, download=False)


def test_images_and_labels_must_agree_in_number(tmp_path, fake, monkeypatch):
    files, _ = fake
    files = dict(files, **{"t10k-labels-idx1-ubyte": idx_bytes(np.zeros(4), 0x801)})
    monkeypatch.setitem(hellograd.data.SHA256, "t10k-labels-idx1-ubyte", None)
    write_files(tmp_path, files, gzipped=False)
    with pytest.raises(MNISTFileError, match="3 images but 4 labels"):
        load_mnist(tmp_path, download=False)


# --- untrusted sizes: checked before memory is spent on them --------------------------------

def gzip_bomb(first, gigabytes=1):
    """``first`` gzipped, followed by gzip members that expand to ``gigabytes`` of zeros: about
    1 MB per GB (gzip files may be a sequence of members, read one after the other)."""
    return gzip.compress(first) + megabyte_of_zeros() * (1024 * gigabytes)


@functools.cache
def megabyte_of_zeros():
    return gzip.compress(bytes(1 << 20), mtime=0)  # about 1 kB


def peak_memory(function):
    """The most memory Python allocated while ``function()`` ran (bytes), and its exception."""
    tracemalloc.start()
    try:
        function()
    except Exception as err:
        error = err
    else:
        error = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, error


def test_a_gzip_bomb_after_a_good_header_is_refused_with_bounded_memory(tmp_path, fake):
    files, _ = fake
    write_files(tmp_path, files, gzipped=True)
    bomb = gzip_bomb(files["train-images-idx3-ubyte"], gigabytes=1)
    assert len(bomb) < 2_000_000
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(bomb)
    start = time.perf_counter()
    peak, error = peak_memory(lambda: load_mnist(tmp_path, download=False))
    assert isinstance(error, MNISTFileError) and "item-count mismatch" in str(error)
    assert peak < 5_000_000  # inflating it whole would take a gigabyte
    assert time.perf_counter() - start < 10  # inflating it whole takes about as long again


@pytest.mark.parametrize("gzipped", [True, False], ids=["gz-bomb", "raw"])
@pytest.mark.parametrize("name, dims, expected", [
    ("train-images-idx3-ubyte", [4_000_000_000, 28, 28],
     "the header announces 4,000,000,000 items (expected at most 60,000)"),
    ("t10k-labels-idx1-ubyte", [10_001], "announces 10,001 items (expected at most 10,000)"),
    ("t10k-images-idx3-ubyte", [10, 50_000, 50_000], "50000x50000 pixels (expected 28x28)"),
])
def test_a_header_announcing_too_much_is_refused_before_allocating(tmp_path, fake, gzipped,
                                                                   name, dims, expected):
    files, _ = fake
    write_files(tmp_path, files, gzipped)
    header = np.array([0x803 if "images" in name else 0x801, *dims], dtype=">u4").tobytes()
    if gzipped:
        (tmp_path / (name + ".gz")).write_bytes(gzip_bomb(header, gigabytes=1))
    else:
        (tmp_path / name).write_bytes(header + bytes(1000))
    peak, error = peak_memory(lambda: load_mnist(tmp_path, download=False))
    assert isinstance(error, MNISTFileError) and expected in str(error), error
    assert peak < 1_000_000


# --- the real data, where it is available ---------------------------------------------------

def test_the_real_mnist(offline):
    if not offline:
        pytest.skip("MNIST_DIR is not set: export MNIST_DIR=/path/to/mnist to test the real data")
    x_train, y_train, x_test, y_test = load_mnist(offline, download=False)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == x_test.dtype == np.uint8
    assert y_train.dtype == y_test.dtype == np.int64
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842,
                                             5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert x_train.max() == 255 and x_train.min() == 0


# --- batches --------------------------------------------------------------------------------

def test_batches_cover_every_example_once():
    x, y = np.arange(10 * 3).reshape(10, 3), np.arange(10)
    got = list(batches(x, y, 4, rng=np.random.default_rng(0)))
    assert [len(xb) for xb, _ in got] == [4, 4, 2]
    seen = np.concatenate([yb for _, yb in got])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    for xb, yb in got:
        np.testing.assert_array_equal(xb, x[yb])  # rows and labels stay paired


def test_batches_are_reproducible_and_change_every_epoch():
    x, y = np.zeros((50, 2)), np.arange(50)

    def epoch(rng):
        return np.concatenate([yb for _, yb in batches(x, y, 8, rng=rng)]).tolist()

    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    first_a, first_b = epoch(rng_a), epoch(rng_b)
    assert first_a == first_b
    assert epoch(rng_a) != first_a


def test_batches_in_order_without_shuffle():
    x, y = np.arange(7), np.arange(7) * 10
    got = [(xb.tolist(), yb.tolist()) for xb, yb in batches(x, y, 3, shuffle=False)]
    assert got == [([0, 1, 2], [0, 10, 20]), ([3, 4, 5], [30, 40, 50]), ([6], [60])]


def test_batches_bad_arguments():
    x, y = np.zeros((5, 2)), np.zeros(5)
    with pytest.raises(TypeError, match="default_rng"):
        batches(x, y, 2)
    with pytest.raises(ValueError, match="5 examples but y has 4"):
        batches(x, y[:4], 2, shuffle=False)
    with pytest.raises(ValueError, match="batch_size"):
        batches(x, y, 0, shuffle=False)
    with pytest.raises(TypeError):  # a generator passed where `shuffle` was is not taken as True
        batches(x, y, 2, np.random.default_rng(0))


# --- downloads, from a server on 127.0.0.1 --------------------------------------------------

class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder, and a few misbehaving mirrors:
    /liar/ promises more bytes than it sends, then hangs up; /nolength/ sends good/'s files
    without saying how long they are; /huge/ announces a terabyte; /endless/ sends zeros without
    end; /slow/ sends one byte every 20 ms."""

    def do_GET(self):
        if self.path.startswith("/liar/"):
            self.send(b"\x1f\x8b" + bytes(100), length=100000)
        elif self.path.startswith("/nolength/"):
            self.send((Path(self.directory) / "good" / self.path[10:]).read_bytes(), length=None)
        elif self.path.startswith("/huge/"):
            self.send(b"", length=10**12)
        elif self.path.startswith(("/endless/", "/slow/")):
            self.send_response(200)
            self.end_headers()
            slow = self.path.startswith("/slow/")
            deadline = time.monotonic() + 10  # never outlive the test for long
            try:
                while time.monotonic() < deadline:
                    self.wfile.write(b"\x1f" if slow else bytes(1 << 16))
                    self.wfile.flush()
                    time.sleep(0.02 if slow else 0)
            except OSError:  # the client hung up, as it should
                pass
        else:
            return super().do_GET()
        self.close_connection = True

    def send(self, body, length):
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def www(tmp_path, fake):
    """A folder of mirrors: good/ (the fake files), corrupt/ (gzipped files with the wrong
    contents), truncated/ (cut-off gzip files), bomb/ (a gzip bomb after a good header)."""
    files, _ = fake
    root = tmp_path / "www"
    write_files(root / "good", files, gzipped=True)
    write_files(root / "corrupt", {n: b[:-1] + b"\x00" for n, b in files.items()}, gzipped=True)
    (root / "truncated").mkdir()
    (root / "bomb").mkdir()
    for name in files:
        good = (root / "good" / (name + ".gz")).read_bytes()
        (root / "truncated" / (name + ".gz")).write_bytes(good[:-30])
        (root / "bomb" / (name + ".gz")).write_bytes(gzip_bomb(files[name], gigabytes=1))
    return root


@pytest.fixture
def server(www):
    """The base URL of an HTTP server on 127.0.0.1 serving ``www`` with ``Handler``; a folder
    that is not there (missing/) is a 404."""
    handler = functools.partial(Handler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cached_names():
    """Every file in the cache, hidden temporary files included."""
    return sorted(p.name for p in cache().iterdir()) if cache().exists() else []


ALL_GZ = sorted(name + ".gz" for name in FILES)


def test_download_tries_every_mirror_in_turn(server, www, fake, monkeypatch, capsys):
    _, arrays = fake
    mirrors = ["ftp://127.0.0.1/mnist/", "/not/a/url/", f"http://127.0.0.1:{closed_port()}/",
               f"{server}/missing/", (www / "missing").as_uri() + "/", f"{server}/corrupt/",
               f"{server}/good"]
    assert_same(load_mnist(mirrors=mirrors), arrays)
    assert cached_names() == ALL_GZ  # nothing else, no temporary file
    lines = capsys.readouterr().err.splitlines()
    first = [line for line in lines if "train-images-idx3-ubyte.gz" in line]
    assert len(first) == len(mirrors)  # one line per mirror tried
    assert "ftp://127.0.0.1/mnist/ ... failed (ValueError: a mirror must be an http://" in first[0]
    assert "404" in first[3] and "No such file" in first[4] and "checksum mismatch" in first[5]
    assert first[-1].endswith(" kB, ok")
    # from now on the cache is enough, without the network, and nothing is printed
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used"))
    assert_same(load_mnist(download=False), arrays)
    assert capsys.readouterr() == ("", "")


def test_download_reports_one_line_per_file(server, capsys):
    load_mnist(mirrors=[f"{server}/good/"])
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) == 4
    for line, name in zip(lines, FILES):
        size = (cache() / (name + ".gz")).stat().st_size
        assert line == f"downloading {name}.gz from {server}/good/ ... {size / 1e3:.0f} kB, ok"
    load_mnist()
    assert capsys.readouterr() == ("", "")


def test_quiet_downloads_print_nothing(server, capsys):
    load_mnist(mirrors=[f"{server}/good/"], quiet=True)
    assert capsys.readouterr() == ("", "")
    assert cached_names() == ALL_GZ


def test_a_file_url_mirror(www, fake):
    _, arrays = fake
    assert_same(load_mnist(mirrors=[(www / "good").as_uri()], quiet=True), arrays)
    assert cached_names() == ALL_GZ


def test_mirrors_from_the_environment(server, fake, monkeypatch):
    _, arrays = fake
    monkeypatch.setenv("HELLOGRAD_MNIST_MIRRORS", f" {server}/missing/ ,{server}/good/,")
    assert_same(load_mnist(quiet=True), arrays)
    # mirrors= wins over the environment
    monkeypatch.setenv("HELLOGRAD_CACHE", str(cache().parent / "other"))
    with pytest.raises(MNISTUnavailable, match="corrupt/train-images"):
        load_mnist(mirrors=f"{server}/corrupt/", quiet=True)


def test_only_missing_files_are_downloaded(tmp_path, server, fake, capsys):
    files, arrays = fake
    write_files(tmp_path / "root", {n: files[n] for n in FILES[:3]}, gzipped=False)
    loaded = load_mnist(tmp_path / "root", mirrors=[f"{server}/good/"])
    assert_same(loaded, arrays)
    assert "t10k-labels-idx1-ubyte.gz" in capsys.readouterr().err
    assert cached_names() == ["t10k-labels-idx1-ubyte.gz"]


@pytest.mark.parametrize("mirror, reason", [
    ("corrupt", "checksum mismatch"),
    ("truncated", "not a valid gzip file"),
    ("liar", "download incomplete: 102 of 100,000 bytes"),
    ("missing", "HTTPError: HTTP Error 404"),
    ("bomb", "item-count mismatch"),
    ("huge", "the server announces 1,000,000,000,000 bytes, more than the 48,088,592 "),
])
def test_a_bad_download_is_rejected_and_nothing_is_kept(server, mirror, reason):
    url = f"{server}/{mirror}/"
    with pytest.raises(MNISTUnavailable) as info:
        load_mnist(mirrors=[url], quiet=True)
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and "no mirror had it" in message
    assert f"{url}train-images-idx3-ubyte.gz: " in message and reason in message
    assert "MNIST_DIR=" in message and "HELLOGRAD_MNIST_MIRRORS" in message
    assert len(message.splitlines()) == 3  # short: what, the one mirror, how to fix
    assert cached_names() == []


def test_a_download_without_end_is_cut_at_the_size_bound(server, monkeypatch):
    monkeypatch.setattr(hellograd.data, "_GZIP_SLACK", 0)
    monkeypatch.setattr(hellograd.data, "_most_idx_bytes", lambda name: 300_000)
    with pytest.raises(MNISTUnavailable, match="more than the 300,000 bytes this file may have"):
        load_mnist(mirrors=[f"{server}/endless/"], quiet=True)
    assert cached_names() == []


def test_downloads_meet_one_deadline_however_slowly_the_bytes_trickle(server, monkeypatch):
    monkeypatch.setattr(hellograd.data, "DOWNLOAD_SECONDS", 0.3)
    start = time.perf_counter()
    with pytest.raises(MNISTUnavailable) as info:
        load_mnist(mirrors=[f"{server}/slow/", f"{server}/good/"], quiet=True)
    assert time.perf_counter() - start < 0.3 + 3
    message = str(info.value)
    late = "TimeoutError: not finished within the 0.3 s allowed for downloading MNIST"
    assert f"slow/train-images-idx3-ubyte.gz: {late} (" in message  # (n bytes so far)
    assert f"good/train-images-idx3-ubyte.gz: {late}" in message  # tried, but too late
    assert cached_names() == []


def test_the_mirror_that_worked_is_tried_first_for_the_next_files(server, capsys):
    load_mnist(mirrors=[f"{server}/missing/", f"{server}/good/"])
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 5 and "missing/ ... failed" in lines[0]
    assert all("/good/ ... " in line for line in lines[1:])


def test_a_server_that_does_not_say_the_size(server, fake):
    _, arrays = fake
    assert_same(load_mnist(mirrors=f"{server}/nolength/", quiet=True), arrays)  # a string


def test_an_interrupted_download_leaves_no_temporary_file(server, monkeypatch, capsys):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hellograd.data, "_read_checked", interrupt)  # after the bytes came
    with pytest.raises(KeyboardInterrupt):
        load_mnist(mirrors=[f"{server}/good/"])
    assert cached_names() == []
    assert capsys.readouterr().err.endswith(" ... interrupted\n")


def test_temporary_files_of_killed_downloads_are_removed(server):
    cache().mkdir(parents=True)
    stale, live = (cache() / f".{FILES[0]}.gz.{tag}.part" for tag in ("0dead000", "0a11ve00"))
    stale.write_bytes(b"left by a process killed a day ago")
    live.write_bytes(b"being written by another process")
    day_ago = time.time() - 86400
    os.utime(stale, (day_ago, day_ago))
    load_mnist(mirrors=[f"{server}/good/"], quiet=True)
    assert cached_names() == sorted(ALL_GZ + [live.name])


def test_a_cache_that_cannot_be_written_says_what_to_do(tmp_path, server, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("HELLOGRAD_CACHE", str(tmp_path / "a-file"))
    with pytest.raises(MNISTUnavailable) as info:
        load_mnist(mirrors=[f"{server}/good/"], quiet=True)
    message = str(info.value)
    assert f"cannot write to the cache folder {tmp_path / 'a-file' / 'mnist'}" in message
    assert "HELLOGRAD_CACHE" in message and "MNIST_DIR" in message


def test_a_read_only_cache_says_what_to_do(server, monkeypatch):
    cache().mkdir(parents=True)

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(hellograd.data.tempfile, "TemporaryFile", read_only)
    with pytest.raises(MNISTUnavailable,
                       match=f"cannot write to the cache folder {cache()} .Permission denied"):
        load_mnist(mirrors=[f"{server}/good/"], quiet=True)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions that apply (root ignores them)")
def test_a_read_only_cache_folder(server):
    cache().mkdir(parents=True)
    cache().chmod(0o555)
    try:
        with pytest.raises(MNISTUnavailable, match="cannot write to the cache folder"):
            load_mnist(mirrors=[f"{server}/good/"], quiet=True)
    finally:
        cache().chmod(0o755)


def test_without_mirrors_the_error_says_so():
    with pytest.raises(MNISTUnavailable, match="there are no mirrors"):
        load_mnist(quiet=True)


# --- python -m hellograd.data ---------------------------------------------------------------

def test_main_fetches_checks_and_says_where(server, capsys):
    assert hellograd.data.main([]) == 1  # no mirrors: MIRRORS is empty in these tests
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: MNIST is not available") and len(err) < 600
    os.environ["HELLOGRAD_MNIST_MIRRORS"] = f"{server}/good/"  # undone by the fixture
    assert hellograd.data.main([]) == 0
    out, err = capsys.readouterr()
    assert out == f"MNIST is ready: {N_TRAIN} training and {N_TEST} test images, checked, " \
                  f"in {cache()}\n"
    assert len(err.splitlines()) == 4


def test_main_with_a_folder_and_no_download(tmp_path, fake, capsys):
    files, _ = fake
    write_files(tmp_path / "m", corrupt(files, FILES[1], lambda b: b[:-1]), gzipped=True)
    assert hellograd.data.main([str(tmp_path / "m"), "--no-download"]) == 1
    assert "train-labels-idx1-ubyte.gz: truncated" in capsys.readouterr().err
    write_files(tmp_path / "m", files, gzipped=True)
    assert hellograd.data.main([str(tmp_path / "m"), "--no-download"]) == 0
    assert f"in {tmp_path / 'm'}\n" in capsys.readouterr().out


def test_python_m_hellograd_data_fails_with_one_short_message(tmp_path):
    env = dict(os.environ, HELLOGRAD_CACHE=str(tmp_path / "cache"),
               HELLOGRAD_MNIST_MIRRORS=f"http://127.0.0.1:{closed_port()}/")
    env.pop("MNIST_DIR", None)
    done = subprocess.run([sys.executable, "-m", "hellograd.data"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    error = done.stderr.split("\n", 1)[1]  # after the one "downloading ... failed" line
    assert error.startswith("error: MNIST is not available: train-images-idx3-ubyte[.gz]")
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr
    assert len(error.splitlines()) == 3
    assert "MNIST_DIR=" in error and "HELLOGRAD_MNIST_MIRRORS" in error


def test_python_m_hellograd_data_with_the_real_files(offline, tmp_path):
    if not offline:
        pytest.skip("MNIST_DIR is not set: export MNIST_DIR=/path/to/mnist to test the real data")
    env = dict(os.environ, MNIST_DIR=offline, HELLOGRAD_CACHE=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "hellograd.data", "--no-download"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("MNIST is ready: 60,000 training and 10,000 test images")
    assert done.stderr == ""
