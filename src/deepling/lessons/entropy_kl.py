"""Self-information, entropy and KL divergence; H(p, q) = H(p) + KL(p || q), so for a fixed p
minimizing cross-entropy over q is minimizing KL.

I(x) = -log p(x), H(p) = -sum p log p, KL(p||q) = sum p log(p/q), H(p, q) = -sum p log q.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def _softmax(z: dl.Tensor) -> dl.Tensor:
    e = (z - z.max()).exp()
    return e / e.sum()


def _fit(p: dl.Tensor, objective: str, steps: int, lr: float, seed: int) -> tuple[list[float], np.ndarray]:
    dl.manual_seed(seed)
    z = dl.randn(p.shape[0], dtype=dl.float64, requires_grad=True)
    path = []
    for _ in range(steps):
        q = _softmax(z)
        ce = -(p * q.log()).sum()
        loss = ce if objective == "ce" else (p * (p / q).log()).sum()
        z.grad = None
        loss.backward()
        with dl.no_grad():
            z -= lr * z.grad
        path.append(loss.item())
    return path, _softmax(z).detach().numpy()


def run(steps: int = 200, lr: float = 0.5, seed: int = 0) -> dict[str, Any]:
    p = dl.tensor([0.5, 0.25, 0.125, 0.125], dtype=dl.float64)
    q = dl.tensor([0.25, 0.25, 0.25, 0.25], dtype=dl.float64)
    info = (-p.log() / np.log(2)).tolist()
    h_p = -(p * p.log()).sum().item()
    h_pq = -(p * q.log()).sum().item()
    kl = (p * (p / q).log()).sum().item()
    ce_path, q_ce = _fit(p, "ce", steps, lr, seed)
    kl_path, q_kl = _fit(p, "kl", steps, lr, seed)
    dev = float(np.ptp(np.array(ce_path) - np.array(kl_path)))
    gap = float(np.abs(q_ce - p.numpy()).max())
    out = {
        "self_information_bits": info, "entropy_bits": h_p / np.log(2), "H(p)": h_p, "H(p,q)": h_pq, "KL(p||q)": kl,
        "H(p,q)-H(p)-KL": h_pq - h_p - kl,
        "ce_minus_kl_along_training_max_dev": float(np.ptp(np.array(ce_path) - np.array(kl_path))),
        "q_after_ce": q_ce.tolist(), "q_after_kl": q_kl.tolist(), "_ce": ce_path, "_kl": kl_path,
    }
    out["verdict"] = verdict(__doc__, [
        (f"self-information {info} bits, entropy {h_p / np.log(2):.4g} bits (must be [1, 2, 3, 3] and 1.75)",
         np.allclose(info, [1, 2, 3, 3]) and abs(h_p / np.log(2) - 1.75) < 1e-9),
        (f"H(p,q) - H(p) - KL(p||q) = {h_pq - h_p - kl:.2g} (must be 0 within 1e-12)", abs(h_pq - h_p - kl) < 1e-12),
        (f"cross-entropy minus KL along training varies by {dev:.2g} (must be < 1e-9: the same minimization)", dev < 1e-9),
        (f"minimizing cross-entropy gives q within {gap:.2g} of p (must be < 1e-4)", gap < 1e-4),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots()
    ax = axes[0][0]
    ax.plot(result["_ce"], label="cross-entropy H(p,q)")
    ax.plot(result["_kl"], label="KL(p||q)")
    ax.axhline(result["H(p)"], ls="--", color="gray", label="H(p)")
    ax.set(xlabel="gradient step", ylabel="loss (nats)", title="cross-entropy = H(p) + KL:\nsame gradients, offset by the constant H(p)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    save(fig, path)
