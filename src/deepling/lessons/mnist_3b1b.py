"""The notes' 784-16-16-10 sigmoid network, trained by plain SGD on MNIST, reads digits (over 90% test
accuracy), and a few gradient components dominate each update (the top 1% of weights carry far more
than 1% of the squared gradient: the relative importance of each weight for the cost).

Its first-layer weights seen as 28x28 images are blurry stroke detectors (the figure).

a1 = sigma(W1 x + b1), a2 = sigma(W2 a1 + b2), y = W3 a2 + b3; cost = cross-entropy; w <- w - lr grad.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
import deepling.nn as nn
import deepling.nn.functional as F
from deepling.lessons._verdict import verdict
from deepling.lessons.data import images, resolve_source
from deepling.lessons.plotting import save, subplots


def run(n_train: int = 20000, n_test: int = 5000, epochs: int | None = None, lr: float = 1.0, batch: int = 32,
        source: str = "auto", seed: int = 0) -> dict[str, Any]:
    if resolve_source(source) == "digits":
        n_train, n_test = min(n_train, 1300), min(n_test, 360)
        epochs = epochs or 40  # 1,300 small images: more passes for the same number of updates
    epochs = epochs or 5
    data = images(n_train, n_test, source, seed)
    dl.manual_seed(seed)
    d = data["x_train"].shape[1]
    model = nn.Sequential(nn.Linear(d, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 10))
    opt = dl.optim.SGD(model.parameters(), lr=lr)
    x, y = dl.tensor(data["x_train"]), dl.tensor(data["y_train"])
    losses = []
    for _ in range(epochs):
        perm = dl.randperm(len(y))
        for i in range(0, len(y), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            losses.append(loss.item())
    with dl.no_grad():
        acc = float((model(dl.tensor(data["x_test"])).argmax(1) == dl.tensor(data["y_test"])).float().mean().item())
    # Relative importance: how concentrated one full-batch gradient is over all 13,002 (or fewer) weights.
    opt.zero_grad()
    F.cross_entropy(model(x[:1000]), y[:1000]).backward()
    g = np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])
    order = np.sort(g**2)[::-1]
    top = max(1, len(g) // 100)
    share = float(order[:top].sum() / order.sum())
    return {
        "verdict": verdict(__doc__, [
            (f"test accuracy {acc:.3f} (must be > 0.9)", acc > 0.9),
            (f"the top 1% of the {g.size} weights carry {100 * share:.1f}% of the squared gradient (must be > 5%)", share > 0.05),
        ]),
        "source": data["source"], "parameters": int(g.size), "test_accuracy": acc,
        "final_train_loss": float(np.mean(losses[-50:])),
        "top_1_percent_share_of_squared_gradient": share,
        "_w1": model[0].weight.detach().numpy().copy(), "_side": data["side"], "_losses": losses,
    }



def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(2, 8, (15, 4.4))
    side = result["_side"]
    lim = float(np.abs(result["_w1"][:16]).max())  # one colour scale for all units, so the colorbar reads for each
    for k, ax in enumerate(axes.ravel()):
        im = ax.imshow(result["_w1"][k].reshape(side, side), cmap="seismic", vmin=-lim, vmax=lim)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"hidden unit {k}", fontsize=8)
    fig.suptitle(f"784-16-16-10 sigmoid net reads digits (test accuracy {result['test_accuracy']:.3f}); "
                 "its first-layer weights, one 28x28 image per hidden unit, are blurry stroke detectors", fontsize=10)
    fig.tight_layout()
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="weight value (pixel -> unit)")
    save(fig, path, tight=False)
