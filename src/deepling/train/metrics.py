"""Classification metrics on model outputs (logits) and integer targets, computed in NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.tensor import Tensor

__all__ = ["accuracy", "predictions", "confusion_matrix"]


def _np(x: Any) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def predictions(output: Any) -> np.ndarray:
    """Predicted classes: ``argmax`` over the last dim of ``(N, C)`` logits; ``logit > 0`` for ``(N,)``/``(N, 1)``."""
    out = _np(output)
    if out.ndim >= 2 and out.shape[-1] > 1:
        return out.argmax(axis=-1)
    return (out.reshape(out.shape[:-1] if out.ndim >= 2 else out.shape) > 0).astype(np.int64)


def accuracy(output: Any, target: Any) -> float:
    """Fraction of samples whose predicted class equals ``target``.

    ``output``: ``(N, C)`` logits (or ``(N,)`` binary logits); ``target``: ``(N,)`` class indices
    (or ``(N, C)`` one-hot / probabilities, compared by argmax).
    """
    pred, tgt = predictions(output), _np(target)
    if tgt.ndim == pred.ndim + 1:
        tgt = tgt.argmax(axis=-1)
    tgt = tgt.reshape(pred.shape) if tgt.size == pred.size else tgt
    if tgt.shape != pred.shape:
        raise ValueError(f"accuracy: predictions of shape {pred.shape} and targets of shape {tgt.shape} do not match")
    return float((pred == tgt).mean()) if pred.size else 0.0


def confusion_matrix(pred: Any, target: Any, num_classes: int | None = None) -> np.ndarray:
    """``M[i, j]`` = number of samples of true class ``i`` predicted as class ``j`` (int64 ``(C, C)``).

    ``pred`` may be class indices ``(N,)`` or logits ``(N, C)``.
    """
    p = _np(pred)
    p = predictions(p) if p.ndim == 2 else p.astype(np.int64)
    t = _np(target).astype(np.int64).reshape(-1)
    p = p.reshape(-1)
    if p.shape != t.shape:
        raise ValueError(f"confusion_matrix: {p.shape[0]} predictions and {t.shape[0]} targets")
    c = int(num_classes) if num_classes is not None else int(max(p.max(initial=-1), t.max(initial=-1)) + 1)
    return np.bincount(t * c + p, minlength=c * c).reshape(c, c)
