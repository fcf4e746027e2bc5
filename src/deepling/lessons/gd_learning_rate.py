"""The learning rate decides whether gradient descent diverges, oscillates or converges.

Minimize L(x) = 4x^2 from x0 = 2 with x <- x - lr * L'(x) = (1 - 8 lr) x. Without a rate (lr = 1)
x goes 2, -14, 98 (diverges); lr = 0.25 oscillates between 2 and -2; lr = 0.24 converges while
oscillating (factor -0.92); lr = 0.1 converges monotonically (factor 0.2).
"""

from __future__ import annotations

from typing import Any

import deepling as dl
from deepling.lessons._verdict import verdict
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
    checks = []
    for lr in rates:  # x_t = (1 - 8 lr)^t x0: the factor decides the regime
        path, factor = out[f"lr={lr}"], 1 - 8 * lr
        signs_alternate = all(a * b < 0 for a, b in zip(path, path[1:]))
        if abs(factor) > 1:
            checks.append((f"lr={lr} (factor {factor:+.2f}): |x| grows {abs(path[0]):.3g} -> {abs(path[-1]):.3g} (diverges)",
                           all(abs(b) > abs(a) for a, b in zip(path, path[1:]))))
        elif abs(factor) == 1:
            checks.append((f"lr={lr} (factor {factor:+.2f}): x stays at +-{abs(path[0]):.3g}, max deviation "
                           f"{max(abs(abs(p) - abs(path[0])) for p in path):.2g} (oscillates)",
                           signs_alternate and all(abs(abs(p) - abs(path[0])) < 1e-12 for p in path)))
        elif factor < 0:
            checks.append((f"lr={lr} (factor {factor:+.2f}): sign flips every step and |x| {abs(path[0]):.3g} -> "
                           f"{abs(path[-1]):.3g} (converges while oscillating)", signs_alternate and abs(path[-1]) < abs(path[0])))
        else:
            checks.append((f"lr={lr} (factor {factor:+.2f}): x decreases monotonically {path[0]:.3g} -> {path[-1]:.3g} "
                           "(converges)", all(0 < b < a for a, b in zip(path, path[1:]))))
    out["verdict"] = verdict(__doc__, checks)
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (10, 3.6))
    for key, value in result.items():
        if isinstance(value, list):
            ax = axes[0][0] if key == "lr=1.0" else axes[0][1]
            ax.plot(value, marker="o", label=key)
    axes[0][0].set_yscale("symlog", linthresh=1.0)
    # every third decade only: a tick per decade on both signs crowds the labels into each other
    axes[0][0].set_yticks([-1e8, -1e5, -1e2, 0, 1e2, 1e5, 1e8])
    axes[0][0].set(title="lr = 1: divergence", xlabel="gradient step", ylabel="parameter x (symlog scale)")
    axes[0][1].set(title="smaller rates: oscillation, then convergence", xlabel="gradient step", ylabel="parameter x")
    for ax in axes[0]:
        ax.legend(fontsize=8)
    fig.suptitle("gradient descent on 4x^2: the learning rate decides divergence, oscillation or convergence", fontsize=10)
    save(fig, path)
