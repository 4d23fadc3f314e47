"""Files written whole or not at all, and ``.npz`` weights read without
trusting them.

Used by :meth:`hellograd.nn.Module.save` and ``load`` and by the MNIST
downloads of :mod:`hellograd.data`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import zipfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_write(path):
    """An open binary file that becomes ``path`` only if the ``with`` block
    ends normally.

    The data goes to a temporary file beside ``path`` (same folder, so the
    final rename is atomic), which is synced to disk and then renamed over
    ``path``. If anything fails or interrupts the block, even Ctrl-C, the
    temporary file is removed and an earlier file at ``path`` is left as it
    was. A process killed outright leaves a ``.<name>.<random>.part`` file
    beside ``path``; it is never mistaken for ``path`` itself.
    """
    path = Path(os.fspath(path))
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        # "x": never someone else's file; mode follows the umask
        file = open(temporary, "xb")
    except OSError as error:
        # name the file asked for, not the temporary one
        raise type(error)(error.errno, f"cannot write {path}: "
                                       f"{error.strerror}") from None
    try:
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_npz(path, shapes):
    """The arrays of the ``.npz`` file at ``path``, as ``{name: array}``.

    ``shapes`` maps each name to the shape the caller expects. The file is
    not trusted: the header of each array is read first, and only an array
    of the expected name and shape, of numbers of at most 16 bytes, is read.
    Any other is not read at all (so a header announcing terabytes costs
    nothing): it comes back as a zero-memory read-only stand-in with the
    announced shape and dtype, for the caller to refuse with the names and
    shapes. A file that is not a whole ``.npz`` archive of arrays raises a
    ``ValueError`` saying what is wrong; a missing file,
    ``FileNotFoundError``.
    """
    with open(os.fspath(path), "rb") as file:
        if file.read(6) == b"\x93NUMPY":
            raise ValueError("it holds a single array (.npy), not the "
                             "named arrays of a .npz")
        file.seek(0)
        try:
            with zipfile.ZipFile(file) as archive:
                return {member.removesuffix(".npy"):
                        _read_member(archive, member, shapes)
                        for member in archive.namelist()}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
            raise ValueError("not a whole .npz archive of arrays, "
                             "truncated or corrupt "
                             f"({type(error).__name__}: {error})") from None


def _read_member(archive, member, shapes):
    if not member.endswith(".npy"):
        raise ValueError(f"it holds {member!r}, which is not an array "
                         "(.npy)")
    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"{member!r} is in .npy format version "
                             f"{version}, not 1.0 or 2.0")
        if version == (1, 0):
            read_header = np.lib.format.read_array_header_1_0
        else:
            read_header = np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    expected = shapes.get(member.removesuffix(".npy")) == shape
    if not (expected and dtype.kind in "fiu" and dtype.itemsize <= 16):
        # strides 0: no memory spent
        return np.broadcast_to(np.zeros((), dtype), shape)
    with archive.open(member) as stream:
        return np.lib.format.read_array(stream, allow_pickle=False)
