"""hellograd.data: the MNIST loader and mini-batches.

Nothing here leaves the machine: small IDX files written by the tests, the real data only
where MNIST_DIR is set, and downloads from an HTTP server on 127.0.0.1.
"""

import functools
import gzip
import hashlib
import http.server
import os
import socket
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import hellograd.data
from hellograd.data import FILES, batches, load_mnist

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
    """Every test: an empty cache in tmp, no MNIST_DIR (unless a test sets it), the real
    mirrors out of reach, and any attempt to open a URL off 127.0.0.1 fails the test."""
    monkeypatch.setenv("HELLOGRAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    real_mnist_dir = os.environ.get("MNIST_DIR")
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(hellograd.data, "MIRRORS", ())
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # a proxy setting must not reroute the server
    real_urlopen = urllib.request.urlopen

    def local_urlopen(url, *args, **kwargs):
        host = urllib.parse.urlsplit(url).hostname
        assert host == "127.0.0.1", f"a test tried to reach {url}"
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
def test_loads_from_root(tmp_path, fake, gzipped):
    files, arrays = fake
    write_files(tmp_path / "mnist", files, gzipped)
    loaded = load_mnist(tmp_path / "mnist", download=False)
    assert_same(loaded, arrays)
    assert [a.dtype for a in loaded] == [np.uint8, np.int64, np.uint8, np.int64]
    assert all(a.flags.writeable for a in loaded)


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
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used"))
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path / "root", download=False, mirrors=["http://127.0.0.1:9/"])
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte" in message and "download=False" in message
    for place in (tmp_path / "root", tmp_path / "env", cache()):
        assert str(place) in message
    assert "MNIST_DIR" in message and "root=" in message
    assert not cache().exists()


def corrupt(files, name, change):
    files = dict(files)
    files[name] = change(files[name])
    return files


@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("name, change, expected", [
    ("train-images-idx3-ubyte", lambda b: b[:-100], "truncated"),
    ("train-labels-idx1-ubyte", lambda b: b[:5], "truncated"),
    ("t10k-images-idx3-ubyte", lambda b: b"\x00\x00\x08\x01" + b[4:], "wrong magic number 0x801"),
    ("t10k-labels-idx1-ubyte", lambda b: b + b"\x03", "item-count mismatch"),
    ("train-labels-idx1-ubyte", lambda b: b[:-1] + bytes([(b[-1] + 1) % 256]),
     "checksum mismatch"),
])
def test_a_bad_file_is_named_with_what_is_wrong(tmp_path, fake, gzipped, name, change, expected):
    files, _ = fake
    write_files(tmp_path, corrupt(files, name, change), gzipped)
    with pytest.raises(ValueError) as info:
        load_mnist(tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / name) in message and expected in message
    assert "delete or replace this file" in message


def test_a_truncated_gzip_file_is_named(tmp_path, fake):
    files, _ = fake
    write_files(tmp_path, files, gzipped=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: not a valid gzip file"):
        load_mnist(tmp_path, download=False)


def test_images_must_be_28_by_28(tmp_path, fake, monkeypatch):
    files, _ = fake
    files = dict(files, **{"train-images-idx3-ubyte": idx_bytes(np.zeros((7, 14, 56)), 0x803)})
    monkeypatch.setitem(hellograd.data.SHA256, "train-images-idx3-ubyte", None)
    write_files(tmp_path, files, gzipped=False)
    with pytest.raises(ValueError, match="14x56 pixels"):
        load_mnist(tmp_path, download=False)


def test_images_and_labels_must_agree_in_number(tmp_path, fake, monkeypatch):
    files, _ = fake
    files = dict(files, **{"t10k-labels-idx1-ubyte": idx_bytes(np.zeros(4), 0x801)})
    monkeypatch.setitem(hellograd.data.SHA256, "t10k-labels-idx1-ubyte", None)
    write_files(tmp_path, files, gzipped=False)
    with pytest.raises(ValueError, match="3 images but 4 labels"):
        load_mnist(tmp_path, download=False)


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


# --- downloads, from a server on 127.0.0.1 --------------------------------------------------

class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder; under /liar/ it promises more bytes than it sends, then hangs up;
    under /nolength/ it sends good/'s files without saying how long they are."""

    def do_GET(self):
        if self.path.startswith("/liar/"):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + bytes(100))
        elif self.path.startswith("/nolength/"):
            self.send_response(200)
            self.end_headers()
            self.wfile.write((Path(self.directory) / "good" / self.path[10:]).read_bytes())
        else:
            return super().do_GET()
        self.close_connection = True

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path, fake):
    """A base URL whose folders are mirrors: good/ (the fake files), corrupt/ (gzipped files
    with the wrong contents), truncated/ (cut-off gzip files), liar/; missing/ is a 404."""
    files, _ = fake
    root = tmp_path / "www"
    write_files(root / "good", files, gzipped=True)
    write_files(root / "corrupt", {n: b[:-1] + b"\x00" for n, b in files.items()}, gzipped=True)
    (root / "truncated").mkdir()
    for name in files:
        (root / "truncated" / (name + ".gz")).write_bytes(
            (root / "good" / (name + ".gz")).read_bytes()[:-30])
    handler = functools.partial(Handler, directory=str(root))
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
    return sorted(p.name for p in cache().iterdir()) if cache().exists() else []


