"""A conv layer needs far fewer parameters than a dense layer of the same sizes, and its maps shift with the input.

One small filter is shared across the image, so the same pattern gets the same response wherever it is.

Conv: C_out * C_in * k * k + C_out parameters; dense: (C_in H W) * (C_out H' W') + C_out H' W'.
Equivariance: conv(shift_d(x)) = shift_d(conv(x)) away from the border; a dense layer has no such rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
import deepling.nn as nn
from deepling.lessons._verdict import verdict
from deepling.lessons.data import images
from deepling.lessons.plotting import save, subplots


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _place(pattern: np.ndarray, canvas: int, at: tuple[int, int]) -> np.ndarray:
    x = np.zeros((canvas, canvas), np.float32)
    s = pattern.shape[0]
    x[at[0] : at[0] + s, at[1] : at[1] + s] = pattern
    return x


def run(canvas: int = 24, out_channels: int = 8, kernel: int = 3, shift: tuple[int, int] = (9, 5), seed: int = 0) -> dict[str, Any]:
    if 2 + max(shift) + 8 > canvas:
        raise ValueError(f"weight_sharing: an 8x8 digit shifted by {shift} does not fit a {canvas}x{canvas} canvas")
    dl.manual_seed(seed)
    digit = images(1, 0, "digits", seed)["x_train"][0].reshape(8, 8)
    conv = nn.Conv2d(1, out_channels, kernel)
    side = canvas - kernel + 1
    dense = nn.Linear(canvas * canvas, out_channels * side * side)
    dy, dx = shift
    a, b = _place(digit, canvas, (2, 2)), _place(digit, canvas, (2 + dy, 2 + dx))
    x = dl.tensor(np.stack([a, b])[:, None])
    with dl.no_grad():
        fc = conv(x).numpy()
        fd = dense(x.reshape(2, -1)).numpy().reshape(2, out_channels, side, side)
    # Compare the shifted map of the first image with the map of the shifted image on their common region.
    conv_diff = np.abs(fc[1][:, dy:, dx:] - fc[0][:, : side - dy, : side - dx]).max()
    dense_diff = np.abs(fd[1][:, dy:, dx:] - fd[0][:, : side - dy, : side - dx]).max()
    peak0 = np.unravel_index(fc[0, 0].argmax(), (side, side))
    peak1 = np.unravel_index(fc[1, 0].argmax(), (side, side))
    out = {
        "conv_params": _count(conv), "conv_params_formula": out_channels * kernel * kernel + out_channels,
        "dense_params": _count(dense),
        "dense_params_formula": canvas * canvas * out_channels * side * side + out_channels * side * side,
        "conv_equivariance_max_diff": float(conv_diff), "conv_map_scale": float(np.abs(fc).max()),
        "dense_equivariance_max_diff": float(dense_diff), "dense_map_scale": float(np.abs(fd).max()),
        "peak_moves_by": [int(peak1[0] - peak0[0]), int(peak1[1] - peak0[1])], "shift": [dy, dx],
        "_inputs": [a, b], "_maps": [fc[0, 0], fc[1, 0]],
    }
    cp, dp = out["conv_params"], out["dense_params"]
    out["verdict"] = verdict(__doc__, [
        (f"conv parameters {cp} = C_out C_in k k + C_out = {out['conv_params_formula']}; dense {dp:,} = formula "
         f"{out['dense_params_formula']:,} (more than 1000x the conv's)",
         cp == out["conv_params_formula"] and dp == out["dense_params_formula"] and dp > 1000 * cp),
        (f"conv(shifted x) vs shifted conv(x): max difference {conv_diff:.2g} (must be < 1e-6 x map scale "
         f"{out['conv_map_scale']:.3g}); the peak moves by {out['peak_moves_by']} = the shift {out['shift']}",
         conv_diff < 1e-6 * out["conv_map_scale"] and out["peak_moves_by"] == out["shift"]),
        (f"dense layer: max difference {dense_diff:.3g} (no such rule: must be > 0.3 x its map scale {out['dense_map_scale']:.3g})",
         dense_diff > 0.3 * out["dense_map_scale"]),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(2, 2, (6.4, 6))
    lim = max(float(np.abs(m).max()) for m in result["_maps"])
    for i in range(2):
        im0 = axes[i][0].imshow(result["_inputs"][i], cmap="gray", vmin=0, vmax=1)
        axes[i][0].set_title("input" + (f" shifted by {tuple(result['shift'])}" if i else ""), fontsize=9)
        fig.colorbar(im0, ax=axes[i][0], label="pixel intensity", shrink=0.8)
        im1 = axes[i][1].imshow(result["_maps"][i], cmap="viridis", vmin=-lim, vmax=lim)
        axes[i][1].set_title("feature map of filter 0" + (": shifted the same" if i else ""), fontsize=9)
        fig.colorbar(im1, ax=axes[i][1], label="filter response", shrink=0.8)
        for ax in axes[i]:
            ax.set(xlabel="column (pixels)", ylabel="row (pixels)")
    fig.suptitle(f"one shared 3x3 filter: {result['conv_params']} parameters vs dense {result['dense_params']:,}; "
                 "shift in, shift out", fontsize=9)
    save(fig, path)
