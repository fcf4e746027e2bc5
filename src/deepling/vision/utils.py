"""``deepling.vision.utils``: ``make_grid`` and ``save_image`` with torchvision's arguments."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import IO, Any, Sequence

import numpy as np

from deepling.tensor import Tensor
from deepling.vision.png import write_png

__all__ = ["make_grid", "save_image"]


def _array(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.array
    if isinstance(x, (list, tuple)):
        return np.stack([_array(t) for t in x])
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(f"make_grid: expected a Tensor or a list of Tensors (got {type(x).__name__})")


def make_grid(tensor: Tensor | Sequence[Tensor], nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range: tuple[float, float] | None = None, scale_each: bool = False,
              pad_value: float = 0.0) -> Tensor:
    """Tile a batch ``(B, C, H, W)`` (or a list of ``(C, H, W)``) into one image ``(C, H', W')``, as torchvision.

    ``nrow`` images per row, ``padding`` pixels of ``pad_value`` around and between them; grey
    images (C = 1) become 3 channels. ``normalize`` maps ``value_range`` (default: the min and max,
    of each image if ``scale_each``) to [0, 1], clamping outside it.
    """
    a = np.array(_array(tensor), dtype=None, copy=True)
    if a.ndim == 2:  # one image (H, W)
        a = a[None]
    if a.ndim == 3:  # one image (C, H, W)
        if a.shape[0] == 1:
            a = np.concatenate([a, a, a], 0)
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"make_grid: expected (B, C, H, W), (C, H, W) or (H, W) (got shape {a.shape})")
    if a.shape[1] == 1:
        a = np.concatenate([a, a, a], 1)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")
        a = a.astype(np.result_type(a.dtype, np.float32), copy=False)

        def norm(img: np.ndarray) -> np.ndarray:
            low, high = value_range if value_range is not None else (float(img.min()), float(img.max()))
            return (np.clip(img, low, high) - low) / max(high - low, 1e-5)

        a = np.stack([norm(img) for img in a]) if scale_each else norm(a)
    if a.shape[0] == 1:
        return Tensor._wrap(np.ascontiguousarray(a[0]))
    n, c, h, w = a.shape
    xmaps = min(nrow, n)
    ymaps = int(math.ceil(n / xmaps))
    ch, cw = h + padding, w + padding  # one cell: padding above and left of its image
    cells = np.full((ymaps * xmaps, c, ch, cw), pad_value, dtype=a.dtype)
    cells[:n, :, padding:, padding:] = a
    grid = cells.reshape(ymaps, xmaps, c, ch, cw).transpose(2, 0, 3, 1, 4).reshape(c, ymaps * ch, xmaps * cw)
    out = np.full((c, ymaps * ch + padding, xmaps * cw + padding), pad_value, dtype=a.dtype)
    out[:, : ymaps * ch, : xmaps * cw] = grid
    return Tensor._wrap(out)


def save_image(tensor: Tensor | Sequence[Tensor], fp: str | os.PathLike | IO[bytes], format: str | None = None,
               **kwargs: Any) -> None:
    """``make_grid(tensor, **kwargs)`` scaled from [0, 1] to 0..255 (rounded) and written as a PNG file.

    deepling writes PNG only (no PIL): a path must end in ``.png`` (or pass ``format="png"``).
    """
    fmt = (format or (Path(fp).suffix[1:] if not hasattr(fp, "write") else "png")).lower()
    if fmt != "png":
        raise ValueError(f"save_image: deepling writes PNG files only (got format {fmt!r} for {fp!r})")
    grid = make_grid(tensor, **kwargs).array
    img = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8)
    write_png(img.transpose(1, 2, 0) if img.ndim == 3 else img, fp)
