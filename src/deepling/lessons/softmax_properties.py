"""Softmax outputs are non-negative, sum to 1, ignore a constant added to every logit, and stay
finite for logits of 1e4.

softmax(z)_i = e^{z_i} / sum_j e^{z_j} = e^{z_i - max z} / sum_j e^{z_j - max z} (the stable form).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
import deepling.nn.functional as F
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def run(seed: int = 0) -> dict[str, Any]:
    dl.manual_seed(seed)
    z = dl.randn(1000, 10) * 5
    p = F.softmax(z, dim=1)
    shifted = F.softmax(z + 123.0, dim=1)
    big = dl.tensor([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0]])
    with np.errstate(over="ignore", invalid="ignore"):  # the point: it overflows to inf/inf = nan
        naive = np.exp(big.numpy()) / np.exp(big.numpy()).sum(1, keepdims=True)
    out = {
        "min_probability": float(p.min().item()),
        "max_abs_row_sum_minus_1": float((p.sum(1) - 1).abs().max().item()),
        "max_change_after_adding_123": float((p - shifted).abs().max().item()),
        "softmax_of_1e4_logits": F.softmax(big, dim=1).tolist(),
        "log_softmax_of_1e4_logits": F.log_softmax(big, dim=1).tolist(),
        "naive_formula_gives_nan": bool(np.isnan(naive).any()),
        "_z": z[0].numpy(), "_p": p[0].numpy(),
    }
    pmin, rows, shift = out["min_probability"], out["max_abs_row_sum_minus_1"], out["max_change_after_adding_123"]
    big_p, big_log = np.array(out["softmax_of_1e4_logits"]), np.array(out["log_softmax_of_1e4_logits"])
    out["verdict"] = verdict(__doc__, [
        (f"min probability {pmin:.2g} (must be >= 0), max |row sum - 1| {rows:.2g} (must be < 1e-6)", pmin >= 0 and rows < 1e-6),
        (f"adding 123 to every logit changes the output by at most {shift:.2g} (must be < 1e-5)", shift < 1e-5),
        (f"logits of 1e4: softmax {big_p.round(6).tolist()} and log-softmax are finite, while the naive formula "
         f"gives NaN ({out['naive_formula_gives_nan']})",
         bool(np.isfinite(big_p).all() and np.isfinite(big_log).all() and np.allclose(big_p, [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-7)
              and out["naive_formula_gives_nan"])),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (9, 3.4))
    axes[0][0].bar(range(10), result["_z"], label="logit z_i")
    axes[0][0].set(title="logits z (any real numbers)", xlabel="class i", ylabel="logit z_i", xticks=range(10))
    axes[0][1].bar(range(10), result["_p"], color="C1", label="softmax(z)_i")
    axes[0][1].set(title=f"softmax(z): non-negative, sums to {result['_p'].sum():.6f}", xlabel="class i",
                   ylabel="probability", xticks=range(10))
    for ax in axes[0]:
        ax.legend(fontsize=8)
    fig.suptitle("softmax turns any logits into probabilities: non-negative, summing to 1", fontsize=10)
    save(fig, path)
