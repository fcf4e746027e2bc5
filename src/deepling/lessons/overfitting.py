"""With few training images a large network drives its training loss toward zero while its test
loss turns and rises (variance: it memorizes); a tiny network cannot even fit the training set
(bias: it underfits). Learning curves show both.
"""

from __future__ import annotations

from typing import Any

import deepling as dl
import deepling.nn as nn
import deepling.nn.functional as F
from deepling.lessons._verdict import verdict
from deepling.lessons.data import images
from deepling.lessons.plotting import save, subplots


def _curves(hidden: tuple[int, ...], data: dict[str, Any], epochs: int, seed: int, lr: float = 1e-3) -> dict[str, list[float]]:
    dl.manual_seed(seed)
    xtr, ytr = dl.tensor(data["x_train"]), dl.tensor(data["y_train"])
    xte, yte = dl.tensor(data["x_test"]), dl.tensor(data["y_test"])
    sizes = (xtr.shape[1], *hidden)
    layers: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(sizes[-1], 10))
    opt = dl.optim.Adam(model.parameters(), lr=lr)
    train, test = [], []
    for _ in range(epochs):
        perm = dl.randperm(xtr.shape[0])
        for i in range(0, xtr.shape[0], 50):
            idx = perm[i : i + 50]
            opt.zero_grad()
            F.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
        with dl.no_grad():
            train.append(F.cross_entropy(model(xtr), ytr).item())
            test.append(F.cross_entropy(model(xte), yte).item())
    return {"train": train, "test": test}


def run(n_train: int = 500, n_test: int = 1000, epochs: int = 60, source: str = "auto", seed: int = 0,
        hidden: tuple[int, ...] = (512, 512), lr: float = 1e-3) -> dict[str, Any]:
    data = images(n_train, n_test, source, seed)
    big = _curves(tuple(hidden), data, epochs, seed, lr)
    small = _curves((2,), data, epochs, seed, lr)
    best = min(range(epochs), key=lambda e: big["test"][e])
    tr, te, te_best, tiny = big["train"][-1], big["test"][-1], big["test"][best], small["train"][-1]
    return {
        "source": data["source"], "n_train": n_train, "hidden": list(hidden),
        "large_train_loss_final": tr, "large_test_loss_best": te_best,
        "large_test_loss_final": te, "large_best_epoch": best + 1,
        "small_train_loss_final": tiny, "small_test_loss_final": small["test"][-1],
        "_big": big, "_small": small,
        "verdict": verdict(__doc__, [
            (f"large MLP: final training loss {tr:.2g} nats (memorized: must be < 0.005)", tr < 0.005),
            (f"large MLP: test loss is lowest at epoch {best + 1} ({te_best:.3f}) and ends at {te:.3f} (it turns and rises: "
             f"the end must be > 1.02 x the best, with the best before the last epoch {epochs})", te > 1.02 * te_best and best + 1 < epochs),
            (f"large MLP: final test loss {te:.3f} vs training loss {tr:.2g} (a wide gap: must be > 100x)", te > 100 * tr),
            (f"tiny MLP (2 units): final training loss {tiny:.3f} (underfits: must be > 100 x the large MLP's)", tiny > 100 * tr),
        ]),
    }


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (10, 3.6))
    for ax, key, title in [(axes[0][0], "_big", f"large MLP {result['hidden']}: memorizes (variance)"),
                           (axes[0][1], "_small", "tiny MLP (2 units): underfits (bias)")]:
        epochs = range(1, len(result[key]["train"]) + 1)
        ax.plot(epochs, result[key]["train"], label="training loss")
        ax.plot(epochs, result[key]["test"], label="test loss")
        if key == "_big":
            ax.axvline(result["large_best_epoch"], color="gray", ls="--", lw=0.9,
                       label=f"best epoch: {result['large_best_epoch']} (lowest test loss)")
            ax.scatter([result["large_best_epoch"]], [result["large_test_loss_best"]], color="C1", zorder=3)
        ax.set(title=f"{title}\n{result['n_train']} {result['source']} training images", xlabel="epoch",
               ylabel="cross-entropy (nats, log scale)", yscale="log")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=8)
    fig.suptitle("too large a network memorizes (its test loss rises after the best epoch); too small a one underfits",
                 fontsize=10)
    save(fig, path)
