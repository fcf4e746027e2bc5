"""Rosenblatt's perceptron learns AND and OR but never XOR; a 2-2-1 MLP learns XOR.

Perceptron: y = step(w . x + b), rule w <- w + lr (t - y) x. It can only draw one line, and no line
separates XOR's classes (Minsky & Papert, 1969). One hidden layer of two units is enough.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
TARGETS = {
    "AND": np.array([0, 0, 0, 1], dtype=np.float32),
    "OR": np.array([0, 1, 1, 1], dtype=np.float32),
    "XOR": np.array([0, 1, 1, 0], dtype=np.float32),
}


def perceptron(x: np.ndarray, t: np.ndarray, epochs: int = 50, lr: float = 0.1) -> tuple[np.ndarray, float, list[float]]:
    """Train with the perceptron rule; returns weights (w1, w2, b), final accuracy, accuracy per epoch."""
    w = dl.zeros(2)
    b = dl.zeros(())
    xs, ts = dl.tensor(x), dl.tensor(t)
    history = []
    for _ in range(epochs):
        for xi, ti in zip(xs, ts):  # the rule is online: one example at a time
            y = ((xi * w).sum() + b >= 0).float()
            w += lr * (ti - y) * xi
            b += lr * (ti - y)
        pred = ((xs @ w + b) >= 0).float()
        history.append(float((pred == ts).float().mean().item()))
    return np.append(w.numpy(), b.item()), history[-1], history


def mlp_xor(steps: int = 2000, lr: float = 1.0, seed: int = 0) -> tuple[dl.nn.Module, list[float], float]:
    """A 2-2-1 network (tanh hidden, sigmoid output) trained by full-batch gradient descent on MSE."""
    dl.manual_seed(seed)
    model = dl.nn.Sequential(dl.nn.Linear(2, 2), _Tanh(), dl.nn.Linear(2, 1), _Sigmoid())
    x, t = dl.tensor(X), dl.tensor(TARGETS["XOR"]).reshape(4, 1)
    losses = []
    for _ in range(steps):
        loss = ((model(x) - t) ** 2).mean()
        model.zero_grad()
        loss.backward()
        with dl.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        losses.append(loss.item())
    with dl.no_grad():
        acc = float(((model(x) > 0.5).float() == t).float().mean().item())
    return model, losses, acc


class _Tanh(dl.nn.Module):
    def forward(self, x: dl.Tensor) -> dl.Tensor:
        return x.tanh()


class _Sigmoid(dl.nn.Module):
    def forward(self, x: dl.Tensor) -> dl.Tensor:
        return x.sigmoid()


def run(epochs: int = 50, mlp_steps: int = 2000, seed: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, t in TARGETS.items():
        w, acc, _ = perceptron(X, t, epochs)
        out[f"perceptron_{name}_accuracy"] = acc
        out[f"perceptron_{name}_weights"] = w.tolist()
    model, losses, acc = mlp_xor(mlp_steps, seed=seed)
    out["mlp_XOR_accuracy"] = acc
    out["mlp_XOR_final_loss"] = losses[-1]
    out["_mlp"] = model
    a, o, x = (out[f"perceptron_{k}_accuracy"] for k in ("AND", "OR", "XOR"))
    out["verdict"] = verdict(__doc__, [
        (f"perceptron accuracy on AND {a:.2f} and OR {o:.2f} (must be 1.00)", a == 1.0 and o == 1.0),
        (f"perceptron accuracy on XOR {x:.2f} (must be <= 0.75: no line separates XOR)", x <= 0.75),
        (f"2-2-1 MLP accuracy on XOR {acc:.2f} (must be 1.00)", acc == 1.0),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 4, (16.5, 3.8))
    grid = np.stack(np.meshgrid(np.linspace(-0.5, 1.5, 200), np.linspace(-0.5, 1.5, 200)), -1).reshape(-1, 2).astype(np.float32)
    for ax, name in zip(axes[0], ["AND", "OR", "XOR"]):
        w = np.array(result[f"perceptron_{name}_weights"])
        z = (grid @ w[:2] + w[2] >= 0).reshape(200, 200)
        _draw(ax, z, TARGETS[name], f"perceptron {name}: accuracy {result[f'perceptron_{name}_accuracy']:.2f}")
    with dl.no_grad():
        z = (result["_mlp"](dl.tensor(grid)).numpy() > 0.5).reshape(200, 200)
    _draw(axes[0][3], z, TARGETS["XOR"], f"2-2-1 MLP XOR: accuracy {result['mlp_XOR_accuracy']:.2f}", legend=True)
    fig.suptitle("a perceptron draws one line: it learns AND and OR, never XOR; one hidden layer learns XOR", fontsize=10)
    save(fig, path)


def _draw(ax: Any, region: np.ndarray, t: np.ndarray, title: str, legend: bool = False) -> None:
    from matplotlib.patches import Patch

    ax.imshow(region, origin="lower", extent=(-0.5, 1.5, -0.5, 1.5), cmap="coolwarm", alpha=0.35, vmin=0, vmax=1)
    for cls, color in ((0, "#3b4cc0"), (1, "#b40426")):
        pts = X[t == cls]
        ax.scatter(pts[:, 0], pts[:, 1], color=color, edgecolors="k", s=80, label=f"target {cls}")
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color="#b40426", alpha=0.35, label="predicted 1"), Patch(color="#3b4cc0", alpha=0.35, label="predicted 0")]
    if legend:
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax.set(xlabel="input x1 (0 or 1)", ylabel="input x2 (0 or 1)")
    ax.set_title(title, fontsize=9)
