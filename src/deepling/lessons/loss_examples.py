"""For a saturated wrong sigmoid output, MSE's gradient vanishes while cross-entropy's stays near -1
(worked values of both losses check the formulas).

MSE((1,2), (1.5,1.5)) = (0.25 + 0.25) / 2 = 0.25. CE(one-hot class 3, (0.05, 0.1, 0.7, 0.15)) =
-log 0.7 = 0.357. For o = sigma(z), target 1, z = -10: dMSE/dz = (o - 1) o (1 - o) ~ -4.5e-5 (learning
stalls) while dCE/dz = o - 1 ~ -1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def grads_at(z0: float) -> tuple[float, float]:
    z = dl.tensor(z0, dtype=dl.float64, requires_grad=True)
    o = z.sigmoid()
    (0.5 * (o - 1) ** 2).backward()
    g_mse = z.grad.item()
    z.grad = None
    (-(z.sigmoid().log())).backward()
    return g_mse, z.grad.item()


def run(z_saturated: float = -10.0) -> dict[str, Any]:
    mse = ((dl.tensor([1.0, 2.0]) - dl.tensor([1.5, 1.5])) ** 2).mean().item()
    p = dl.tensor([0.05, 0.1, 0.7, 0.15])
    onehot = dl.tensor([0.0, 0.0, 1.0, 0.0])
    ce = -(onehot * p.log()).sum().item()
    g_mse, g_ce = grads_at(z_saturated)
    zs = np.linspace(-10, 10, 81)
    curves = np.array([grads_at(float(z)) for z in zs])
    return {"mse_example": mse, "cross_entropy_example": ce, "minus_log_0.7": float(-np.log(0.7)),
            "dMSE_dz_saturated": g_mse, "dCE_dz_saturated": g_ce, "_z": zs, "_curves": curves,
            "verdict": verdict(__doc__, [
                (f"MSE((1,2), (1.5,1.5)) = {mse:.6g} (must be 0.25)", abs(mse - 0.25) < 1e-7),
                (f"CE(class 3, (0.05, 0.1, 0.7, 0.15)) = {ce:.6g} (must be -log 0.7 = {-np.log(0.7):.6g})",
                 abs(ce + np.log(0.7)) < 1e-6),
                (f"at z = {z_saturated:g}: |dMSE/dz| = {abs(g_mse):.2g} (stalls, must be < 1e-4) while dCE/dz = {g_ce:.4g} "
                 "(must be -1 +- 1e-3)", abs(g_mse) < 1e-4 and abs(g_ce + 1) < 1e-3),
            ])}


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots()
    ax = axes[0][0]
    ax.plot(result["_z"], np.abs(result["_curves"][:, 0]), label="|dMSE/dz|")
    ax.plot(result["_z"], np.abs(result["_curves"][:, 1]), label="|dCE/dz|")
    ax.set(yscale="log", xlabel="logit z (target 1, output sigma(z))", ylabel="|dLoss/dz| (log scale)",
           title="a saturated wrong output:\nMSE's gradient vanishes, cross-entropy's does not")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    save(fig, path)