def test_download_tries_the_mirrors_in_turn(server, fake, monkeypatch):
    _, arrays = fake
    calls = []
    mirrors = [f"http://127.0.0.1:{closed_port()}/", f"{server}/missing/", f"{server}/good"]
    loaded = load_mnist(mirrors=mirrors, progress=lambda *args: calls.append(args))
    assert_same(loaded, arrays)
    assert cached_names() == sorted(name + ".gz" for name in FILES)  # nothing else, no temp
    for name in FILES:
        done = [d for label, d, total in calls if label == name + ".gz"]
        totals = {total for label, d, total in calls if label == name + ".gz"}
        size = (cache() / (name + ".gz")).stat().st_size
        assert done[0] == 0 and done[-1] == size and done == sorted(done) and totals == {size}
        assert (cache() / (name + ".gz")).stat().st_mode & 0o777 == 0o644
    # from now on the cache is enough, without the network
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used"))
    assert_same(load_mnist(download=False), arrays)


def test_download_shows_progress_on_stderr(server, capsys):
    load_mnist(mirrors=[f"{server}/good/"])
    err = capsys.readouterr().err
    for name in FILES:
        assert f"downloading {name}.gz: 100%" in err


def test_only_missing_files_are_downloaded(tmp_path, server, fake):
    files, arrays = fake
    write_files(tmp_path / "root", {n: files[n] for n in FILES[:3]}, gzipped=False)
    labels = []
    loaded = load_mnist(tmp_path / "root", mirrors=[f"{server}/good/"],
                        progress=lambda label, done, total: labels.append(label))
    assert_same(loaded, arrays)
    assert set(labels) == {"t10k-labels-idx1-ubyte.gz"}
    assert cached_names() == ["t10k-labels-idx1-ubyte.gz"]


@pytest.mark.parametrize("mirror, reason", [
    ("corrupt", "checksum mismatch"),
    ("truncated", "not a valid gzip file"),
    ("liar", "download incomplete"),
    ("missing", "404"),
])
def test_a_bad_download_is_rejected_and_nothing_is_kept(server, mirror, reason):
    url = f"{server}/{mirror}/"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(mirrors=[url], progress=False)
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and "every mirror failed" in message
    assert f"{url}train-images-idx3-ubyte.gz" in message and reason in message
    assert "MNIST_DIR" in message and "root=" in message
    assert cached_names() == []


def test_a_server_that_does_not_say_the_size(server, fake, capsys):
    _, arrays = fake
    assert_same(load_mnist(mirrors=f"{server}/nolength/"), arrays)  # one mirror as a string
    err = capsys.readouterr().err
    size = (cache() / "train-images-idx3-ubyte.gz").stat().st_size
    assert f"downloading train-images-idx3-ubyte.gz: {size / 1e3:.0f} kB\r" in err  # as it comes
    assert f"downloading train-images-idx3-ubyte.gz: 100% of {size / 1e3:.0f} kB\n" in err


def test_a_bad_mirror_then_a_good_one(server, fake):
    _, arrays = fake
    assert_same(load_mnist(mirrors=[f"{server}/corrupt/", f"{server}/good/"], progress=False),
                arrays)
    assert cached_names() == sorted(name + ".gz" for name in FILES)


def test_an_interrupted_download_leaves_no_temporary_file(server):
    def interrupt(label, done, total):
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_mnist(mirrors=[f"{server}/good/"], progress=interrupt)
    assert cached_names() == []


def test_without_mirrors_the_error_says_so():
    with pytest.raises(FileNotFoundError, match="mirrors is empty"):
        load_mnist(progress=False)
