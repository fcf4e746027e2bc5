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
    return {
        "conv_params": _count(conv), "conv_params_formula": out_channels * kernel * kernel + out_channels,
        "dense_params": _count(dense),
        "dense_params_formula": canvas * canvas * out_channels * side * side + out_channels * side * side,
        "conv_equivariance_max_diff": float(conv_diff), "conv_map_scale": float(np.abs(fc).max()),
        "dense_equivariance_max_diff": float(dense_diff), "dense_map_scale": float(np.abs(fd).max()),
        "peak_moves_by": [int(peak1[0] - peak0[0]), int(peak1[1] - peak0[1])], "shift": [dy, dx],
        "_inputs": [a, b], "_maps": [fc[0, 0], fc[1, 0]],
    }


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(2, 2, (6.4, 6))
    for i in range(2):
        axes[i][0].imshow(result["_inputs"][i], cmap="gray")
        axes[i][0].set_title("input" + (f" shifted by {tuple(result['shift'])}" if i else ""), fontsize=9)
        axes[i][1].imshow(result["_maps"][i], cmap="viridis")
        axes[i][1].set_title("feature map of filter 0", fontsize=9)
    fig.suptitle(f"conv: {result['conv_params']} parameters vs dense: {result['dense_params']:,}", fontsize=9)
    save(fig, path)
