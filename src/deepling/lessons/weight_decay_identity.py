"""An L2 penalty lambda/2 ||w||^2 makes one SGD step w <- w (1 - lr lambda) - lr grad, which is
exactly SGD(weight_decay=lambda); AdamW's decoupled decay is not the same as Adam with an L2 term.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
import deepling.nn as nn
import deepling.nn.functional as F
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def _model(seed: int) -> nn.Module:
    dl.manual_seed(seed)
    return nn.Linear(5, 3)


def run(lr: float = 0.1, lam: float = 0.01, seed: int = 0) -> dict[str, Any]:
    dl.manual_seed(seed + 1)
    x, y = dl.randn(16, 5), dl.randn(16, 3)
    # (1) by hand: gradient of the cost, then the decayed update
    m = _model(seed)
    F.mse_loss(m(x), y).backward()
    by_hand = m.weight.array * (1 - lr * lam) - lr * m.weight.grad.array
    # (2) cost + lambda/2 ||w||^2 with plain SGD
    m2 = _model(seed)
    opt = dl.optim.SGD(m2.parameters(), lr=lr)
    (F.mse_loss(m2(x), y) + lam / 2 * (m2.weight**2).sum() + lam / 2 * (m2.bias**2).sum()).backward()
    opt.step()
    # (3) SGD's weight_decay option
    m3 = _model(seed)
    opt3 = dl.optim.SGD(m3.parameters(), lr=lr, weight_decay=lam)
    F.mse_loss(m3(x), y).backward()
    opt3.step()
    # Adam + L2 penalty vs AdamW (decoupled): after a few steps they differ
    finals = []
    for kind in ("adam_l2", "adamw"):
        mk = _model(seed)
        o = dl.optim.Adam(mk.parameters(), lr=lr, weight_decay=lam) if kind == "adam_l2" else dl.optim.AdamW(mk.parameters(), lr=lr, weight_decay=lam)
        for _ in range(5):
            o.zero_grad()
            F.mse_loss(mk(x), y).backward()
            o.step()
        finals.append(mk.weight.detach().numpy().copy())
    d2 = float(np.abs(m2.weight.detach().numpy() - by_hand).max())
    d3 = float(np.abs(m3.weight.detach().numpy() - by_hand).max())
    dadam = float(np.abs(finals[0] - finals[1]).max())
    return {
        "penalty_sgd_vs_formula_max_diff": d2, "weight_decay_option_vs_formula_max_diff": d3,
        "adam_l2_vs_adamw_max_diff_after_5_steps": dadam,
        "_w": by_hand.ravel(), "_w2": m2.weight.detach().numpy().ravel(),
        "verdict": verdict(__doc__, [
            (f"SGD on cost + lambda/2 ||w||^2 vs w (1 - lr lambda) - lr grad: max difference {d2:.2g} (must be < 1e-6)", d2 < 1e-6),
            (f"SGD(weight_decay=lambda) vs the same formula: max difference {d3:.2g} (must be < 1e-6)", d3 < 1e-6),
            (f"Adam + L2 vs AdamW after 5 steps: max weight difference {dadam:.2g} (must be > 1e-4: not the same)", dadam > 1e-4),
        ]),
    }


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots()
    lim = np.abs(result["_w"]).max() * 1.1
    axes[0][0].plot([-lim, lim], [-lim, lim], color="gray", lw=0.8, label="y = x")
    axes[0][0].scatter(result["_w"], result["_w2"], label="one weight after one step")
    axes[0][0].set(xlabel="weight after w (1 - lr lambda) - lr grad", ylabel="weight after SGD\non cost + lambda/2 ||w||^2",
                   title="an L2 penalty step is weight decay")
    axes[0][0].legend(fontsize=8)
    save(fig, path)
