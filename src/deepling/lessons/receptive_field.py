"""The receptive field of a conv/pool stack follows a formula, and the input gradient of one output unit shows it.

With kernel k_l and stride s_l at layer l: r_l = r_{l-1} + (k_l - 1) * j_{l-1}, j_l = j_{l-1} * s_l
(r_0 = j_0 = 1: j is the product of earlier strides). The nonzero region of d out_l[unit] / d input
is exactly r_l x r_l (max-pool routes each input's gradient to one winner, so take the union over inputs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
import deepling.nn as nn
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots

# (kind, kernel, stride): a LeNet/VGG-like stack.
STACK = [("conv", 3, 1), ("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("conv", 3, 1), ("pool", 2, 2), ("conv", 5, 1)]


def formula(stack: list[tuple[str, int, int]]) -> list[int]:
    r, j, out = 1, 1, []
    for _, k, s in stack:
        r, j = r + (k - 1) * j, j * s
        out.append(r)
    return out


def _extent(mask: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def run(size: int = 40, batch: int = 128, channels: int = 4, seed: int = 0) -> dict[str, Any]:
    dl.manual_seed(seed)
    layers: list[nn.Module] = []
    c = 1
    for kind, k, s in STACK:
        if kind == "conv":
            conv = nn.Conv2d(c, channels, k, stride=s)
            with dl.no_grad():  # positive weights: no accidental cancellation of gradient paths
                conv.weight.copy_(conv.weight.abs())
            layers.append(conv)
            c = channels
        else:
            layers.append(nn.MaxPool2d(k, s))
    x = dl.randn(batch, 1, size, size, requires_grad=True)
    measured, single, masks = [], [], []
    for depth in range(1, len(STACK) + 1):
        x.grad = None
        h = x
        for layer in layers[:depth]:
            h = layer(h)
        u = h.shape[-1] // 2
        h[:, 0, u, u].sum().backward()  # sum over the batch: each sample's gradient lands in its own slice
        g = x.grad.numpy()[:, 0] != 0
        union = g.any(0)
        measured.append(_extent(union)[0])
        single.append(float(g[0].sum() / union.sum()))
        masks.append(union)
    square = all(_extent(m)[0] == _extent(m)[1] for m in masks)
    filled = all(int(m.sum()) == r * r for m, r in zip(masks, measured))
    return {"stack": [f"{kind}{k}/s{s}" for kind, k, s in STACK], "formula": formula(STACK),
            "measured": measured, "measured_is_square": square, "field_is_filled": filled,
            "one_input_fraction_of_field": single, "_masks": masks,
            "verdict": verdict(__doc__, [
                (f"formula r_l = {formula(STACK)} vs measured extent of the input gradient {measured}", measured == formula(STACK)),
                (f"each measured field is a filled r x r square: square {square}, filled {filled}", square and filled),
            ])}


def plot(result: dict[str, Any], path: str) -> None:
    masks = result["_masks"]
    fig, axes = subplots(1, len(masks), (2.0 * len(masks), 2.6))
    from matplotlib.patches import Patch

    for ax, m, name, r in zip(axes[0], masks, result["stack"], result["formula"]):
        ax.imshow(m, cmap="Greys", interpolation="nearest", vmin=0, vmax=1)
        ax.set_title(f"up to {name}\nformula r = {r}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{m.shape[1]} input pixels", fontsize=7)
    axes[0][-1].legend(handles=[Patch(facecolor="black", label="nonzero gradient"), Patch(facecolor="white", edgecolor="gray",
                       label="zero gradient")], fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("the receptive field follows r_l = r_(l-1) + (k_l - 1) j_(l-1): input pixels whose gradient reaches one "
                 "output unit", fontsize=9)
    save(fig, path)
