"""An LSTM remembers across many steps where a vanilla RNN's gradient vanishes and it fails.

Task: recall the first token (one of 2) after T random distractors. The RNN's gradient to step 0 decays
with T and it fails for large T; the LSTM (forget-gate bias 2) keeps the gradient and succeeds.

RNN: h_t = tanh(W x_t + U h_{t-1}), so dh_T/dh_0 = prod_t diag(1 - h_t^2) U shrinks geometrically;
LSTM: c_t = f_t * c_{t-1} + i_t * g_t, so dc_T/dc_0 = prod_t f_t stays near 1 once the forget gates open.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
import deepling.nn as nn
import deepling.nn.functional as F
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


class _Recall(nn.Module):
    def __init__(self, cell: str, n_in: int, hidden: int, n_out: int, forget_bias: float) -> None:
        super().__init__()
        self.rnn = nn.LSTM(n_in, hidden) if cell == "lstm" else nn.RNN(n_in, hidden)
        self.head = nn.Linear(hidden, n_out)
        if cell == "lstm":  # a positive forget-gate bias (Jozefowicz et al. 2015): the cell starts out remembering
            with dl.no_grad():
                self.rnn.bias_ih_l0[hidden : 2 * hidden] = forget_bias

    def forward(self, x: Any) -> Any:  # x: (T+1, N, n_in) -> logits (N, n_out) from the last hidden state
        out, _ = self.rnn(x)
        return self.head(out[-1])


def _batch(rng: np.random.Generator, n: int, T: int, classes: int, distractors: int) -> tuple[Any, Any]:
    """First step: one of ``classes`` tokens (the answer); then T random distractor tokens."""
    y = rng.integers(0, classes, n)
    tokens = np.concatenate([y[None], classes + rng.integers(0, distractors, (T, n))])
    x = np.eye(classes + distractors, dtype=np.float32)[tokens]
    return dl.tensor(x), dl.tensor(y.astype(np.int64))


def _grad_to_first_step(model: _Recall, x: Any, y: Any) -> float:
    xg = x.detach().requires_grad_()
    F.cross_entropy(model(xg), y).backward()
    return float(np.linalg.norm(xg.grad.numpy()[0]))


def run(lengths: tuple[int, ...] = (5, 20, 40), hidden: int = 32, steps: int = 150, batch: int = 128, lr: float = 3e-3,
        classes: int = 2, distractors: int = 4, forget_bias: float = 2.0, seed: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"lengths": list(lengths), "chance": 1 / classes}
    for cell in ("rnn", "lstm"):
        accs, g_init, g_trained, curves = [], [], [], []
        for T in lengths:
            rng = np.random.default_rng(seed)
            dl.manual_seed(seed)
            model = _Recall(cell, classes + distractors, hidden, classes, forget_bias)
            xv, yv = _batch(rng, 500, T, classes, distractors)
            g_init.append(_grad_to_first_step(model, xv, yv))
            opt = dl.optim.Adam(model.parameters(), lr=lr)
            losses = []
            for _ in range(steps):
                x, y = _batch(rng, batch, T, classes, distractors)
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                losses.append(loss.item())
            g_trained.append(_grad_to_first_step(model, xv, yv))
            with dl.no_grad():
                accs.append(float((model(xv).numpy().argmax(1) == yv.numpy()).mean()))
            curves.append(losses)
        out[f"{cell}_accuracy"], out[f"{cell}_grad_first_step_init"] = accs, g_init
        out[f"{cell}_grad_first_step_trained"], out[f"_{cell}_losses"] = g_trained, curves
    rg, lg = out["rnn_grad_first_step_init"], out["lstm_grad_first_step_init"]
    ra, la, chance = out["rnn_accuracy"], out["lstm_accuracy"], out["chance"]
    T0, T1 = lengths[0], lengths[-1]
    out["verdict"] = verdict(__doc__, [
        (f"RNN gradient to the first token {rg[0]:.2g} at T={T0} -> {rg[-1]:.2g} at T={T1} (vanishes: must fall below 1e-4x)",
         rg[-1] < 1e-4 * rg[0]),
        (f"LSTM gradient to the first token at T={T1}: {lg[-1]:.2g} (must be > 1e3x the RNN's)", lg[-1] > 1e3 * rg[-1]),
        (f"recall accuracy at T={T0}: RNN {ra[0]:.2f}, LSTM {la[0]:.2f} (both must be > 0.9)", ra[0] > 0.9 and la[0] > 0.9),
        (f"recall accuracy at T={T1}: RNN {ra[-1]:.2f} (fails: must be < chance {chance:.2f} + 0.1), LSTM {la[-1]:.2f} "
         "(must be > 0.9)", ra[-1] < chance + 0.1 and la[-1] > 0.9),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (10, 3.6))
    for cell, style in (("rnn", "--"), ("lstm", "-")):
        axes[0][0].plot(result["lengths"], result[f"{cell}_grad_first_step_init"], style, marker="o", label=f"{cell} at init")
        axes[0][1].plot(result["lengths"], result[f"{cell}_accuracy"], style, marker="o", label=cell)
    axes[0][1].axhline(result["chance"], color="gray", lw=0.8, label="chance")
    axes[0][0].set(xlabel="distractors T (time steps)", ylabel="gradient norm ||dL/dx_0|| at init (log scale)", yscale="log",
                   title="gradient reaching the first token", xticks=result["lengths"])
    axes[0][1].set(xlabel="distractors T (time steps)", ylabel="recall accuracy (fraction)", ylim=(0, 1.05),
                   title="recall the first token after T steps", xticks=result["lengths"])
    fig.suptitle("the LSTM keeps the gradient and remembers; the vanilla RNN's gradient vanishes and it fails", fontsize=10)
    for ax in axes[0]:
        ax.legend(fontsize=8)
    save(fig, path)
