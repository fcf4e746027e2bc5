"""Stop gradient descent when ||grad L|| < eps: the iterations needed grow like log(1/eps).

On a strongly convex quadratic L(w) = 1/2 w^T A w the gradient shrinks by a constant factor per step,
so each tenfold smaller eps costs about the same number of extra iterations.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import deepling as dl
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def iterations_to(eps: float, lr: float = 0.1, max_iter: int = 100_000) -> int:
    a = dl.tensor(np.diag([1.0, 4.0]), dtype=dl.float64)
    w = dl.tensor([2.0, -1.5], dtype=dl.float64, requires_grad=True)
    for it in range(max_iter):
        loss = 0.5 * (w @ a @ w)
        w.grad = None
        loss.backward()
        if w.grad.norm().item() < eps:
            return it
        with dl.no_grad():
            w -= lr * w.grad
    return max_iter


def run(eps_values: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6), lr: float = 0.1) -> dict[str, Any]:
    iters = [iterations_to(e, lr) for e in eps_values]
    slope = np.polyfit([math.log10(1 / e) for e in eps_values], iters, 1)[0]
    steps = np.diff(iters)
    return {"eps": list(eps_values), "iterations": iters, "extra_iterations_per_decade": float(slope),
            "verdict": verdict(__doc__, [
                (f"iterations {iters} grow as eps shrinks", all(b > a for a, b in zip(iters, iters[1:]))),
                (f"extra iterations per tenfold smaller eps: {steps.tolist()} (spread {int(steps.max() - steps.min())}, "
                 "must be <= 3: a constant cost per decade, i.e. log(1/eps))", int(steps.max() - steps.min()) <= 3),
            ])}


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots()
    axes[0][0].plot(result["eps"], result["iterations"], marker="o",
                    label=f"{result['extra_iterations_per_decade']:.1f} extra iterations per decade")
    axes[0][0].set(xscale="log", xlabel="tolerance eps (stop when ||grad L|| < eps)", ylabel="iterations until stop",
                   title="iterations grow like log(1/eps)")
    axes[0][0].invert_xaxis()
    axes[0][0].legend(fontsize=8)
    save(fig, path)
