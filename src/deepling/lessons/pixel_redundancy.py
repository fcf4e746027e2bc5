"""Many MNIST pixels carry almost no information (near-zero variance at the borders), and
neighbouring pixels are strongly correlated, with correlation falling off with distance: raw pixels
are a redundant code, the case for learning features.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.lessons._verdict import verdict
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
    low = float((var < 0.01 * var.max()).mean())
    return {
        "source": data["source"], "pixels": side * side,
        "fraction_low_variance_pixels": low,
        "correlation_by_distance": corr_by_d,
        "_var": var.reshape(side, side),
        "verdict": verdict(__doc__, [
            (f"{100 * low:.0f}% of the {side * side} pixels have variance below 1% of the largest (must be > 10%)", low > 0.1),
            (f"correlation of horizontal neighbours {corr_by_d[0]:.2f} at distance 1 (must be > 0.25), falling to "
             f"{corr_by_d[-1]:.2f} at distance {len(corr_by_d)} (distance 1 must exceed every farther one by 0.2)",
             corr_by_d[0] > 0.25 and corr_by_d[0] > max(corr_by_d[1:]) + 0.2),
        ]),
    }


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (9, 3.6))
    im = axes[0][0].imshow(result["_var"], cmap="viridis")
    fig.colorbar(im, ax=axes[0][0], label="pixel variance (intensity^2, intensity in [0, 1])")
    axes[0][0].set(title=f"pixel variance ({100 * result['fraction_low_variance_pixels']:.0f}% below 1% of max)",
                   xlabel="pixel column", ylabel="pixel row")
    d = range(1, len(result["correlation_by_distance"]) + 1)
    axes[0][1].plot(d, result["correlation_by_distance"], marker="o", label=f"pairs of pixels in one row ({result['source']})")
    axes[0][1].set(xlabel="horizontal distance (pixels)", ylabel="correlation coefficient", xticks=list(d),
                   title="neighbouring pixels are redundant")
    axes[0][1].legend(fontsize=8)
    fig.suptitle("raw pixels are a redundant code: dead borders and correlated neighbours", fontsize=10)
    save(fig, path)
