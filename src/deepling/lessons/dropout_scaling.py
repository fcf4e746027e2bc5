"""Dropout keeps the expected activation: inverted dropout scales kept units by 1/(1-p) in training
and is the identity at test time; the classic form keeps units unscaled and multiplies by (1-p) at test.

Here p is the drop probability (PyTorch's convention): E[mask * x / (1-p)] = x.
"""

from __future__ import annotations

from typing import Any

import deepling as dl
import deepling.nn as nn
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots


def run(p: float = 0.5, n: int = 200_000, seed: int = 0) -> dict[str, Any]:
    dl.manual_seed(seed)
    x = dl.rand(n) + 0.5
    drop = nn.Dropout(p)
    train_out = drop(x)
    drop.eval()
    eval_out = drop(x)
    keep = (dl.rand(n) >= p).float()
    classic_train = x * keep  # no scaling while training ...
    classic_test = x * (1 - p)  # ... so test time must scale by the keep probability
    out: dict[str, Any] = {
        "p": p,
        "mean_input": float(x.mean().item()),
        "mean_inverted_train": float(train_out.mean().item()),
        "fraction_zeroed": float((train_out == 0).float().mean().item()),
        "eval_is_identity": bool((eval_out == x).all().item()),
        "mean_classic_train": float(classic_train.mean().item()),
        "mean_classic_test": float(classic_test.mean().item()),
        "_x": x[:50].numpy(), "_y": train_out[:50].numpy(),
    }
    mi, mt, fz = out["mean_input"], out["mean_inverted_train"], out["fraction_zeroed"]
    ct, cs = out["mean_classic_train"], out["mean_classic_test"]
    out["verdict"] = verdict(__doc__, [
        (f"inverted dropout: training mean {mt:.4f} vs input mean {mi:.4f} (within 1%), {100 * fz:.1f}% zeroed "
         f"(p = {p}: within 1 point)", abs(mt / mi - 1) < 0.01 and abs(fz - p) < 0.01),
        (f"inverted dropout is the identity in eval mode: {out['eval_is_identity']}", out["eval_is_identity"]),
        (f"classic dropout: training mean {ct:.4f} vs test mean x (1-p) {cs:.4f} (within 1%)", abs(ct / cs - 1) < 0.01),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots()
    ax = axes[0][0]
    ax.stem(result["_x"], linefmt="C0-", markerfmt="C0o", basefmt=" ", label="input")
    ax.stem(result["_y"], linefmt="C1-", markerfmt="C1x", basefmt=" ", label=f"inverted dropout p={result['p']}")
    ax.set(title="inverted dropout: kept units scaled by 1/(1-p),\nmean unchanged", xlabel="unit index",
           ylabel="activation (a.u.)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    save(fig, path)
