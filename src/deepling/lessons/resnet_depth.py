"""Residual connections make depth trainable: a plain deep net's input gradient vanishes and it trains worse.

With the default init the plain net's input gradient decays geometrically with depth while the residual
net's does not; Kaiming init (Var w = 2 / fan_in) stops the decay, yet the plain net still trains worse.

plain: h_{l+1} = W_l relu(h_l) + b_l;  residual (pre-activation): h_{l+1} = h_l + W_l relu(h_l) + b_l,
so dh_{l+1}/dh_l = I + J_l keeps an identity path for the gradient instead of a product of L shrinking Jacobians.
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

KINDS = ("plain", "plain_kaiming", "residual")


class _Net(nn.Module):
    def __init__(self, d_in: int, width: int, depth: int, kind: str) -> None:
        super().__init__()
        self.residual = kind == "residual"
        self.inp = nn.Linear(d_in, width)
        self.layers = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])
        self.out = nn.Linear(width, 10)
        if kind == "plain_kaiming":
            for layer in self.layers:
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")

    def forward(self, x: Any) -> Any:
        h = self.inp(x)
        for layer in self.layers:
            h = h + layer(h.relu()) if self.residual else layer(h.relu())
        return self.out(h)


def _input_grad_norm(net: _Net, x: Any, y: Any) -> float:
    xg = x.detach().requires_grad_()
    F.cross_entropy(net(xg), y).backward()
    return float(np.linalg.norm(xg.grad.numpy()))


def _train(net: _Net, x: Any, y: Any, steps: int, lr: float, seed: int) -> list[float]:
    opt = dl.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    losses = []
    dl.manual_seed(seed)
    for _ in range(steps):
        idx = dl.randint(0, x.shape[0], (64,))
        opt.zero_grad()
        loss = F.cross_entropy(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def run(depths: tuple[int, ...] = (2, 5, 10, 20, 40), train_depth: int = 30, width: int = 64, steps: int = 300,
        lr: float = 0.02, n_train: int = 1500, source: str = "auto", seed: int = 0) -> dict[str, Any]:
    data = images(n_train, 1, source, seed)
    x, y = dl.tensor(data["x_train"]), dl.tensor(data["y_train"])
    out: dict[str, Any] = {"source": data["source"], "depths": list(depths), "train_depth": train_depth, "steps": steps}
    for kind in KINDS:
        norms = []
        for depth in depths:
            dl.manual_seed(seed)
            norms.append(_input_grad_norm(_Net(x.shape[1], width, depth, kind), x[:256], y[:256]))
        out[f"{kind}_input_grad_norm"] = norms
        dl.manual_seed(seed)
        losses = _train(_Net(x.shape[1], width, train_depth, kind), x, y, steps, lr, seed)
        out[f"{kind}_train_loss_final"] = float(np.mean(losses[-20:]))
        out[f"_{kind}_losses"] = losses
    plain, res, kai = out["plain_input_grad_norm"], out["residual_input_grad_norm"], out["plain_kaiming_input_grad_norm"]
    lp, lr_, lk = out["plain_train_loss_final"], out["residual_train_loss_final"], out["plain_kaiming_train_loss_final"]
    fmt = lambda v: ", ".join(f"{x:.2g}" for x in v)  # noqa: E731
    out["verdict"] = verdict(__doc__, [
        (f"plain net, default init: ||dL/dx|| at depths {list(depths)} = {fmt(plain)} (each deeper net must keep < 10%)",
         all(b < 0.1 * a for a, b in zip(plain, plain[1:]))),
        (f"residual net: {fmt(res)} (each deeper net must keep > 50%)", all(b > 0.5 * a for a, b in zip(res, res[1:]))),
        (f"plain net, Kaiming init: {fmt(kai)} (no decay: min > 10% of max)", min(kai) > 0.1 * max(kai)),
        (f"training loss after {steps} steps at depth {train_depth}: residual {lr_:.3f} vs plain {lp:.3f} and plain Kaiming "
         f"{lk:.3f} (residual must be < half of both)", lr_ < 0.5 * lp and lr_ < 0.5 * lk),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (10, 3.6))
    for kind in KINDS:
        axes[0][0].plot(result["depths"], result[f"{kind}_input_grad_norm"], marker="o", label=kind)
        axes[0][1].plot(result[f"_{kind}_losses"], label=kind, alpha=0.8)
    axes[0][0].set(xlabel="depth (hidden layers)", ylabel="input gradient norm ||dL/dx|| at init (log scale)", yscale="log",
                   title="gradient reaching the input")
    axes[0][1].set(xlabel="SGD step", ylabel="training cross-entropy (nats)",
                   title=f"training at depth {result['train_depth']} on {result['source']}")
    fig.suptitle("residual connections keep the gradient and make depth trainable", fontsize=10)
    for ax in axes[0]:
        ax.legend(fontsize=8)
    save(fig, path)
