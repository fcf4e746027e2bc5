"""The chain rule written by hand for the notes' 4-5-3 network equals autograd.

X (1x4), W_h (4x5), W_o (5x3); h = sigma(X W_h), o = sigma(h W_o), L = 1/2 ||o - y||^2.
delta_o = (o - y) * o (1 - o), dL/dW_o = h^T delta_o; delta_h = (delta_o W_o^T) * h (1 - h), dL/dW_h = X^T delta_h.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def by_hand(x: np.ndarray, wh: np.ndarray, wo: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    h = 1 / (1 + np.exp(-(x @ wh)))
    o = 1 / (1 + np.exp(-(h @ wo)))
    loss = 0.5 * float(((o - y) ** 2).sum())
    delta_o = (o - y) * o * (1 - o)
    grad_wo = h.T @ delta_o
    delta_h = (delta_o @ wo.T) * h * (1 - h)
    grad_wh = x.T @ delta_h
    return grad_wh, grad_wo, loss


def run(seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 4))
    wh, wo = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    y = np.array([[0.0, 1.0, 0.0]])
    gwh, gwo, loss = by_hand(x, wh, wo, y)
    twh = dl.tensor(wh, dtype=dl.float64, requires_grad=True)
    two = dl.tensor(wo, dtype=dl.float64, requires_grad=True)
    o = (dl.tensor(x, dtype=dl.float64) @ twh).sigmoid() @ two
    auto_loss = 0.5 * ((o.sigmoid() - dl.tensor(y, dtype=dl.float64)) ** 2).sum()
    auto_loss.backward()
    dh, do = float(np.abs(gwh - twh.grad.numpy()).max()), float(np.abs(gwo - two.grad.numpy()).max())
    return {
        "loss_by_hand": loss, "loss_autograd": auto_loss.item(),
        "max_diff_dW_h": dh, "max_diff_dW_o": do,
        "_gwh": gwh, "_gwo": gwo, "_awh": twh.grad.numpy(), "_awo": two.grad.numpy(),
        "verdict": verdict(__doc__, [
            (f"loss by hand {loss:.12g} vs autograd {auto_loss.item():.12g} (relative difference must be < 1e-12)",
             abs(loss - auto_loss.item()) <= 1e-12 * abs(loss)),
            (f"max |dL/dW_h by hand - autograd| {dh:.2g}, dL/dW_o {do:.2g} (must be < 1e-12 in float64)", dh < 1e-12 and do < 1e-12),
        ]),
    }


def plot(result: dict[str, Any], path: str) -> None:
    from matplotlib.ticker import MaxNLocator

    fig, axes = subplots(1, 2, (9, 3.8))
    for ax, hand, auto, name in [(axes[0][0], "_gwh", "_awh", "dL/dW_h"), (axes[0][1], "_gwo", "_awo", "dL/dW_o")]:
        lim = np.abs(result[hand]).max() * 1.1
        ax.plot([-lim, lim], [-lim, lim], color="gray", lw=0.8, label="y = x")
        ax.scatter(result[hand].ravel(), result[auto].ravel(), label="one weight's gradient")
        ax.set(title=name, xlabel=f"{name} by the chain rule by hand", ylabel=f"{name} by autograd")
        ax.xaxis.set_major_locator(MaxNLocator(5))  # fewer ticks: the negative labels are wide
        ax.legend(fontsize=8)
    fig.suptitle("the chain rule written by hand gives autograd's gradients exactly", fontsize=10)
    save(fig, path)
