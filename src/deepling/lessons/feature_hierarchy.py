"""A trained CNN builds a hierarchy of feature maps: local strokes at full resolution first, then coarser, sparser parts.

Layer-1 maps are stroke detectors at full resolution; layer-2 maps have fewer pixels, fewer active
units and respond to larger parts of the digit.

conv1 (3x3) -> ReLU -> maxpool 2 -> conv2 (3x3) -> ReLU -> maxpool 2 -> linear; each layer l sees an
r_l x r_l input window (r = 3, 4, 8, 10) on an (H / 2^pools) grid.
"""

from __future__ import annotations

from typing import Any

import deepling as dl
import deepling.nn as nn
import deepling.nn.functional as F
from deepling.lessons._verdict import verdict
from deepling.lessons.data import images
from deepling.lessons.plotting import save, subplots

LAYERS = ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]


def _model(side: int, c1: int, c2: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(c2 * (side // 4) ** 2, 10))


def run(n_train: int = 3000, n_test: int = 1000, epochs: int = 3, c1: int = 8, c2: int = 16, lr: float = 3e-3,
        source: str = "auto", seed: int = 0) -> dict[str, Any]:
    from deepling.lessons.data import resolve_source

    if resolve_source(source) == "digits":
        n_train, n_test = min(n_train, 1400), min(n_test, 360)
    data = images(n_train, n_test, source, seed)
    side = data["side"]
    xtr = dl.tensor(data["x_train"].reshape(-1, 1, side, side))
    ytr = dl.tensor(data["y_train"])
    xte = dl.tensor(data["x_test"].reshape(-1, 1, side, side))
    dl.manual_seed(seed)
    model = _model(side, c1, c2)
    opt = dl.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        perm = dl.randperm(n_train)
        for i in range(0, n_train, 50):
            idx = perm[i : i + 50]
            opt.zero_grad()
            F.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
    out: dict[str, Any] = {"source": data["source"]}
    with dl.no_grad():
        out["test_accuracy"] = float((model(xte).numpy().argmax(1) == data["y_test"]).mean())
        h, maps = xte, {}
        for name, layer in zip(LAYERS, model):
            h = layer(h)
            maps[name] = h.numpy()
    for name in ("relu1", "pool1", "relu2", "pool2"):
        m = maps[name]
        out[f"{name}_shape"] = list(m.shape[1:])
        out[f"{name}_fraction_active"] = float((m > 0).mean())
        out[f"{name}_mean"] = float(m.mean())
    r1, r2 = out["relu1_shape"], out["relu2_shape"]
    a1, a2 = out["relu1_fraction_active"], out["relu2_fraction_active"]
    out["verdict"] = verdict(__doc__, [
        (f"test accuracy {out['test_accuracy']:.3f} (the CNN has learned: must be > 0.85)", out["test_accuracy"] > 0.85),
        (f"layer-1 maps {r1} are at full resolution {side}x{side}, layer-2 maps {r2} at half", r1[1:] == [side, side]
         and r2[1:] == [side // 2, side // 2]),
        (f"fraction of active units: layer 1 {a1:.2f}, layer 2 {a2:.2f} (deeper maps must be sparser)", a2 < a1),
    ])
    out["_digit"] = data["x_test"][0].reshape(side, side)
    out["_maps"] = {k: maps[k][0] for k in ("relu1", "relu2")}
    return out


def plot(result: dict[str, Any], path: str) -> None:
    m1, m2 = result["_maps"]["relu1"], result["_maps"]["relu2"]
    cols = max(len(m1), len(m2) // 2)
    fig, axes = subplots(3, cols + 1, (1.3 * (cols + 1), 4.6))
    for ax in axes.ravel():
        ax.axis("off")
    axes[0][0].imshow(result["_digit"], cmap="gray")
    axes[0][0].set_title("input", fontsize=8)
    for j, m in enumerate(m1):  # one colour scale per layer: each colorbar reads for its row(s)
        im1 = axes[0][j + 1].imshow(m, cmap="magma", vmin=0, vmax=float(m1.max()))
    axes[0][1].set_title(f"layer 1 (ReLU) maps, {m1.shape[1]}x{m1.shape[2]}", fontsize=8, loc="left")
    for j, m in enumerate(m2):
        im2 = axes[1 + j // cols][1 + j % cols].imshow(m, cmap="magma", vmin=0, vmax=float(m2.max()))
    axes[1][1].set_title(f"layer 2 (ReLU) maps, {m2.shape[1]}x{m2.shape[2]}: coarser, sparser", fontsize=8, loc="left")
    fig.suptitle(f"trained CNN on {result['source']} (test accuracy {result['test_accuracy']:.3f}): "
                 "full-resolution strokes, then coarser, sparser parts", fontsize=9)
    fig.tight_layout()
    fig.colorbar(im1, ax=axes[0].tolist(), shrink=0.9, label="layer 1 activation")
    fig.colorbar(im2, ax=axes[1:].ravel().tolist(), shrink=0.9, label="layer 2 activation")
    save(fig, path, tight=False)
