"""``deepling.save`` / ``deepling.load``: checkpoints without pickle.

A file is a NumPy ``.npz`` (a zip of ``.npy`` arrays) plus one member, ``__deepling__.npy``, holding a
JSON manifest: a magic string, a format version and the structure of the saved object (dicts,
lists, tuples, numbers, strings, None, bools inline; every array replaced by the name of its member).
Loading never unpickles (``allow_pickle=False``); writing goes to a temporary file in the same
directory which is then renamed over the target, so a crash mid-write leaves the old file intact.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from deepling.tensor import Tensor

__all__ = ["save", "load", "SerializationError"]

MAGIC = "deepling-checkpoint"
VERSION = 1
_MANIFEST = "__deepling__"


class SerializationError(ValueError):
    """A file that is not a readable deepling checkpoint (foreign, truncated or corrupted)."""


def is_array_like(value: Any) -> bool:
    """True for what ``as_numpy`` reads: a deepling Tensor, an ndarray, or another framework's tensor."""
    return isinstance(value, (Tensor, np.ndarray)) or (hasattr(value, "detach") and hasattr(value, "numpy"))


def as_numpy(value: Any) -> np.ndarray:
    """A state value (of a state_dict) as an ndarray: deepling tensors, arrays, or another
    framework's CPU tensors (e.g. torch's, read through ``detach().cpu().numpy()``, no import needed)."""
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _encode_key(k: Any) -> list:
    if isinstance(k, bool) or k is None or isinstance(k, int | float | str):
        return [type(k).__name__ if k is not None else "none", k]
    raise TypeError(f"save: dict keys must be str, int, float, bool or None (got {type(k).__name__})")


def _decode_key(pair: list) -> Any:
    return pair[1]


def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Turn ``obj`` into JSON-able nodes, moving arrays into ``arrays``."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int | float):  # JSON keeps big ints exact (RNG states) and nan/inf as literals
        return obj
    if isinstance(obj, Tensor | np.ndarray | np.generic):
        kind = "tensor" if isinstance(obj, Tensor) else ("ndarray" if isinstance(obj, np.ndarray) else "scalar")
        a = np.asarray(obj.array if isinstance(obj, Tensor) else obj)
        if a.dtype.hasobject:
            raise TypeError("save: arrays of Python objects cannot be saved (only numeric and bool dtypes)")
        name = f"a{len(arrays)}"
        arrays[name] = a if a.flags.c_contiguous else a.copy(order="C")
        return {"$": kind, "name": name}
    if isinstance(obj, dict):
        kind = "odict" if isinstance(obj, OrderedDict) else "dict"
        return {"$": kind, "items": [[_encode_key(k), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, list | tuple):
        return {"$": "tuple" if isinstance(obj, tuple) else "list", "items": [_encode(v, arrays) for v in obj]}
    raise TypeError(f"save: cannot save objects of type {type(obj).__name__} (supported: dicts, lists, tuples, "
                    "Tensors, arrays, numbers, strings, bools, None)")


def _decode(node: Any, npz: Any, where: str) -> Any:
    if not isinstance(node, dict):
        return node
    kind = node.get("$")
    if kind in ("tensor", "ndarray", "scalar"):
        name = node.get("name")
        if name not in npz.files:
            raise SerializationError(f"load: {where}: array {name!r} listed in the manifest is missing")
        try:
            a = npz[name]
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
            raise SerializationError(f"load: {where}: array {name!r} is corrupted ({e})") from None
        if kind == "tensor":
            return Tensor._wrap(a)
        return a if kind == "ndarray" else a[()]
    if kind in ("dict", "odict"):
        out = OrderedDict() if kind == "odict" else {}
        for k, v in node["items"]:
            out[_decode_key(k)] = _decode(v, npz, where)
        return out
    if kind in ("list", "tuple"):
        items = [_decode(v, npz, where) for v in node["items"]]
        return tuple(items) if kind == "tuple" else items
    raise SerializationError(f"load: {where}: unknown node type {kind!r} in the manifest")


def _write(obj: Any, f: IO[bytes]) -> None:
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays)
    manifest = json.dumps({"magic": MAGIC, "version": VERSION, "tree": tree})
    np.savez(f, **{_MANIFEST: np.frombuffer(manifest.encode(), dtype=np.uint8)}, **arrays)


def save(obj: Any, f: str | os.PathLike | IO[bytes]) -> None:
    """Save ``obj`` (a state dict, or nested dicts/lists of tensors, arrays, numbers and strings) to ``f``.

    A path is written atomically: to a temporary file in the same directory, flushed to disk, then
    renamed over ``f``. A file object is written in place.
    """
    if hasattr(f, "write"):
        _write(obj, f)  # type: ignore[arg-type]
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            _write(obj, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(f: str | os.PathLike | IO[bytes], map_location: Any = None, weights_only: bool = True, **_: Any) -> Any:
    """Load an object written by ``save``. Tensors come back as Tensors, arrays as arrays.

    Raises ``SerializationError`` (a ``ValueError``) for a file that is not a deepling checkpoint,
    is truncated, or is corrupted; ``FileNotFoundError`` for a missing path. ``map_location`` and
    ``weights_only`` are accepted for PyTorch compatibility (everything is on the CPU, and nothing is
    ever unpickled).
    """
    name = os.fspath(f) if not hasattr(f, "read") else getattr(f, "name", "<file>")
    data = f.read() if hasattr(f, "read") else open(name, "rb").read()  # noqa: SIM115
    if not data.startswith(b"PK"):
        raise SerializationError(f"load: {name} is not a deepling checkpoint (not a zip/npz file)")
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise SerializationError(f"load: {name} is truncated or corrupted ({e})") from None
    with npz:
        if _MANIFEST not in npz.files:
            raise SerializationError(f"load: {name} is an .npz file but not a deepling checkpoint (no manifest)")
        try:
            manifest = json.loads(npz[_MANIFEST].tobytes().decode())
        except (ValueError, OSError, zipfile.BadZipFile, EOFError, UnicodeDecodeError) as e:
            raise SerializationError(f"load: {name}: the manifest is corrupted ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("magic") != MAGIC:
            raise SerializationError(f"load: {name} is not a deepling checkpoint (bad magic)")
        if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
            raise SerializationError(f"load: {name} has format version {manifest.get('version')!r}; "
                                     f"this deepling reads versions up to {VERSION}")
        return _decode(manifest["tree"], npz, name)
