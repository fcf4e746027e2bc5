"""safetensors files (the Hugging Face format): an 8-byte header length, a JSON header, raw little-endian data.

Written and read with the ``safetensors`` package's NumPy API (the ``interop`` extra). The header is
checked here first (its length, every tensor's offsets against the data size, the dtype), so a
malformed file is a ``SerializationError`` naming the problem. ``bfloat16`` tensors, which NumPy
cannot hold, load as ``float32`` (exact: bfloat16 is the top half of a float32).
"""

from __future__ import annotations

import json
import math
import struct
from collections import OrderedDict
from typing import Any

import numpy as np

from deepling.serialization.fileio import SerializationError
from deepling.tensor import Tensor

__all__ = ["to_bytes", "read", "read_metadata", "looks_like"]

_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "U16": 2,
             "U32": 4, "U64": 8, "BOOL": 1}
_MAX_HEADER = 100 << 20


def _package() -> Any:
    try:
        import safetensors.numpy as st
    except ImportError:
        raise ImportError("safetensors files need the 'safetensors' package: pip install 'deepling[interop]'") from None
    return st


def looks_like(data: bytes) -> bool:
    if len(data) < 10:
        return False
    n = struct.unpack("<Q", data[:8])[0]
    return 2 <= n <= len(data) - 8 and data[8:9] == b"{"


def to_bytes(obj: Any, metadata: dict[str, str] | None = None) -> bytes:
    """Serialize a flat ``{name: Tensor | ndarray}`` dict (a state_dict) with optional str -> str metadata."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: the safetensors format holds a flat dict of tensors (a state_dict), got "
                        f"{type(obj).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for k, v in obj.items():
        if not isinstance(k, str):
            raise TypeError(f"save: safetensors keys must be str, got {type(k).__name__} ({k!r})")
        if not isinstance(v, Tensor | np.ndarray):
            raise TypeError(f"save: safetensors values must be tensors; {k!r} is a {type(v).__name__}")
        arrays[k] = np.array(v.array if isinstance(v, Tensor) else v, order="C")  # (ascontiguousarray makes 0-d 1-d)
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("save: safetensors metadata must map str to str")
    return _package().save(arrays, metadata=metadata)


def _header(data: bytes, name: str) -> tuple[dict, int]:
    if len(data) < 8:
        raise SerializationError(f"load: {name} is truncated (no safetensors header)")
    n = struct.unpack("<Q", data[:8])[0]
    if n > _MAX_HEADER or n > len(data) - 8:
        raise SerializationError(f"load: {name}: safetensors header of {n} bytes does not fit the file "
                                 f"({len(data)} bytes)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SerializationError(f"load: {name}: the safetensors header is corrupted ({e})") from None
    if not isinstance(header, dict):
        raise SerializationError(f"load: {name}: the safetensors header is not a JSON object")
    return header, 8 + n


def read_metadata(data: bytes, name: str) -> dict[str, str]:
    """The ``__metadata__`` str -> str map of a safetensors file ({} when absent)."""
    meta = _header(data, name)[0].get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise SerializationError(f"load: {name}: safetensors __metadata__ is not a str -> str map")
    return {str(k): str(v) for k, v in meta.items()}


def read(data: bytes, name: str) -> OrderedDict:
    """``{name: Tensor}`` in the order of the data in the file."""
    header, start = _header(data, name)
    size = len(data) - start
    entries = []
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype, shape, (b, e) = info["dtype"], [int(s) for s in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SerializationError(f"load: {name}: safetensors entry {key!r} is malformed ({info!r})") from None
        if dtype not in _ITEMSIZE:
            raise SerializationError(f"load: {name}: tensor {key!r} has dtype {dtype!r}, which deepling cannot hold")
        if any(s < 0 for s in shape) or not (isinstance(b, int) and isinstance(e, int) and 0 <= b <= e <= size):
            raise SerializationError(f"load: {name}: tensor {key!r} has offsets {[b, e]} outside the "
                                     f"{size} data bytes or a negative size {shape}")
        if e - b != math.prod(shape) * _ITEMSIZE[dtype]:
            raise SerializationError(f"load: {name}: tensor {key!r} of shape {shape} and dtype {dtype} needs "
                                     f"{math.prod(shape) * _ITEMSIZE[dtype]} bytes, its offsets span {e - b}")
        entries.append((b, key, dtype, shape, e))
    if any(d == "BF16" for _, _, d, _, _ in entries):
        # NumPy has no bfloat16: widen to float32 here (exact), everything else as the package reads it.
        loaded = {}
        for b, key, dtype, shape, e in entries:
            raw = data[start + b:start + e]
            if dtype == "BF16":
                a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                a = np.frombuffer(raw, dtype=np.dtype(_package()._getdtype(dtype)).newbyteorder("<")).copy()
            loaded[key] = a.reshape(shape)
    else:
        try:
            loaded = _package().load(data)
        except Exception as e:  # the package's own checks (overlaps, ...)
            raise SerializationError(f"load: {name} is not a valid safetensors file ({e})") from None
    out = OrderedDict()
    for _, key, _, _, _ in sorted(entries):
        out[key] = Tensor._wrap(np.array(loaded[key]))
    return out
