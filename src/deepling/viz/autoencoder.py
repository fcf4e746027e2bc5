"""Autoencoder figures (matplotlib, the ``viz`` extra): reconstructions, learned features, 2-D codes."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from deepling.viz.check import savefig_checked
from deepling.viz.plots import _pyplot

__all__ = ["plot_reconstructions", "plot_features", "plot_codes_2d"]


def _np(x: Any) -> np.ndarray:
    return np.asarray(x.array if hasattr(x, "array") and not isinstance(x, np.ndarray) else x)


def _images(x: Any, image_shape: Sequence[int] | None) -> np.ndarray:
    a = _np(x)
    if image_shape is not None:
        return a.reshape(len(a), *image_shape)
    if a.ndim == 4 and a.shape[1] == 1:
        return a[:, 0]
    if a.ndim == 2:
        side = int(round(np.sqrt(a.shape[1])))
        if side * side != a.shape[1]:
            raise ValueError(f"viz: cannot guess an image shape for rows of {a.shape[1]} values; pass image_shape")
        return a.reshape(len(a), side, side)
    return a


def plot_reconstructions(originals: Any, reconstructions: Any, path: str | os.PathLike, n: int = 10,
                         image_shape: Sequence[int] | None = None, title: str | None = None) -> None:
    """Two rows of ``n`` images: originals on top, their reconstructions below. Inputs ``(N, D)`` or ``(N, 1, H, W)``."""
    plt = _pyplot()
    a, b = _images(originals, image_shape), _images(reconstructions, image_shape)
    if a.shape != b.shape:
        raise ValueError(f"plot_reconstructions: originals {a.shape} and reconstructions {b.shape} differ in shape")
    n = min(n, len(a))
    fig, axes = plt.subplots(2, n, figsize=(1.2 * n, 2.6), squeeze=False)
    for i in range(n):
        for row, imgs in enumerate((a, b)):
            ax = axes[row, i]
            ax.imshow(imgs[i], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("input")
    axes[1, 0].set_ylabel("output")
    fig.suptitle(title or "inputs (top row) and their reconstructions (bottom row)")
    fig.tight_layout()
    savefig_checked(fig, path, dpi=100)
    plt.close(fig)


def plot_features(weight: Any, path: str | os.PathLike, image_shape: Sequence[int] | None = None, n: int = 64,
                  title: str | None = None) -> None:
    """The first ``n`` rows of a first-layer weight ``(H, D)`` drawn as images, each scaled to its own range."""
    plt = _pyplot()
    w = _images(weight, image_shape)[:n]
    cols = int(np.ceil(np.sqrt(len(w))))
    rows = int(np.ceil(len(w) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(max(cols, 5.0), rows + 0.4), squeeze=False)  # room for the title
    for ax in axes.ravel():
        ax.axis("off")
    for i, img in enumerate(w):
        axes.ravel()[i].imshow(img, cmap="gray")
    fig.suptitle(title or "first-layer features: one weight image per hidden unit", fontsize=10)
    fig.tight_layout()
    savefig_checked(fig, path, dpi=100)
    plt.close(fig)


def plot_codes_2d(codes: Any, labels: Any, path: str | os.PathLike, title: str | None = None) -> np.ndarray:
    """Scatter of the codes ``(N, K)`` projected to 2-D (PCA when K > 2), colored by label; returns the 2-D points."""
    from deepling.models.autoencoder import pca_project

    c = _np(codes).reshape(len(_np(codes)), -1)
    pts = c if c.shape[1] == 2 else pca_project(c, 2)[0]
    lab = _np(labels).reshape(-1)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    sc = ax.scatter(pts[:, 0], pts[:, 1], c=lab, cmap="tab10", s=4)
    fig.colorbar(sc, ax=ax, label="label")
    ax.set_xlabel("component 1" if c.shape[1] == 2 else "principal component 1 of the codes")
    ax.set_ylabel("component 2" if c.shape[1] == 2 else "principal component 2 of the codes")
    ax.set_title(title or "codes in 2-D, colored by label")
    fig.tight_layout()
    savefig_checked(fig, path, dpi=100)
    plt.close(fig)
    return pts
