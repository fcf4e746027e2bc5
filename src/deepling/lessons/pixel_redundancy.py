"""Many MNIST pixels carry almost no information (near-zero variance at the borders), and
neighbouring pixels are strongly correlated, with correlation falling off with distance: raw pixels
are a redundant code, the case for learning features.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.lessons.data import images, resolve_source
from deepling.lessons.plotting import save, subplots


def run(n: int = 5000, max_distance: int = 7, source: str = "auto", seed: int = 0) -> dict[str, Any]:
    if resolve_source(source) == "digits":
        n = min(n, 1437)
    data = images(n, 1, source, seed)
    x = data["x_train"]
    side = data["side"]
    var = x.var(axis=0)
    live = var > 1e-6
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(x[:, live].T)  # pixel-by-pixel correlation across images
    pos = np.argwhere(live.reshape(side, side))
    corr_by_d = []
    for d in range(1, min(max_distance, side - 1) + 1):
        # pairs of live pixels in the same row, d columns apart
        same_row = (pos[:, None, 0] == pos[None, :, 0]) & (pos[None, :, 1] - pos[:, None, 1] == d)
        corr_by_d.append(float(np.nanmean(corr[same_row])))
    return {
        "source": data["source"], "pixels": side * side,
        "fraction_low_variance_pixels": float((var < 0.01 * var.max()).mean()),
        "correlation_by_distance": corr_by_d,
        "_var": var.reshape(side, side),
    }


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (9, 3.6))
    im = axes[0][0].imshow(result["_var"], cmap="viridis")
    fig.colorbar(im, ax=axes[0][0])
    axes[0][0].set(title=f"pixel variance ({100 * result['fraction_low_variance_pixels']:.0f}% below 1% of max)")
    axes[0][1].plot(range(1, len(result["correlation_by_distance"]) + 1), result["correlation_by_distance"], marker="o")
    axes[0][1].set(xlabel="horizontal distance (pixels)", ylabel="correlation", title="neighbours are redundant")
    save(fig, path)
