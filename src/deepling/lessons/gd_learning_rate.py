"""The learning rate decides whether gradient descent diverges, oscillates or converges.

Minimize L(x) = 4x^2 from x0 = 2 with x <- x - lr * L'(x) = (1 - 8 lr) x. Without a rate (lr = 1)
x goes 2, -14, 98 (diverges); lr = 0.25 oscillates between 2 and -2; lr = 0.24 converges while
oscillating (factor -0.92); lr = 0.1 converges monotonically (factor 0.2).
"""

from __future__ import annotations

from typing import Any

import deepling as dl
from deepling.lessons.plotting import save, subplots

RATES = (1.0, 0.25, 0.24, 0.1)


def descend(lr: float, x0: float = 2.0, steps: int = 10) -> list[float]:
    """Plain gradient descent on 4x^2 with the gradient from autograd (float64 to show exact values)."""
    x = dl.tensor(x0, dtype=dl.float64, requires_grad=True)
    path = [x.item()]
    for _ in range(steps):
        loss = 4 * x**2
        x.grad = None
        loss.backward()
        with dl.no_grad():
            x -= lr * x.grad
        path.append(x.item())
    return path


def run(x0: float = 2.0, steps: int = 10, rates: tuple[float, ...] = RATES) -> dict[str, Any]:
    out: dict[str, Any] = {f"lr={lr}": descend(lr, x0, steps) for lr in rates}
    for lr in rates:
        path = out[f"lr={lr}"]
        out[f"lr={lr} final |x|"] = abs(path[-1])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (10, 3.6))
    for key, value in result.items():
        if isinstance(value, list):
            ax = axes[0][0] if key == "lr=1.0" else axes[0][1]
            ax.plot(value, marker="o", label=key)
    axes[0][0].set(title="lr = 1: divergence", yscale="symlog", xlabel="step", ylabel="x")
    axes[0][1].set(title="smaller rates", xlabel="step")
    axes[0][1].legend(fontsize=8)
    save(fig, path)
