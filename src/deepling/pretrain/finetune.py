"""Supervised fine-tuning with few labels: a labeled validation split, early stopping on it, the best
weights restored; and pseudo-labeling, which turns unlabeled images into (confident) training labels.

``finetune`` runs on the one training loop (``deepling.train.fit``); the validation split decides the
epoch to keep, so the test set is never looked at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

import deepling as dl
from deepling import nn, optim
from deepling.autograd import no_grad
from deepling.data import DataLoader, TensorDataset
from deepling.train.callbacks import Callback
from deepling.train.fit import fit

__all__ = ["labeled_subset", "labeled_split", "BestValidation", "FinetuneResult", "finetune", "predict_proba",
           "accuracy", "pseudo_label"]


def labeled_subset(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted indices of ``per_class`` random examples of each class (fixed by ``seed``)."""
    rng = np.random.default_rng(seed)
    idx = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < per_class:
            raise ValueError(f"labeled_subset: class {c} has {len(members)} examples, fewer than {per_class}")
        idx.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(idx))


def labeled_split(y: np.ndarray, idx: np.ndarray, val_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split the labeled indices ``idx`` into ``(train, val)``, ``val_fraction`` of each class (at least one
    per class) held out for validation: 100 of 1,000 labels by default."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"labeled_split: val_fraction must be in (0, 1) (got {val_fraction})")
    rng = np.random.default_rng(seed + 7919)
    val = []
    for c in np.unique(y[idx]):
        members = idx[y[idx] == c]
        if len(members) < 2:
            raise ValueError(f"labeled_split: class {c} has {len(members)} labeled example(s); need 2 to hold one out")
        k = min(len(members) - 1, max(1, int(round(val_fraction * len(members)))))
        val.append(rng.choice(members, k, replace=False))
    val_idx = np.sort(np.concatenate(val))
    return np.setdiff1d(idx, val_idx), val_idx


class BestValidation(Callback):
    """Early stopping on a small validation split: the best epoch is the one with the highest
    ``val_accuracy``, ties broken by the lower ``val_loss`` (100 validation images give only 100
    accuracy levels); stop after ``patience`` epochs without a better one, then restore its weights."""

    def __init__(self, patience: int = 50) -> None:
        if patience < 1:
            raise ValueError(f"BestValidation: patience must be >= 1 (got {patience})")
        self.patience = patience
        self.best: tuple[float, float] = (-np.inf, -np.inf)
        self.best_epoch, self.wait = -1, 0
        self._state: dict[str, np.ndarray] | None = None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        if "val_accuracy" not in logs or "val_loss" not in logs:
            raise KeyError(f"BestValidation: needs val_accuracy and val_loss in the epoch logs (got {sorted(logs)})")
        score = (logs["val_accuracy"], -logs["val_loss"])
        if score > self.best:
            self.best, self.best_epoch, self.wait = score, epoch, 0
            self._state = {k: v.array.copy() for k, v in trainer.model.state_dict().items()}
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.stop_training = True

    def on_train_end(self, trainer: Any) -> None:
        if self._state is not None:
            trainer.model.load_state_dict(self._state)

    def state_dict(self) -> dict[str, Any]:
        return {"best": list(self.best), "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = tuple(state["best"]), state["best_epoch"], state["wait"]


@dataclass
class FinetuneResult:
    best_epoch: int  # 1-based
    val_accuracy: float
    val_loss: float
    epochs_run: int
    history: dict[str, list[float]] = field(default_factory=dict)


def finetune(model: Any, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, lr: float = 0.03,
             momentum: float = 0.9, batch_size: int = 32, max_epochs: int = 200, patience: int = 50,
             weight_decay: float = 0.0, progress: bool = False) -> FinetuneResult:
    """Fine-tune ``model`` (logits ``(N, C)``) on ``(X, y)`` with SGD + momentum and cross-entropy, evaluate
    on ``(X_val, y_val)`` after every epoch, stop after ``patience`` epochs without a better validation
    score (see ``BestValidation``) and restore the best epoch's weights. Shuffling and dropout use
    deepling's global RNG (``dl.manual_seed`` fixes them)."""
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
    val = DataLoader(TensorDataset(X_val, y_val), batch_size=1000)
    opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=momentum,
                    weight_decay=weight_decay)
    best = BestValidation(patience)
    history = fit(model, loader, nn.functional.cross_entropy, opt, max_epochs, val_loader=val, callbacks=[best],
                  progress=progress)
    h = {k: list(v) for k, v in history.history.items()}
    return FinetuneResult(best.best_epoch + 1, float(best.best[0]), float(-best.best[1]), len(history), h)


def predict_proba(model: Any, X: np.ndarray, batch_size: int = 2000) -> np.ndarray:
    """Softmax class probabilities ``(N, C)`` in eval mode (restores the mode after)."""
    was = model.training
    model.eval()
    with no_grad():
        out = np.concatenate([nn.functional.softmax(model(dl.Tensor(X[i:i + batch_size])), dim=1).array
                              for i in range(0, len(X), batch_size)])
    model.train(was)
    return out


def accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of ``X`` classified as ``y``."""
    return float((predict_proba(model, X).argmax(1) == y).mean())


def _val_score(model: Any, X_val: np.ndarray, y_val: np.ndarray) -> tuple[float, float]:
    p = predict_proba(model, X_val)
    loss = float(-np.log(np.maximum(p[np.arange(len(y_val)), y_val], 1e-12)).mean())
    return float((p.argmax(1) == y_val).mean()), -loss


def pseudo_label(model: Any, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                 X_unlabeled: np.ndarray, threshold: float = 0.95, rounds: int = 1, lr: float = 0.03,
                 momentum: float = 0.9, batch_size: int = 128, max_epochs: int = 5, patience: int = 2,
                 progress: bool = False) -> list[dict[str, float]]:
    """Pseudo-labeling (Lee 2013) on top of a trained ``model``: label the unlabeled images the model is
    confident about (max softmax probability >= ``threshold``), fine-tune on the labeled plus the
    pseudo-labeled images with early stopping on the labeled validation split, and repeat for
    ``rounds``. A round whose best validation accuracy is lower than the model's before it is undone
    (pseudo-labels make the model more confident, so the validation loss is not the judge here). Returns per round the number and share of pseudo-labels and the validation
    accuracy kept."""
    log = []
    for r in range(rounds):
        before = _val_score(model, X_val, y_val)
        state = {k: v.array.copy() for k, v in model.state_dict().items()}
        p = predict_proba(model, X_unlabeled)
        keep = p.max(1) >= threshold
        Xc = np.concatenate([X, X_unlabeled[keep]])
        yc = np.concatenate([y, p[keep].argmax(1).astype(np.int64)])
        res = finetune(model, Xc, yc, X_val, y_val, lr=lr, momentum=momentum, batch_size=batch_size,
                       max_epochs=max_epochs, patience=patience, progress=progress)
        kept = res.val_accuracy >= before[0]
        if not kept:
            model.load_state_dict(state)
        log.append({"round": r + 1, "pseudo_labels": int(keep.sum()), "share": float(keep.mean()),
                    "val_accuracy": res.val_accuracy if kept else before[0], "best_epoch": res.best_epoch if kept else 0})
    return log
