"""Transforms: plain callables applied to one sample (an image array or Tensor), composable.

Images are ``(C, H, W)`` float Tensors after ``ToTensor``; random transforms draw from the global
RNG (``deepling.manual_seed``) unless given a ``generator``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from deepling.random import Generator, numpy_rng
from deepling.tensor import Tensor, default_dtype

__all__ = ["Compose", "ToTensor", "Normalize", "Flatten", "Lambda", "RandomCrop", "RandomHorizontalFlip"]


def _array(x: Any) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


class Compose:
    """Apply ``transforms`` in order: ``Compose([f, g])(x) == g(f(x))``."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class ToTensor:
    """Image array ``(H, W)`` or ``(H, W, C)`` -> float32 Tensor ``(C, H, W)``; uint8 is scaled to [0, 1]."""

    def __call__(self, pic: Any) -> Tensor:
        a = _array(pic)
        if a.ndim == 2:
            a = a[None]
        elif a.ndim == 3:
            a = a.transpose(2, 0, 1)
        else:
            raise ValueError(f"ToTensor: expected an image of shape (H, W) or (H, W, C) (got {a.shape})")
        out = a.astype(default_dtype)
        if a.dtype == np.uint8:
            out /= 255.0
        return Tensor._wrap(np.ascontiguousarray(out))

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """Per channel ``(x - mean[c]) / std[c]`` on a ``(C, H, W)`` (or ``(..., C, H, W)``) Tensor."""

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=default_dtype))
        self.std = np.atleast_1d(np.asarray(std, dtype=default_dtype))
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std evaluated to zero ({self.std.tolist()}), leading to division by zero")

    def __call__(self, x: Any) -> Tensor:
        a = _array(x)
        if a.ndim < 3:
            raise ValueError(f"Normalize: expected a (C, H, W) tensor (got shape {a.shape})")
        shape = (-1, 1, 1)
        out = (a - self.mean.reshape(shape)) / self.std.reshape(shape)
        return Tensor._wrap(out.astype(a.dtype if a.dtype.kind == "f" else default_dtype, copy=False))

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Flatten:
    """Any shape -> 1-D (e.g. a ``(1, 28, 28)`` image -> ``(784,)`` for an MLP)."""

    def __call__(self, x: Any) -> Tensor:
        return Tensor._wrap(_array(x).reshape(-1))

    def __repr__(self) -> str:
        return "Flatten()"


class Lambda:
    """Wrap any function as a transform."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


class RandomCrop:
    """Zero-pad the last two dims by ``padding`` then cut a random ``size`` window (CIFAR augmentation)."""

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 fill: float = 0, generator: Generator | None = None) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        p = padding or 0
        # padding: int, (left/right, top/bottom) or (left, top, right, bottom), as torchvision orders it
        if isinstance(p, int):
            p = (p, p, p, p)
        elif len(p) == 2:
            p = (p[0], p[1], p[0], p[1])
        self.padding = tuple(int(v) for v in p)
        self.fill = fill
        self.generator = generator

    def __call__(self, x: Any) -> Tensor:
        a = _array(x)
        if a.ndim < 2:
            raise ValueError(f"RandomCrop: expected an image with at least 2 dims (got shape {a.shape})")
        left, top, right, bottom = self.padding
        if any(self.padding):
            pad = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
            a = np.pad(a, pad, constant_values=self.fill)
        h, w = a.shape[-2:]
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image {(h, w)}")
        rng = numpy_rng(self.generator)
        i, j = int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1))
        return Tensor._wrap(np.ascontiguousarray(a[..., i : i + th, j : j + tw]))

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the last dim (width) with probability ``p``."""

    def __init__(self, p: float = 0.5, generator: Generator | None = None) -> None:
        self.p, self.generator = p, generator

    def __call__(self, x: Any) -> Tensor:
        a = _array(x)
        if numpy_rng(self.generator).random() < self.p:
            a = np.ascontiguousarray(a[..., ::-1])
        return Tensor._wrap(a)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"
