"""A linear autoencoder trained on squared error matches PCA's reconstruction error at the same
code size (it learns the same subspace); a nonlinear autoencoder with the same code size beats it.

PCA: x_hat = V_k V_k^T (x - mu) + mu with the top-k right singular vectors; AE: minimize ||f(x) - x||^2.
The nonlinear one is d-128-k-128-d with ReLU hidden layers, a linear code (a ReLU on an 8-unit code
kills units and loses to PCA) and a sigmoid output; measured on held-out images.
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


def pca_error(x: np.ndarray, xt: np.ndarray, k: int) -> float:
    mu = x.mean(0)
    _, _, vt = np.linalg.svd(x - mu, full_matrices=False)
    v = vt[:k].T
    rec = (xt - mu) @ v @ v.T + mu
    return float(((rec - xt) ** 2).mean())


def train_ae(model: nn.Module, x: np.ndarray, xt: np.ndarray, epochs: int, lr: float, seed: int) -> float:
    opt = dl.optim.Adam(model.parameters(), lr=lr)
    xs = dl.tensor(x)
    for _ in range(epochs):
        perm = dl.randperm(len(x))
        for i in range(0, len(x), 64):
            batch = xs[perm[i : i + 64]]
            opt.zero_grad()
            F.mse_loss(model(batch), batch).backward()
            opt.step()
    with dl.no_grad():
        xtt = dl.tensor(xt)
        return float(F.mse_loss(model(xtt), xtt).item())


def run(code: int = 8, n_train: int = 5000, n_test: int = 1000, epochs: int = 30, source: str = "auto", seed: int = 0) -> dict[str, Any]:
    from deepling.lessons.data import resolve_source

    if resolve_source(source) == "digits":
        n_train, n_test = min(n_train, 1400), min(n_test, 360)
    data = images(n_train, n_test, source, seed)
    x, xt = data["x_train"], data["x_test"]
    d = x.shape[1]
    dl.manual_seed(seed)
    linear = nn.Sequential(nn.Linear(d, code), nn.Linear(code, d))
    lin_err = train_ae(linear, x, xt, epochs, 3e-3, seed)
    dl.manual_seed(seed)
    deep = nn.Sequential(nn.Linear(d, 128), nn.ReLU(), nn.Linear(128, code), nn.Linear(code, 128), nn.ReLU(), nn.Linear(128, d),
                         nn.Sigmoid())
    deep_err = train_ae(deep, x, xt, epochs, 3e-3, seed)
    pca = pca_error(x, xt, code)
    return {"source": data["source"], "code_size": code, "pca_test_mse": pca,
            "linear_ae_test_mse": lin_err, "nonlinear_ae_test_mse": deep_err,
            "verdict": verdict(__doc__, [
                (f"linear AE test MSE {lin_err:.4f} vs PCA {pca:.4f} (ratio {lin_err / pca:.3f}: must be in 0.95..1.25, PCA being "
                 "the optimum for a linear code)", 0.95 * pca < lin_err < 1.25 * pca),
                (f"nonlinear AE test MSE {deep_err:.4f} vs PCA {pca:.4f} (ratio {deep_err / pca:.3f}: must be < 0.9)", deep_err < 0.9 * pca),
            ])}


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots()
    names = ["PCA", "linear AE", "nonlinear AE"]
    vals = [result["pca_test_mse"], result["linear_ae_test_mse"], result["nonlinear_ae_test_mse"]]
    bars = axes[0][0].bar(names, vals, color=["C0", "C1", "C2"])
    axes[0][0].legend(bars, ["PCA (top-k subspace)", "linear autoencoder", "nonlinear autoencoder"], fontsize=8)
    axes[0][0].set(ylabel="test reconstruction MSE\n(per pixel, intensities in [0, 1])", xlabel="method",
                   title=f"code of {result['code_size']} numbers ({result['source']}):\nlinear AE = PCA, nonlinear AE beats it")
    axes[0][0].title.set_fontsize(9)
    save(fig, path)
