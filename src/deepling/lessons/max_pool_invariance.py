"""Max-pooling makes features robust to small shifts: pooled features change less under 1-pixel shifts.

The wider the pool, the smaller the change, for raw pixels and for conv feature maps alike.

Relative change of a representation f under shift s: ||f(s(x)) - f(x)|| / ||f(x)||, averaged over
images and the four 1-pixel shifts; f = maxpool_k(x) or maxpool_k(relu(conv(x))), k = 1 (no pool), 2, 4.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
import deepling.nn as nn
from deepling.lessons._verdict import verdict
from deepling.lessons.data import images
from deepling.lessons.plotting import save, subplots


def _shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift (N, 1, H, W) images by (dy, dx) pixels, filling with zeros (no wrap-around)."""
    out = np.zeros_like(x)
    H, W = x.shape[-2:]
    out[..., max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = x[..., max(-dy, 0) : H - max(dy, 0), max(-dx, 0) : W - max(dx, 0)]
    return out


def _relative_change(f: Any, x: np.ndarray) -> float:
    with dl.no_grad():
        base = f(dl.tensor(x)).numpy().reshape(len(x), -1)
        changes = []
        for dy, dx in [(1, 0), (-1, 0), (0, 1), (0, -1)]:
            moved = f(dl.tensor(_shift(x, dy, dx))).numpy().reshape(len(x), -1)
            changes.append(np.linalg.norm(moved - base, axis=1) / np.linalg.norm(base, axis=1))
    return float(np.mean(changes))


def run(n: int = 500, pools: tuple[int, ...] = (1, 2, 4), channels: int = 8, source: str = "auto", seed: int = 0) -> dict[str, Any]:
    data = images(n, 1, source, seed)  # (MNIST loading needs n_test >= 1)
    side = data["side"]
    x = data["x_train"].reshape(n, 1, side, side)
    dl.manual_seed(seed)
    conv = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.ReLU())
    out: dict[str, Any] = {"source": data["source"], "pools": list(pools), "pixels": [], "conv_features": []}
    for k in pools:
        pool = nn.MaxPool2d(k, k) if k > 1 else nn.Identity()
        out["pixels"].append(_relative_change(pool, x))
        out["conv_features"].append(_relative_change(nn.Sequential(conv, pool), x))
    out["_example"] = [x[0, 0], _shift(x, 0, 1)[0, 0]]
    checks = []
    for key in ("pixels", "conv_features"):
        c = out[key]
        checks.append((f"{key.replace('_', ' ')}: relative change under a 1-pixel shift "
                       + ", ".join(f"{v:.3f} (pool {k})" for k, v in zip(pools, c))
                       + " (each wider pool must shrink it; the first pool by 20%)",
                       c[1] < 0.8 * c[0] and all(b < a for a, b in zip(c, c[1:]))))
    out["verdict"] = verdict(__doc__, checks)
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (9, 3.6))
    im = axes[0][0].imshow(np.concatenate(result["_example"], axis=1), cmap="gray", vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[0][0], label="pixel intensity", shrink=0.8)
    axes[0][0].set(title="a digit and its 1-pixel shift", xticks=[], yticks=[], xlabel="original | shifted right by 1 pixel")
    ax = axes[0][1]
    for key in ("pixels", "conv_features"):
        ax.plot(result["pools"], result[key], marker="o", label=key.replace("_", " "))
    ax.set(xlabel="max-pool size (1 = none)", ylabel="relative change under 1-pixel shift", xticks=result["pools"],
           title=f"wider max-pools: smaller change ({result['source']})", ylim=(0, None))
    ax.legend(fontsize=8)
    fig.suptitle("max-pooling makes features robust to small shifts", fontsize=10)
    save(fig, path)
