"""An L1 penalty lambda sum |w| drives many weights to (near) zero; an L2 penalty lambda/2 sum w^2
shrinks all weights but leaves few at zero.

The L1 gradient lambda sign(w) pushes every weight toward 0 with constant force; the L2 gradient
lambda w fades as w shrinks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
import deepling.nn as nn
import deepling.nn.functional as F
from deepling.lessons._verdict import verdict
from deepling.lessons.data import images
from deepling.lessons.plotting import save, subplots
from deepling.nn.penalty import l1_penalty, l2_penalty


def _train(penalty: str, lam: float, data: dict[str, Any], epochs: int, seed: int) -> np.ndarray:
    dl.manual_seed(seed)
    x, y = dl.tensor(data["x_train"]), dl.tensor(data["y_train"])
    model = nn.Linear(x.shape[1], 10)
    opt = dl.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(epochs):
        perm = dl.randperm(x.shape[0])
        for i in range(0, x.shape[0], 32):
            idx = perm[i : i + 32]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            if penalty == "l1":
                loss = loss + lam * l1_penalty(model)
            elif penalty == "l2":
                loss = loss + lam * l2_penalty(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.weight.detach().numpy().ravel().copy()


def run(n_train: int = 1000, epochs: int = 15, lam_l1: float = 5e-3, lam_l2: float = 5e-2,
        source: str = "auto", seed: int = 0, near_zero: float = 1e-3) -> dict[str, Any]:
    data = images(n_train, 10, source, seed)
    weights = {name: _train(name, lam, data, epochs, seed) for name, lam in (("none", 0.0), ("l1", lam_l1), ("l2", lam_l2))}
    out: dict[str, Any] = {"source": data["source"], "near_zero_threshold": near_zero}
    for name, w in weights.items():
        out[f"{name}_fraction_near_zero"] = float((np.abs(w) < near_zero).mean())
        out[f"{name}_mean_abs_weight"] = float(np.abs(w).mean())
    out["_weights"] = weights
    f = {k: out[f"{k}_fraction_near_zero"] for k in weights}
    m = {k: out[f"{k}_mean_abs_weight"] for k in weights}
    out["verdict"] = verdict(__doc__, [
        (f"weights with |w| < {near_zero:g}: L1 {100 * f['l1']:.0f}%, L2 {100 * f['l2']:.0f}%, none {100 * f['none']:.0f}% "
         "(L1 must have > 3x the share of both)", f["l1"] > 3 * f["l2"] and f["l1"] > 3 * f["none"]),
        (f"mean |w|: L2 {m['l2']:.4f} < no penalty {m['none']:.4f} (L2 shrinks all weights)", m["l2"] < m["none"]),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 3, (13, 3.4))
    labels = {"none": "no penalty", "l1": "L1 penalty", "l2": "L2 penalty"}
    lim = max(abs(w).max() for w in result["_weights"].values())
    for ax, name, color in zip(axes[0], ("none", "l1", "l2"), ("C0", "C3", "C2")):
        ax.hist(result["_weights"][name], bins=80, range=(-lim, lim), color=color, label=labels[name])
        ax.set(title=f"{labels[name]}: {100 * result[f'{name}_fraction_near_zero']:.0f}% of |w| < {result['near_zero_threshold']:g}",
               xlabel="weight value", ylabel="number of weights (log scale)", yscale="log")
        ax.legend(fontsize=8)
    fig.suptitle("L1 drives many weights to zero; L2 shrinks all of them but leaves few at zero", fontsize=10)
    save(fig, path)
