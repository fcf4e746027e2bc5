"""The IDX file format (MNIST, Fashion-MNIST), gzipped or raw, read with every header field checked.

Layout, big-endian: two zero bytes, a type code, the number of dims ``d``; then ``d`` uint32 sizes;
then the values, row-major. Type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64. MNIST images are magic 2051 (uint8, 3 dims), labels 2049 (uint8, 1 dim).
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDXError", "read_idx", "parse_idx", "write_idx", "IMAGES_MAGIC", "LABELS_MAGIC"]

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {dt.newbyteorder("="): code for code, dt in _TYPES.items()}


class IDXError(ValueError):
    """A file that is not a valid IDX file (wrong magic, truncated, corrupted)."""


MAX_DECOMPRESSED = 2**31  # bytes: far above any IDX data set, far below what a gzip bomb would claim


def _read_bytes(path: Path, limit: int = MAX_DECOMPRESSED) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    # Decompress in bounded steps: a tiny file that claims gigabytes stops at the limit.
    d, parts, size = zlib.decompressobj(wbits=31), [], 0
    try:
        data = raw
        while data and not d.eof:
            chunk = d.decompress(data, 1 << 24)
            size += len(chunk)
            if size > limit:
                raise IDXError(f"{path}: decompresses to more than {limit} bytes (a gzip bomb?); refusing it")
            parts.append(chunk)
            data = d.unconsumed_tail
        if not d.eof:
            raise EOFError("compressed data ended early")
    except (OSError, EOFError, zlib.error) as e:
        raise IDXError(f"{path}: corrupted or truncated gzip data ({e})") from None
    return b"".join(parts)


def parse_idx(buf: bytes, name: str = "<bytes>", expected_magic: int | None = None) -> np.ndarray:
    """Decode IDX bytes into an array in native byte order, checking the header against the size."""
    if len(buf) < 4:
        raise IDXError(f"{name}: too short to be an IDX file ({len(buf)} bytes; the header alone needs 4)")
    zero, code, ndim = struct.unpack(">HBB", buf[:4])
    magic = struct.unpack(">I", buf[:4])[0]
    if zero != 0 or code not in _TYPES or ndim == 0:
        raise IDXError(f"{name}: not an IDX file (magic number 0x{magic:08X}; expected 0x0000TTDD with a known type TT)")
    if expected_magic is not None and magic != expected_magic:
        raise IDXError(f"{name}: wrong magic number 0x{magic:08X} (expected 0x{expected_magic:08X} = {expected_magic})")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise IDXError(f"{name}: truncated header ({len(buf)} bytes; {ndim} dims need {header})")
    dims = struct.unpack(f">{ndim}I", buf[4:header])
    dtype = _TYPES[code]
    expected = header + math.prod(dims) * dtype.itemsize  # Python ints: no overflow past 2**63
    if len(buf) != expected:
        what = "truncated" if len(buf) < expected else "has trailing bytes"
        raise IDXError(f"{name}: file {what}: header says dims {dims} of {dtype.name} = {expected} bytes, file has {len(buf)}")
    return np.frombuffer(buf, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw, detected from its first bytes) into a NumPy array.

    Raises ``IDXError`` (a ``ValueError``) naming the file for a wrong magic number, a truncated or
    oversized body, or corrupted gzip data.
    """
    path = Path(path)
    return parse_idx(_read_bytes(path), str(path), expected_magic)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzipped when ``compress`` or the name ends in ``.gz``)."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX type code")
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    body = header + np.ascontiguousarray(array, dtype=_TYPES[code]).tobytes()
    if compress is None:
        compress = str(path).endswith(".gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(body, mtime=0) if compress else body)
