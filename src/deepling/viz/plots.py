"""Training curves and confusion matrices as PNG files (matplotlib's non-interactive Agg backend)."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from deepling.viz.check import savefig_checked

__all__ = ["plot_history", "plot_confusion_matrix"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'deepling[viz]'") from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


_AXIS_LABELS = {"accuracy": "accuracy (fraction correct)"}


def plot_history(history: Any, path: str | os.PathLike, title: str | None = None,
                 loss_label: str = "loss (the training objective)") -> None:
    """Loss (left) and accuracy (right, when tracked) per epoch, train and validation, saved to ``path``.

    ``history``: a ``deepling.train.History`` or its ``to_dict()``; ``loss_label`` names the loss and
    its unit on the y axis (e.g. "cross-entropy (nats)"). With a validation loss, the best
    epoch (lowest validation loss: where early stopping would keep the weights) is marked on each panel.
    """
    plt = _pyplot()
    h = history.to_dict() if hasattr(history, "to_dict") else history
    logs, epochs = h["history"], h["epochs"]
    panels = [p for p in ("loss", "accuracy") if p in logs]
    val = logs.get("val_loss")
    best = epochs[int(np.nanargmin(val))] if val is not None and len(val) and not np.all(np.isnan(val)) else None
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, key in zip(axes[0], panels):
        ax.plot(epochs, logs[key], marker="o", label="train")
        if "val_" + key in logs:
            ax.plot(epochs, logs["val_" + key], marker="o", label="validation")
        if best is not None:
            ax.axvline(best, color="gray", ls="--", lw=0.9, label=f"best epoch: {best} (lowest validation loss)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(loss_label if key == "loss" else _AXIS_LABELS.get(key, key))
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"{key} per epoch")
    fig.suptitle(title or "training curves: train and validation, per epoch")
    fig.tight_layout()
    savefig_checked(fig, path, dpi=100)
    plt.close(fig)


def plot_confusion_matrix(cm: np.ndarray, path: str | os.PathLike, class_names: Sequence[Any] | None = None,
                          title: str = "confusion matrix") -> None:
    """Heat map of ``cm[i, j]`` = true class ``i`` predicted as ``j``, with counts in the cells."""
    plt = _pyplot()
    cm = np.asarray(cm)
    c = cm.shape[0]
    names = [str(n) for n in (class_names if class_names is not None else range(c))]
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * c, 0.8 + 0.5 * c))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, label="images (count)")
    ax.set_xticks(range(c), names, rotation=45, ha="right")
    ax.set_yticks(range(c), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(c):
        for j in range(c):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > threshold else "black")
    fig.tight_layout()
    savefig_checked(fig, path, dpi=100)
    plt.close(fig)
