"""Half a trained MLP's weights can be pruned for free; PCA features and an SVM are strong alternatives.

The notes' traditional remedies: 80% pruned costs a little, 95%+ breaks the net without retraining;
10-20 PCA components keep most of the accuracy; an SVM is a strong baseline on the same data.

Magnitude pruning: zero every weight with |w| below the s-quantile of all |w| (one global cut, no retraining).
PCA: z = V_k^T (x - mu), then the same MLP on z. SVM: scikit-learn SVC (RBF kernel) on the raw pixels.
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


def _fit(x: np.ndarray, y: np.ndarray, hidden: int, epochs: int, seed: int) -> nn.Sequential:
    dl.manual_seed(seed)
    model = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, 10))
    opt = dl.optim.Adam(model.parameters(), lr=3e-3)
    xs, ys = dl.tensor(x), dl.tensor(y)
    for _ in range(epochs):
        perm = dl.randperm(len(x))
        for i in range(0, len(x), 50):
            idx = perm[i : i + 50]
            opt.zero_grad()
            F.cross_entropy(model(xs[idx]), ys[idx]).backward()
            opt.step()
    return model


def _accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with dl.no_grad():
        return float((model(dl.tensor(x)).numpy().argmax(1) == y).mean())


def _prune(model: nn.Sequential, sparsity: float) -> None:
    """Global magnitude pruning: one threshold over all weight matrices (biases are kept)."""
    layers = [m for m in model if isinstance(m, nn.Linear)]
    ws = [m.weight.detach().numpy() for m in layers]
    cut = np.quantile(np.abs(np.concatenate([w.ravel() for w in ws])), sparsity) if sparsity > 0 else -1.0
    with dl.no_grad():
        for m, w in zip(layers, ws):
            m.weight.copy_(dl.tensor(np.where(np.abs(w) <= cut, 0, w).astype(w.dtype)))


def run(n_train: int = 3000, n_test: int = 1000, hidden: int = 256, epochs: int = 10,
        sparsities: tuple[float, ...] = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99), components: tuple[int, ...] = (2, 5, 10, 20, 40),
        source: str = "auto", seed: int = 0) -> dict[str, Any]:
    from sklearn.svm import SVC

    from deepling.lessons.data import resolve_source

    if resolve_source(source) == "digits":
        n_train, n_test = min(n_train, 1400), min(n_test, 360)
    data = images(n_train, n_test, source, seed)
    x, y, xt, yt = data["x_train"], data["y_train"], data["x_test"], data["y_test"]
    out: dict[str, Any] = {"source": data["source"], "sparsities": list(sparsities), "components": list(components)}
    model = _fit(x, y, hidden, epochs, seed)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    acc = []
    for s in sparsities:
        model.load_state_dict(state)
        _prune(model, s)
        acc.append(_accuracy(model, xt, yt))
    out["pruned_accuracy"] = acc
    mu = x.mean(0)
    _, sv, vt = np.linalg.svd(x - mu, full_matrices=False)
    out["pca_accuracy"], out["pca_variance_kept"] = [], []
    for k in components:
        v = vt[:k].T
        out["pca_accuracy"].append(_accuracy(_fit((x - mu) @ v, y, hidden, epochs, seed), (xt - mu) @ v, yt))
        out["pca_variance_kept"].append(float((sv[:k] ** 2).sum() / (sv**2).sum()))
    out["input_dim"] = x.shape[1]
    out["svm_accuracy"] = float((SVC(kernel="rbf", gamma="scale").fit(x, y).predict(xt) == yt).mean())
    out["mlp_accuracy"] = acc[0] if sparsities[0] == 0 else _accuracy(_fit(x, y, hidden, epochs, seed), xt, yt)
    base, by = out["mlp_accuracy"], dict(zip(sparsities, acc))
    pca = dict(zip(components, out["pca_accuracy"]))
    k = 20 if 20 in pca else 10 if 10 in pca else components[len(components) // 2]
    checks = [(f"MLP on all pixels: test accuracy {base:.3f} (must be > 0.9)", base > 0.9)]
    if 0.5 in by:
        checks.append((f"50% of the weights pruned: accuracy {by[0.5]:.3f} (free: within 2 points of {base:.3f})", by[0.5] > base - 0.02))
    if 0.99 in by:
        checks.append((f"99% pruned without retraining: accuracy {by[0.99]:.3f} (breaks: must be < 0.5)", by[0.99] < 0.5))
    checks += [
        (f"MLP on {k} PCA components: accuracy {pca[k]:.3f} (strong: within 3 points of all pixels)", pca[k] > base - 0.03),
        (f"SVM (RBF) on the pixels: accuracy {out['svm_accuracy']:.3f} (strong: must be > 0.9 and within 2 points of the MLP)",
         out["svm_accuracy"] > 0.9 and out["svm_accuracy"] > base - 0.02),
    ]
    out["verdict"] = verdict(__doc__, checks)
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (10, 3.6))
    ax = axes[0][0]
    ax.plot([100 * s for s in result["sparsities"]], result["pruned_accuracy"], marker="o", label="pruned MLP (no retraining)")
    ax.axhline(result["svm_accuracy"], color="C2", ls="--", label="SVM (RBF)")
    ax.set(xlabel="weights pruned (%)", ylabel="test accuracy (fraction)", title=f"magnitude pruning ({result['source']})", ylim=(0, 1.02))
    ax.legend(fontsize=8)
    ax = axes[0][1]
    ax.plot(result["components"], result["pca_accuracy"], marker="o", label="MLP on PCA features")
    ax.plot(result["components"], result["pca_variance_kept"], marker="s", ls=":", label="variance kept")
    ax.axhline(result["mlp_accuracy"], color="C0", ls="--", label=f"MLP on all {result['input_dim']} pixels")
    ax.axhline(result["svm_accuracy"], color="C2", ls="--", label="SVM (RBF)")
    ax.set(xlabel="PCA components", xscale="log", ylabel="test accuracy / variance kept (fraction)", title="PCA preprocessing",
           ylim=(0, 1.02))
    ax.minorticks_off()
    ax.set_xticks(result["components"], [str(c) for c in result["components"]])
    ax.legend(fontsize=8)
    fig.suptitle("half the weights prune for free; PCA features and an SVM are strong alternatives", fontsize=10)
    save(fig, path)
