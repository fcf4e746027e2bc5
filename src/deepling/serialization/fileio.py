"""What every file format shares: the error type, atomic writes, reading bytes, and zip-bomb limits."""

from __future__ import annotations

import os
import struct
import tempfile
import zipfile
import zlib
from typing import IO, Any, Callable

__all__ = ["SerializationError", "atomic_write", "read_all", "source_name", "open_zip", "ZIP_LIMITS", "ZIP_ERRORS"]

# What reading a damaged zip archive can raise from ``zipfile``/``zlib`` (turned into SerializationError).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, struct.error, OSError, EOFError, ValueError, NotImplementedError,
              RuntimeError, KeyError, UnicodeDecodeError)


class SerializationError(ValueError):
    """A file that cannot be read safely: foreign, truncated, corrupted, oversized, or asking to run code."""


# A zip member may inflate at most MAX_RATIO times its compressed size (checked on the declared sizes,
# which ``zipfile`` enforces when reading), there may be at most MAX_MEMBERS members, and the
# declared total may not exceed MAX_TOTAL bytes. PyTorch and NumPy store members uncompressed, so a
# genuine checkpoint never comes near these.
ZIP_LIMITS = {"max_ratio": 100, "min_checked": 1 << 20, "max_members": 1_000_000, "max_total": 1 << 36}


def source_name(f: Any) -> str:
    if hasattr(f, "read"):
        return str(getattr(f, "name", "<file>"))
    return os.fspath(f)


def read_all(f: Any) -> bytes:
    """The whole content of a path or a binary file object (``FileNotFoundError`` for a missing path)."""
    if hasattr(f, "read"):
        data = f.read()
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"load: expected a binary file object, got one returning {type(data).__name__}")
        return bytes(data)
    with open(os.fspath(f), "rb") as fh:
        return fh.read()


def atomic_write(f: Any, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(fileobj)``; for a path, into a temporary file in the same directory that is then
    flushed, synced and renamed over ``f`` (removed if anything fails, so the old file survives)."""
    if hasattr(f, "write"):
        write(f)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: cannot write {path}: the folder {directory} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"save: cannot write {path}: it is a folder")
    prefix = f".tmp-{os.path.basename(path)}-"
    _remove_stale_temporaries(directory, prefix)
    fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _remove_stale_temporaries(directory: str, prefix: str) -> None:
    """Delete the temporaries that a killed writer of the same file left (``PREFIX<pid>-*`` whose
    process is gone); a live writer's temporary is left alone."""
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass  # another writer cleaned it first


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def open_zip(fileobj: IO[bytes], name: str) -> zipfile.ZipFile:
    """Open a zip archive after checking its central directory against ``ZIP_LIMITS``."""
    try:
        zf = zipfile.ZipFile(fileobj)
    except ZIP_ERRORS as e:
        raise SerializationError(f"load: {name} is truncated or corrupted ({e})") from None
    infos = zf.infolist()
    if len(infos) > ZIP_LIMITS["max_members"]:
        raise SerializationError(f"load: {name} has {len(infos)} zip members (limit {ZIP_LIMITS['max_members']}); "
                                 "refusing a possible zip bomb")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise SerializationError(f"load: {name}: zip member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise SerializationError(f"load: {name}: zip member {info.filename!r} uses compression method "
                                     f"{info.compress_type} (only stored and deflated members are read)")
        total += info.file_size
        big = info.file_size > ZIP_LIMITS["min_checked"]
        if big and info.file_size > ZIP_LIMITS["max_ratio"] * max(info.compress_size, 1):
            raise SerializationError(
                f"load: {name}: zip member {info.filename!r} would inflate {info.compress_size} bytes to "
                f"{info.file_size} (more than {ZIP_LIMITS['max_ratio']}x); refusing a possible zip bomb")
    if total > ZIP_LIMITS["max_total"]:
        raise SerializationError(f"load: {name} declares {total} uncompressed bytes (limit {ZIP_LIMITS['max_total']}); "
                                 "refusing a possible zip bomb")
    return zf
