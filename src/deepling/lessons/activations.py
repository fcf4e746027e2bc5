"""Sigmoid's derivative is at most 1/4, so the gradient shrinks through a stack of sigmoid layers,
while through ReLU layers (He init) it keeps its scale.

sigma' = sigma (1 - sigma) <= 1/4, tanh' = 1 - tanh^2, ReLU' = step(x) (autograd gives the same).
Through 10 sigmoid layers the gradient shrinks by about 1/4 per layer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import deepling as dl
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def _derivative(fn: Any, x: np.ndarray) -> np.ndarray:
    t = dl.tensor(x, requires_grad=True)
    fn(t).sum().backward()
    return t.grad.numpy()


def _input_grad_norm(act: str, depth: int, width: int, seed: int) -> float:
    dl.manual_seed(seed)
    x = dl.randn(64, width, requires_grad=True)
    h = x
    for _ in range(depth):
        std = math.sqrt(2.0 / width) if act == "relu" else math.sqrt(1.0 / width)
        h = h @ (dl.randn(width, width) * std)
        h = h.relu() if act == "relu" else h.sigmoid()
    h.sum().backward()
    return float(x.grad.norm().item())


def run(depth: int = 10, width: int = 64, seed: int = 0) -> dict[str, Any]:
    x = np.linspace(-6, 6, 241).astype(np.float32)
    s = 1 / (1 + np.exp(-x))
    out: dict[str, Any] = {
        "sigmoid_derivative_max_error": float(np.abs(_derivative(dl.sigmoid, x) - s * (1 - s)).max()),
        "tanh_derivative_max_error": float(np.abs(_derivative(dl.tanh, x) - (1 - np.tanh(x) ** 2)).max()),
        "relu_derivative_max_error": float(np.abs(_derivative(dl.relu, x) - (x > 0)).max()),
        "sigmoid_derivative_peak": float(_derivative(dl.sigmoid, x).max()),
    }
    out["grad_norm_sigmoid_1_layer"] = _input_grad_norm("sigmoid", 1, width, seed)
    out[f"grad_norm_sigmoid_{depth}_layers"] = _input_grad_norm("sigmoid", depth, width, seed)
    out["grad_norm_relu_1_layer"] = _input_grad_norm("relu", 1, width, seed)
    out[f"grad_norm_relu_{depth}_layers"] = _input_grad_norm("relu", depth, width, seed)
    out["depth"] = depth
    out["_x"] = x
    peak = out["sigmoid_derivative_peak"]
    errs = max(out["sigmoid_derivative_max_error"], out["tanh_derivative_max_error"], out["relu_derivative_max_error"])
    s1, sd = out["grad_norm_sigmoid_1_layer"], out[f"grad_norm_sigmoid_{depth}_layers"]
    r1, rd = out["grad_norm_relu_1_layer"], out[f"grad_norm_relu_{depth}_layers"]
    out["verdict"] = verdict(__doc__, [
        (f"autograd's derivatives match the formulas: max error {errs:.2g} (must be < 1e-6)", errs < 1e-6),
        (f"sigmoid' peaks at {peak:.4f} (must be 0.25 +- 1e-4)", abs(peak - 0.25) < 1e-4),
        (f"||dL/dx|| through {depth} sigmoid layers {sd:.3g} vs 1 layer {s1:.3g} (ratio {sd / s1:.2g}, must be < 1e-3)", sd < 1e-3 * s1),
        (f"||dL/dx|| through {depth} ReLU layers {rd:.3g} vs 1 layer {r1:.3g} (ratio {rd / r1:.2g}, must be > 0.1)", rd > 0.1 * r1),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    x = result["_x"]
    fig, axes = subplots(1, 3, (13, 3.6))
    for fn, name in [(dl.sigmoid, "sigmoid"), (dl.tanh, "tanh"), (dl.relu, "relu")]:
        axes[0][0].plot(x, fn(dl.tensor(x)).numpy(), label=name)
        axes[0][1].plot(x, _derivative(fn, x), label=name + "'")
    axes[0][0].set(title="activations", ylim=(-1.2, 3), xlabel="pre-activation x", ylabel="activation f(x)")
    axes[0][1].set(title="derivatives (sigmoid' <= 1/4)", xlabel="pre-activation x", ylabel="derivative f'(x)")
    for ax in axes[0][:2]:
        ax.legend(fontsize=8)
    d = result["depth"]
    names = ["sigmoid 1", f"sigmoid {d}", "relu 1", f"relu {d}"]
    vals = [result["grad_norm_sigmoid_1_layer"], result[f"grad_norm_sigmoid_{d}_layers"],
            result["grad_norm_relu_1_layer"], result[f"grad_norm_relu_{d}_layers"]]
    bars = axes[0][2].bar(names, vals, color=["C0", "C0", "C2", "C2"])
    axes[0][2].legend([bars[0], bars[2]], ["sigmoid layers", "ReLU layers (He init)"], fontsize=8)
    axes[0][2].set(yscale="log", title="gradient through the stack", xlabel="activation, number of layers",
                   ylabel="input gradient norm ||dL/dx||")
    fig.suptitle(f"sigmoid' <= 1/4: the gradient vanishes through {d} sigmoid layers, not through ReLU layers", fontsize=10)
    save(fig, path)
