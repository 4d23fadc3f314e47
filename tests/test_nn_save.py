"""Module.save and Module.load: whole files or none, and untrusted files refused clearly.

(The round trip and the name/shape checks are in test_nn.py; these are the failures.)
"""

import os
import tracemalloc
import zipfile

import numpy as np
import pytest

from hellograd import nn
from hellograd._files import atomic_write, read_npz


def small_mlp(seed=0):
    return nn.Sequential(nn.Linear(4, 6, rng=seed), nn.ReLU(), nn.Linear(6, 3, rng=seed))


def weights_of(model):
    return {name: array.copy() for name, array in model.state_dict().items()}


def assert_same_weights(model, expected):
    got = model.state_dict()
    assert got.keys() == expected.keys()
    for name in got:
        np.testing.assert_array_equal(got[name], expected[name])


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


# --- save: the previous checkpoint survives a failure -----------------------------------------

@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()],
                         ids=["OSError", "KeyboardInterrupt"])
def test_a_failure_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, error):
    path = tmp_path / "weights.npz"
    small_mlp(seed=1).save(path)
    before = path.read_bytes()
    real_savez = np.savez

    def savez_that_fails_midway(file, **arrays):
        real_savez(file, **arrays)  # the bytes are written ...
        file.seek(file.tell() // 2)
        file.truncate()             # ... then half of them are lost, and the write fails
        raise error

    monkeypatch.setattr(np, "savez", savez_that_fails_midway)
    with pytest.raises(type(error)):
        small_mlp(seed=2).save(path)
    assert path.read_bytes() == before
    assert files_in(tmp_path) == ["weights.npz"]  # no temporary file left behind
    monkeypatch.undo()
    restored = small_mlp(seed=3)
    restored.load(path)
    assert_same_weights(restored, weights_of(small_mlp(seed=1)))


def test_save_replaces_an_earlier_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "weights.npz"
    small_mlp(seed=1).save(path)
    small_mlp(seed=2).save(str(path))
    restored = small_mlp(seed=3)
    restored.load(path)
    assert_same_weights(restored, weights_of(small_mlp(seed=2)))
    assert files_in(tmp_path) == ["weights.npz"]


def test_save_into_a_missing_folder_names_the_path(tmp_path):
    path = tmp_path / "no" / "such" / "folder" / "weights.npz"
    with pytest.raises(FileNotFoundError, match=f"cannot write {path}"):
        small_mlp().save(path)


def test_saved_file_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        small_mlp().save(tmp_path / "weights.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "weights.npz").stat().st_mode & 0o777 == 0o640


def test_atomic_write_removes_the_temporary_file_on_any_exception(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(ZeroDivisionError):
        with atomic_write(path) as file:
            file.write(b"new, but never finished")
            1 / 0
    assert path.read_bytes() == b"old" and files_in(tmp_path) == ["out.bin"]
    with atomic_write(path) as file:
        file.write(b"new")
    assert path.read_bytes() == b"new" and files_in(tmp_path) == ["out.bin"]


# --- load: broken files are named, with what was expected -------------------------------------

def saved(tmp_path, name="weights.npz"):
    path = tmp_path / name
    small_mlp().save(path)
    return path


@pytest.mark.parametrize("damage", [
    lambda b: b[:len(b) // 2],
    lambda b: b[:-10],
    lambda b: b"",
    lambda b: b[:200] + bytes([b[200] ^ 0xFF]) + b[201:],  # one flipped byte inside an array
], ids=["half", "last-bytes-cut", "empty", "flipped-byte"])
def test_a_truncated_or_corrupt_file_is_named(tmp_path, damage):
    path = saved(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    model = small_mlp(seed=5)
    before = weights_of(model)
    with pytest.raises(ValueError) as info:
        model.load(path)
    message = str(info.value)
    assert str(path) in message and "is not a weights file written by save()" in message
    assert "not a whole .npz archive" in message
    assert_same_weights(model, before)  # nothing changed


def test_a_zip_of_something_else_is_refused(tmp_path):
    path = tmp_path / "weights.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match=r"weights.npz' is not a weights file.*'notes.txt'"):
        small_mlp().load(path)


def test_a_shape_mismatch_names_the_parameter_and_both_shapes(tmp_path):
    path = tmp_path / "wider.npz"
    nn.Sequential(nn.Linear(4, 7, rng=0), nn.ReLU(), nn.Linear(7, 3, rng=0)).save(path)
    with pytest.raises(ValueError) as info:
        small_mlp().load(path)
    message = str(info.value)
    assert f"load: {str(path)!r} does not fit this model: " in message
    assert "'layers.0.weight' has shape (4, 7) in the saved weights but (4, 6) in the model" \
        in message
    assert "load_state_dict" not in message  # one prefix, not two


def weights_with_header(path, shape, dtype="<f4"):
    """small_mlp's weights, except that layers.0.weight announces ``shape`` and ``dtype`` in
    its header (and holds no data)."""
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in small_mlp().state_dict().items():
            with archive.open(name + ".npy", "w") as member:
                if name == "layers.0.weight":
                    np.lib.format.write_array_header_1_0(member, header)
                else:
                    np.lib.format.write_array(member, array)


def test_a_header_announcing_terabytes_is_refused_without_spending_memory(tmp_path):
    path = tmp_path / "huge.npz"
    weights_with_header(path, (10**7, 10**6))  # 40 TB of float32
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"shape \(10000000, 1000000\) in the saved weights"):
            small_mlp().load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_a_right_shape_of_huge_elements_is_not_read(tmp_path):
    path = tmp_path / "void.npz"
    weights_with_header(path, (4, 6), dtype="|V1000000000")  # 24 GB
    with pytest.raises(ValueError, match="'layers.0.weight' holds .*V1000000000.* not numbers"):
        small_mlp().load(path)


def test_read_npz_reads_only_the_expected_arrays(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, a=np.arange(3.0), b=np.ones((2, 2)))
    got = read_npz(path, {"a": (3,)})
    np.testing.assert_array_equal(got["a"], [0.0, 1.0, 2.0])
    assert got["b"].shape == (2, 2) and got["b"].strides == (0, 0)  # a stand-in, not read
    assert not got["b"].flags.writeable
