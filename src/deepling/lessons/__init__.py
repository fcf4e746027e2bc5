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
import inspect
from types import ModuleType
from typing import Any

from deepling.lessons._verdict import claim_of, format_verdict, verdict

__all__ = ["NAMES", "available", "load", "run", "plot", "summary", "options", "verdict", "format_verdict"]

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


def options(name: str) -> dict[str, Any]:
    """A lesson's options (the keyword arguments of its ``run``) with their defaults."""
    sig = inspect.signature(load(name).run)
    return {p.name: p.default for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is not p.empty}


def _check_options(name: str, given: dict[str, Any]) -> None:
    known = options(name)
    listing = ", ".join(f"{k}={v!r}" for k, v in known.items()) or "none"
    for key, value in given.items():
        if key not in known:
            raise ValueError(f"lesson {name}: unknown option {key!r}; its options are: {listing}")
        default = known[key]
        if default is None or value is None:
            continue
        numeric = (int, float)
        if isinstance(default, bool) != isinstance(value, bool) or (
            isinstance(default, numeric) and not isinstance(value, numeric)
        ) or (isinstance(default, str) and not isinstance(value, str)):
            raise ValueError(f"lesson {name}: option {key} expects a value like {default!r}, got {value!r}")
        if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float):
            raise ValueError(f"lesson {name}: option {key} expects an integer (default {default!r}), got {value!r}")


def run(name: str, **options: Any) -> dict[str, Any]:
    """Run lesson ``name``; the result holds its numbers and ``result["verdict"]`` (see ``_verdict``).
    An unknown option or a value of the wrong kind is a ValueError naming the lesson's options."""
    _check_options(name, options)
    result = load(name).run(**options)
    if "verdict" not in result:
        raise RuntimeError(f"lesson {name!r} returned no verdict")
    return result


def plot(name: str, result: dict[str, Any], path: str) -> str:
    load(name).plot(result, path)
    return path
