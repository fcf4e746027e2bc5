"""Backpropagation gives the same gradient as central differences, at the cost of about one extra
forward pass instead of 2P of them.

dL/dw_i ~ (L(w + eps e_i) - L(w - eps e_i)) / (2 eps) for each of the P parameters. The cost is
decided by counting passes (2P forward evaluations vs 1 forward + 1 backward); the seconds are shown
only as an illustration (they vary with the machine's load).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import deepling as dl
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def _loss(x: dl.Tensor, w1: dl.Tensor, w2: dl.Tensor) -> dl.Tensor:
    return ((x @ w1).tanh() @ w2).pow(2).mean()


def compare(hidden: int, seed: int = 0) -> dict[str, float]:
    calls = {"forward": 0}

    def loss(x: dl.Tensor, w1: dl.Tensor, w2: dl.Tensor) -> dl.Tensor:
        calls["forward"] += 1
        return _loss(x, w1, w2)

    dl.manual_seed(seed)
    x = dl.randn(16, 8, dtype=dl.float64)
    w1 = dl.randn(8, hidden, dtype=dl.float64, requires_grad=True)
    w2 = dl.randn(hidden, 1, dtype=dl.float64, requires_grad=True)
    t0 = time.perf_counter()
    loss(x, w1, w2).backward()
    t_backprop = time.perf_counter() - t0
    backprop_passes = calls["forward"] + 1  # one forward, one backward
    calls["forward"] = 0
    analytic = np.concatenate([w1.grad.numpy().ravel(), w2.grad.numpy().ravel()])
    numeric = []
    eps = 1e-6
    t0 = time.perf_counter()
    with dl.no_grad():
        for w in (w1, w2):
            flat = w.array.reshape(-1)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                plus = loss(x, w1, w2).item()
                flat[i] = old - eps
                minus = loss(x, w1, w2).item()
                flat[i] = old
                numeric.append((plus - minus) / (2 * eps))
    t_numeric = time.perf_counter() - t0
    numeric_arr = np.array(numeric)
    rel = np.abs(analytic - numeric_arr).max() / max(np.abs(numeric_arr).max(), 1e-12)
    return {"params": float(analytic.size), "max_rel_error": float(rel), "t_backprop": t_backprop, "t_numeric": t_numeric,
            "backprop_passes": float(backprop_passes), "numeric_passes": float(calls["forward"])}


def run(hidden_sizes: tuple[int, ...] = (4, 16, 64), seed: int = 0) -> dict[str, Any]:
    rows = [compare(h, seed) for h in hidden_sizes]
    err = max(r["max_rel_error"] for r in rows)
    ratio = [r["t_numeric"] / r["t_backprop"] for r in rows]
    passes = [r["numeric_passes"] / r["backprop_passes"] for r in rows]
    out = {
        "params": [int(r["params"]) for r in rows],
        "max_rel_error": [r["max_rel_error"] for r in rows],
        "backprop_seconds": [r["t_backprop"] for r in rows],
        "numeric_seconds": [r["t_numeric"] for r in rows],
        "numeric_over_backprop": ratio,
        "backprop_passes": [int(r["backprop_passes"]) for r in rows],
        "numeric_passes": [int(r["numeric_passes"]) for r in rows],
        "numeric_over_backprop_passes": passes,
    }
    p = out["params"]
    out["verdict"] = verdict(__doc__, [
        (f"max relative difference backprop vs central differences {err:.2g} (must be < 1e-6)", err < 1e-6),
        (f"central differences take {out['numeric_passes'][-1]} forward passes (2P) at P = {p[-1]} parameters vs "
         f"{out['backprop_passes'][-1]} passes (1 forward + 1 backward) for backprop: {passes[-1]:.0f}x (must be 2P, > 10x "
         f"and more than at P = {p[0]}: {passes[0]:.0f}x)",
         all(n == 2 * q for n, q in zip(out["numeric_passes"], p)) and all(b == 2 for b in out["backprop_passes"])
         and passes[-1] > 10 and passes[-1] > passes[0]),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots()
    ax = axes[0][0]
    ax.plot(result["params"], result["backprop_seconds"], marker="o", label="backprop (1 backward)")
    ax.plot(result["params"], result["numeric_seconds"], marker="o", label="central differences (2P forwards)")
    ax.set(xscale="log", yscale="log", xlabel="parameters P (log scale)", ylabel="time for one gradient (s, log scale)",
           title="same gradient; numeric differences\ncost 2P forward passes")
    from matplotlib.ticker import NullLocator

    # a tick at each measured size, named in full: the log axis's own labels at 2x, 3x, ... of a decade collide
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(result["params"], [f"{p:,}" for p in result["params"]])
    ax.legend(fontsize=8)
    save(fig, path)
