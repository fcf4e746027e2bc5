"""Stacked linear layers without an activation are one linear layer; with a nonlinearity they are not.

h = x W1 + b1, y = h W2 + b2  =>  y = x (W1 W2) + (b1 W2 + b2): set W = W1 W2, b = b1 W2 + b2.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def run(n: int = 256, d_in: int = 8, d_hidden: int = 16, d_out: int = 4, seed: int = 0) -> dict[str, Any]:
    dl.manual_seed(seed)
    x = dl.randn(n, d_in)
    w1, b1 = dl.randn(d_in, d_hidden), dl.randn(d_hidden)
    w2, b2 = dl.randn(d_hidden, d_out), dl.randn(d_out)
    stacked = (x @ w1 + b1) @ w2 + b2
    w, b = w1 @ w2, b1 @ w2 + b2
    collapsed = x @ w + b
    nonlinear = (x @ w1 + b1).relu() @ w2 + b2
    # The best single linear map for the ReLU network (least squares) still misses it.
    xa = np.hstack([x.numpy(), np.ones((n, 1), np.float32)])
    coef, *_ = np.linalg.lstsq(xa, nonlinear.numpy(), rcond=None)
    residual = nonlinear.numpy() - xa @ coef
    out: dict[str, Any] = {
        "max_diff_linear": float((stacked - collapsed).abs().max().item()),
        "max_diff_relu_vs_collapsed": float((nonlinear - collapsed).abs().max().item()),
        "relu_best_linear_fit_rmse": float(np.sqrt((residual**2).mean())),
        "relu_output_std": float(nonlinear.numpy().std()),
        "_stacked": stacked.numpy()[:, 0], "_collapsed": collapsed.numpy()[:, 0], "_nonlinear": nonlinear.numpy()[:, 0],
    }
    d, fit, std = out["max_diff_linear"], out["relu_best_linear_fit_rmse"], out["relu_output_std"]
    out["verdict"] = verdict(__doc__, [
        (f"two linear layers vs one with W = W1 W2: max difference {d:.2g} (must be < 1e-4 x output std {std:.3g})", d < 1e-4 * std),
        (f"with ReLU, the best single linear map misses by RMSE {fit:.3g} (must be > 0.1 x output std {std:.3g})", fit > 0.1 * std),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (9, 3.8))
    axes[0][0].scatter(result["_stacked"], result["_collapsed"], s=6, label="output unit 0 of 256 inputs")
    axes[0][0].set(title="two linear layers = one layer W = W1 W2", xlabel="two stacked linear layers: output (a.u.)",
                   ylabel="one linear layer W1 W2: output (a.u.)")
    axes[0][1].scatter(result["_nonlinear"], result["_collapsed"], s=6, color="C3", label="output unit 0 of 256 inputs")
    axes[0][1].set(title="with a ReLU between: no single W fits", xlabel="linear-ReLU-linear: output (a.u.)",
                   ylabel="one linear layer W1 W2: output (a.u.)")
    for ax in axes[0]:
        ax.legend(fontsize=8)
    fig.suptitle("without a nonlinearity, stacked linear layers collapse into one linear layer", fontsize=10)
    save(fig, path)
