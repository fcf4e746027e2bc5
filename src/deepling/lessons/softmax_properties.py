"""Softmax outputs are non-negative, sum to 1, ignore a constant added to every logit, and stay
finite for logits of 1e4.

softmax(z)_i = e^{z_i} / sum_j e^{z_j} = e^{z_i - max z} / sum_j e^{z_j - max z} (the stable form).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
import deepling.nn.functional as F
from deepling.lessons.plotting import save, subplots


def run(seed: int = 0) -> dict[str, Any]:
    dl.manual_seed(seed)
    z = dl.randn(1000, 10) * 5
    p = F.softmax(z, dim=1)
    shifted = F.softmax(z + 123.0, dim=1)
    big = dl.tensor([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0]])
    naive = np.exp(big.numpy()) / np.exp(big.numpy()).sum(1, keepdims=True)  # overflows to inf/inf = nan
    return {
        "min_probability": float(p.min().item()),
        "max_abs_row_sum_minus_1": float((p.sum(1) - 1).abs().max().item()),
        "max_change_after_adding_123": float((p - shifted).abs().max().item()),
        "softmax_of_1e4_logits": F.softmax(big, dim=1).tolist(),
        "log_softmax_of_1e4_logits": F.log_softmax(big, dim=1).tolist(),
        "naive_formula_gives_nan": bool(np.isnan(naive).any()),
        "_z": z[0].numpy(), "_p": p[0].numpy(),
    }


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (9, 3.4))
    axes[0][0].bar(range(10), result["_z"])
    axes[0][0].set(title="logits z", xlabel="class")
    axes[0][1].bar(range(10), result["_p"], color="C1")
    axes[0][1].set(title=f"softmax(z): sums to {result['_p'].sum():.6f}", xlabel="class")
    save(fig, path)
