"""The executable curriculum: each lesson states one claim of the course, runs the experiment that
shows it, and returns the numbers (``run``) and a figure (``plot``). Tests assert every claim.

    from deepling import lessons
    result = lessons.run("gd_learning_rate")
    lessons.plot("gd_learning_rate", result, "lr.png")
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["NAMES", "available", "load", "run", "plot", "summary"]

# In the order of the course.
NAMES = [
    "perceptron_xor", "linear_collapse", "activations", "gd_learning_rate", "gd_stopping",
    "local_minima_restarts", "backprop_vs_numeric", "manual_backprop", "loss_examples", "entropy_kl",
    "softmax_properties", "init_scale", "overfitting", "l1_vs_l2", "weight_decay_identity",
    "dropout_scaling", "normalizations", "mnist_3b1b", "pixel_redundancy", "autoencoder_vs_pca",
    "pretraining_few_labels", "receptive_field", "weight_sharing", "max_pool_invariance",
    "feature_hierarchy", "resnet_depth", "rnn_vs_lstm_memory", "attention_alignment",
    "pruning_and_alternatives",
]


def load(name: str) -> ModuleType:
    if name not in NAMES:
        raise ValueError(f"unknown lesson {name!r}; `deepling lesson list` shows the lessons")
    return importlib.import_module(f"deepling.lessons.{name}")


def available() -> list[str]:
    """Lessons whose module is present (all of NAMES in a complete install)."""
    out = []
    for name in NAMES:
        try:
            load(name)
        except ModuleNotFoundError as e:
            if e.name != f"deepling.lessons.{name}":
                raise
            continue
        out.append(name)
    return out


def summary(name: str) -> str:
    """The claim: the first sentence of the lesson's docstring."""
    doc = (load(name).__doc__ or "").strip()
    para = " ".join(doc.split("\n\n")[0].split())
    end = para.find(". ")
    return para if end < 0 else para[: end + 1]


def run(name: str, **options: Any) -> dict[str, Any]:
    return load(name).run(**options)


def plot(name: str, result: dict[str, Any], path: str) -> str:
    load(name).plot(result, path)
    return path
