"""Gradient descent on a non-convex loss ends in different minima from different starts; the best
of K random restarts finds the global one.

f(x) = x^4 - 3x^2 + x has a global minimum near x = -1.30 and a local one near x = 1.13. A 2-2-1
sigmoid network on XOR likewise ends at different losses from different initializations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def f(x: Any) -> Any:
    return x**4 - 3 * x**2 + x


def descend(x0: float, lr: float = 0.01, steps: int = 500) -> float:
    x = dl.tensor(x0, dtype=dl.float64, requires_grad=True)
    for _ in range(steps):
        x.grad = None
        f(x).backward()
        with dl.no_grad():
            x -= lr * x.grad
    return x.item()


def xor_final_loss(seed: int, steps: int = 1500, lr: float = 2.0) -> float:
    dl.manual_seed(seed)
    x = dl.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dl.float32)
    t = dl.tensor([[0], [1], [1], [0]], dtype=dl.float32)
    w1, b1 = dl.randn(2, 2, requires_grad=True), dl.zeros(2, requires_grad=True)
    w2, b2 = dl.randn(2, 1, requires_grad=True), dl.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    for _ in range(steps):
        loss = (((x @ w1 + b1).sigmoid() @ w2 + b2).sigmoid() - t).pow(2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with dl.no_grad():
            for p in params:
                p -= lr * p.grad
    return loss.item()


def run(starts: int = 10, seed: int = 0, xor_seeds: int = 8) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    x0s = rng.uniform(-2, 2, starts)
    ends = [descend(float(x0)) for x0 in x0s]
    values = [float(f(np.float64(e))) for e in ends]
    best = int(np.argmin(values))
    minima = sorted({round(e, 2) for e in ends})
    xor_losses = [xor_final_loss(s) for s in range(xor_seeds)]
    lo, hi = min(xor_losses), max(xor_losses)
    return {
        "starts": x0s.tolist(), "ends": ends, "distinct_minima": minima,
        "best_of_restarts_x": ends[best], "best_of_restarts_f": values[best],
        "xor_final_losses": xor_losses,
        "verdict": verdict(__doc__, [
            (f"{starts} starts end in {len(minima)} distinct minima {minima} (must be >= 2)", len(minima) >= 2),
            (f"best of the restarts x = {ends[best]:.4f} (must be the global minimum -1.3008 +- 1e-3)", abs(ends[best] + 1.3008) < 1e-3),
            (f"XOR 2-2-1 final losses over {xor_seeds} seeds range {lo:.3g} .. {hi:.3g} (some < 0.01 solve it, "
             "some > 0.1 are stuck)", lo < 0.01 and hi > 0.1),
        ]),
    }


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (10, 3.6))
    xs = np.linspace(-2.2, 2.2, 300)
    ax = axes[0][0]
    ax.plot(xs, f(xs), color="k")
    for x0, e in zip(result["starts"], result["ends"]):
        ax.annotate("", xy=(e, f(e)), xytext=(x0, f(x0)), arrowprops={"arrowstyle": "->", "alpha": 0.5})
    ax.plot([], [], color="k", lw=0.8, label="start -> end of gradient descent")
    ax.scatter([result["best_of_restarts_x"]], [result["best_of_restarts_f"]], color="C3", zorder=3, label="best of restarts")
    ax.set(title="GD from random starts on x^4 - 3x^2 + x", xlabel="x", ylabel="f(x)")
    ax.legend(fontsize=8)
    losses = result["xor_final_losses"]
    colors = ["C2" if v < 0.01 else "C3" for v in losses]
    axes[0][1].bar(range(len(losses)), losses, color=colors)
    from matplotlib.patches import Patch

    axes[0][1].legend(handles=[Patch(color="C2", label="solved (loss < 0.01)"), Patch(color="C3", label="not solved")], fontsize=8)
    axes[0][1].set(title="XOR 2-2-1: final loss per seed", xlabel="initialization seed", ylabel="final training MSE",
                   xticks=range(len(losses)))
    fig.suptitle("non-convex losses: different starts, different minima; the best restart finds the global one", fontsize=10)
    save(fig, path)
