"""Initialization decides whether signals survive depth.

All-zero weights keep every hidden unit identical (symmetry never breaks). Through 10 tanh layers
N(0, 0.01) activations vanish and N(0, 1) saturate, while Xavier (Var w = 2 / (fan_in + fan_out),
uniform bound sqrt(6 / (fan_in + fan_out)), std = bound / sqrt(3)) keeps them in the useful range
(with tanh's gain 5/3 their spread holds steady); Kaiming (Var w = 2 / fan_in) does this for ReLU.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import deepling as dl
import deepling.nn as nn
import deepling.nn.functional as F
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def _stack_stds(init: str, act: str, depth: int, width: int, seed: int) -> list[float]:
    dl.manual_seed(seed)
    h = dl.randn(512, width)
    stds = []
    for _ in range(depth):
        w = dl.empty(width, width)
        if init == "N(0,0.01)":
            nn.init.normal_(w, 0.0, 0.01)
        elif init == "N(0,1)":
            nn.init.normal_(w, 0.0, 1.0)
        elif init == "xavier":
            nn.init.xavier_uniform_(w)
        elif init == "xavier_tanh_gain":
            nn.init.xavier_uniform_(w, gain=nn.init.calculate_gain("tanh"))
        else:
            nn.init.kaiming_normal_(w, nonlinearity="relu")
        h = h @ w.T
        h = h.tanh() if act == "tanh" else h.relu()
        stds.append(float(h.std().item()))
    return stds


def _symmetry(seed: int, steps: int = 50) -> tuple[float, float]:
    """Max difference between hidden units' incoming weights after training, zero vs random init."""
    x, y = dl.randn(64, 4), dl.randint(0, 3, (64,))
    spreads = []
    for zero in (True, False):
        dl.manual_seed(seed)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        if zero:
            for p in model.parameters():
                nn.init.zeros_(p)
        opt = dl.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        w = model[0].weight.detach().numpy()
        spreads.append(float(np.abs(w - w[0]).max()))
    return spreads[0], spreads[1]


def run(depth: int = 10, width: int = 256, seed: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for init in ("N(0,0.01)", "N(0,1)", "xavier", "xavier_tanh_gain"):
        out[f"tanh_{init}_std_per_layer"] = _stack_stds(init, "tanh", depth, width, seed)
    out["relu_kaiming_std_per_layer"] = _stack_stds("kaiming", "relu", depth, width, seed)
    dl.manual_seed(seed)
    saturated_h = dl.randn(512, width)
    for _ in range(depth):
        saturated_h = (saturated_h @ dl.randn(width, width)).tanh()
    out["tanh_N(0,1)_fraction_saturated"] = float((saturated_h.abs() > 0.99).float().mean().item())
    a, b = 300, 100
    w = dl.empty(b, a)
    nn.init.xavier_uniform_(w)
    bound = math.sqrt(6 / (a + b))
    out["xavier_bound_formula"] = bound
    out["xavier_max_abs_sample"] = float(w.abs().max().item())
    out["xavier_std_formula"] = math.sqrt((2 * bound) ** 2 / 12)
    out["xavier_std_sample"] = float(w.std().item())
    out["zero_init_hidden_unit_spread"], out["random_init_hidden_unit_spread"] = _symmetry(seed)
    small, big = out["tanh_N(0,0.01)_std_per_layer"][-1], out["tanh_xavier_std_per_layer"][-1]
    xav, kai = out["tanh_xavier_tanh_gain_std_per_layer"], out["relu_kaiming_std_per_layer"]
    sat = out["tanh_N(0,1)_fraction_saturated"]
    out["verdict"] = verdict(__doc__, [
        (f"zero init: hidden units' weights differ by {out['zero_init_hidden_unit_spread']:.2g} after training "
         f"(must be 0) vs {out['random_init_hidden_unit_spread']:.3g} from random init (must be > 0.1)",
         out["zero_init_hidden_unit_spread"] == 0.0 and out["random_init_hidden_unit_spread"] > 0.1),
        (f"tanh, N(0, 0.01): activation std after {depth} layers {small:.2g} (vanishes: must be < 1e-6)", small < 1e-6),
        (f"tanh, N(0, 1): {100 * sat:.0f}% of units saturated (|h| > 0.99; must be > 70%)", sat > 0.7),
        (f"tanh, Xavier with gain 5/3: std {xav[2]:.3f} at layer 3 and {xav[-1]:.3f} at layer {depth} (must stay in 0.3..0.95 "
         "and keep 70% of it)", 0.3 < xav[-1] < 0.95 and xav[-1] > 0.7 * xav[2]),
        (f"ReLU, Kaiming: std {kai[-1]:.3f} after {depth} layers (must be in 0.3..3)", 0.3 < kai[-1] < 3.0),
        (f"Xavier bound sqrt(6/(fan_in+fan_out)) = {bound:.4f} >= max |w| {out['xavier_max_abs_sample']:.4f}; std "
         f"{out['xavier_std_sample']:.4f} vs bound/sqrt(3) = {out['xavier_std_formula']:.4f} (within 3%)",
         out["xavier_max_abs_sample"] <= bound and abs(out["xavier_std_sample"] / out["xavier_std_formula"] - 1) < 0.03),
        (f"plain Xavier keeps {big / small:.2g}x the signal of N(0, 0.01) after {depth} layers (must be > 1e3)", big > 1e3 * small),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 1, (6, 3.8))
    ax = axes[0][0]
    for key, value in result.items():
        if key.endswith("_std_per_layer"):
            ax.plot(range(1, len(value) + 1), value, marker="o", label=key.replace("_std_per_layer", ""))
    ax.set(yscale="log", xlabel="layer", ylabel="activation std (log scale)",
           title="N(0, 0.01) vanishes, N(0, 1) saturates, Xavier/Kaiming keep the signal")
    ax.title.set_fontsize(9)
    ax.set_xticks(range(1, len(result["relu_kaiming_std_per_layer"]) + 1))
    ax.legend(fontsize=8, loc="lower left")
    save(fig, path)
