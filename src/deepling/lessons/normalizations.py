"""BatchNorm, LayerNorm, InstanceNorm and GroupNorm differ only in the axes they average over,
on one (N, C, H, W) tensor: BN over (N, H, W) per channel, LN over (C, H, W) per sample, IN over
(H, W) per sample and channel, GN over (C/G, H, W) per sample and group. BN uses batch statistics
in train mode and its running averages in eval mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
import deepling.nn as nn
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots

AXES = {"batch": (0, 2, 3), "layer": (1, 2, 3), "instance": (2, 3)}


def _manual(x: np.ndarray, axes: tuple[int, ...], eps: float = 1e-5) -> np.ndarray:
    return (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)


def run(shape: tuple[int, int, int, int] = (4, 6, 5, 5), groups: int = 3, seed: int = 0) -> dict[str, Any]:
    dl.manual_seed(seed)
    x = dl.randn(*shape) * 3 + 1
    n, c, h, w = shape
    layers = {
        "batch": nn.BatchNorm2d(c, affine=False),
        "layer": nn.LayerNorm((c, h, w), elementwise_affine=False),
        "instance": nn.InstanceNorm2d(c),
        "group": nn.GroupNorm(groups, c, affine=False),
    }
    out: dict[str, Any] = {}
    xn = x.numpy()
    for name, layer in layers.items():
        y = layer(x).detach().numpy()
        if name == "group":
            ref = _manual(xn.reshape(n, groups, c // groups, h, w), (2, 3, 4)).reshape(shape)
        else:
            ref = _manual(xn, AXES[name])
        out[f"{name}_max_diff_vs_axes_formula"] = float(np.abs(y - ref).max())
    bn = nn.BatchNorm2d(c)
    for _ in range(20):
        bn(dl.randn(*shape) * 3 + 1)
    bn.eval()
    y_eval = bn(x).detach().numpy()
    bn.train()
    y_train = bn(x).detach().numpy()
    out["bn_running_mean_avg"] = float(bn.running_mean.numpy().mean())
    out["bn_running_var_avg"] = float(bn.running_var.numpy().mean())
    out["bn_train_vs_eval_max_diff"] = float(np.abs(y_train - y_eval).max())
    out["groups"] = groups
    diffs = {k: out[f"{k}_max_diff_vs_axes_formula"] for k in layers}
    out["verdict"] = verdict(__doc__, [
        ("each layer equals (x - mean) / std over its axes: max differences "
         + ", ".join(f"{k} {v:.2g}" for k, v in diffs.items()) + " (must be < 1e-5)", max(diffs.values()) < 1e-5),
        (f"BN's running mean {out['bn_running_mean_avg']:.3f} tracks the data's mean 1 (within 0.2)", abs(out["bn_running_mean_avg"] - 1) < 0.2),
        (f"BN train vs eval output differ by {out['bn_train_vs_eval_max_diff']:.3f} (eval uses running statistics: must be > 0.05)",
         out["bn_train_vs_eval_max_diff"] > 0.05),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    """The four axis patterns: which (sample, channel) cells share one mean and variance."""
    fig, axes = subplots(1, 4, (13, 3.4))
    n, c, g = 4, 6, result["groups"]
    patterns = {
        "BatchNorm: per channel": np.tile(np.arange(c), (n, 1)),
        "LayerNorm: per sample": np.tile(np.arange(n)[:, None], (1, c)),
        "InstanceNorm: per (sample, channel)": np.arange(n * c).reshape(n, c),
        f"GroupNorm ({g} groups): per (sample, group)": np.arange(n)[:, None] * g + np.arange(c)[None, :] // (c // g),
    }
    for ax, (title, pat) in zip(axes[0], patterns.items()):
        ax.imshow(pat, cmap="tab20", vmin=0, vmax=19)
        ax.set(title=title, xlabel="channel C (each cell spans H x W)", ylabel="sample N", xticks=range(c), yticks=range(n))
        ax.title.set_fontsize(9)
    fig.suptitle("the four norms differ only in their axes: cells of one colour share one mean and variance", fontsize=10)
    save(fig, path)
