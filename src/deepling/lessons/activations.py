"""Sigmoid, tanh and ReLU with their derivatives, and why sigmoid stacks saturate.

sigma' = sigma (1 - sigma) <= 1/4, tanh' = 1 - tanh^2, ReLU' = step(x). Through 10 sigmoid layers
the gradient shrinks by about 1/4 per layer; through ReLU layers (He init) it keeps its scale.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import deepling as dl
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
    return out


def plot(result: dict[str, Any], path: str) -> None:
    x = result["_x"]
    fig, axes = subplots(1, 3, (13, 3.6))
    for fn, name in [(dl.sigmoid, "sigmoid"), (dl.tanh, "tanh"), (dl.relu, "relu")]:
        axes[0][0].plot(x, fn(dl.tensor(x)).numpy(), label=name)
        axes[0][1].plot(x, _derivative(fn, x), label=name + "'")
    axes[0][0].set(title="activations", ylim=(-1.2, 3))
    axes[0][1].set(title="derivatives (sigmoid' <= 1/4)")
    for ax in axes[0][:2]:
        ax.legend(fontsize=8)
    d = result["depth"]
    names = ["sigmoid 1", f"sigmoid {d}", "relu 1", f"relu {d}"]
    vals = [result["grad_norm_sigmoid_1_layer"], result[f"grad_norm_sigmoid_{d}_layers"],
            result["grad_norm_relu_1_layer"], result[f"grad_norm_relu_{d}_layers"]]
    axes[0][2].bar(names, vals, color=["C0", "C0", "C2", "C2"])
    axes[0][2].set(yscale="log", title="||dL/dx|| through the stack")
    save(fig, path)
