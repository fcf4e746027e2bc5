"""The executable curriculum: each lesson states one claim of the course, runs the experiment that
shows it, and returns the numbers with a verdict (``run``: the claim, the numbers that decide it,
holds or does not hold) and a figure (``plot``). Tests assert every verdict.

    from deepling import lessons
    result = lessons.run("gd_learning_rate")
    print("\n".join(lessons.format_verdict(result["verdict"])))
    lessons.plot("gd_learning_rate", result, "lr.png")
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from deepling.lessons._verdict import claim_of, format_verdict, verdict

__all__ = ["NAMES", "available", "load", "run", "plot", "summary", "verdict", "format_verdict"]

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
    return claim_of(load(name).__doc__)


def run(name: str, **options: Any) -> dict[str, Any]:
    """Run lesson ``name``; the result holds its numbers and ``result["verdict"]`` (see ``_verdict``)."""
    result = load(name).run(**options)
    if "verdict" not in result:
        raise RuntimeError(f"lesson {name!r} returned no verdict")
    return result


def plot(name: str, result: dict[str, Any], path: str) -> str:
    load(name).plot(result, path)
    return path
