"""A minimal PNG writer (8-bit grey, grey+alpha, RGB or RGBA, no filter), so saving images needs no PIL."""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np

__all__ = ["encode_png", "write_png"]

_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 image ``(H, W)`` or ``(H, W, C)`` with C in 1..4."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise TypeError(f"encode_png: expected a uint8 image (got {a.dtype})")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in _COLOR_TYPE or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"encode_png: expected an image (H, W) or (H, W, C) with 1 to 4 channels (got {image.shape})")
    h, w, c = a.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), np.ascontiguousarray(a).reshape(h, w * c)], axis=1)
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPE[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + _chunk(b"IEND", b""))


def write_png(image: np.ndarray, fp: str | os.PathLike | IO[bytes]) -> None:
    """Write ``image`` as PNG to a path (atomically: a temporary file, then a rename) or a binary file object."""
    blob = encode_png(image)
    if hasattr(fp, "write"):
        fp.write(blob)  # type: ignore[union-attr]
        return
    path = Path(fp)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
