"""Training checkpoints: model + optimizer + scheduler + epoch + RNG state in one ``deepling.save`` file.

Everything needed to continue a run exactly as if it had never stopped: the weights, the
optimizer's moments and step counts, the scheduler's position, the global RNG (dropout, shuffling)
and any loader generator, plus free-form ``extra`` entries (history, model config for the CLI).
"""

from __future__ import annotations

import os
from typing import Any

from deepling.random import Generator, get_rng_state, set_rng_state
from deepling.serialization import SerializationError, load, save

__all__ = ["save_checkpoint", "load_checkpoint"]

KIND = "deepling-training-checkpoint"


def save_checkpoint(path: str | os.PathLike, model: Any, optimizer: Any = None, scheduler: Any = None, epoch: int = 0,
                    generator: Generator | None = None, **extra: Any) -> None:
    """Atomically write a checkpoint of a training run after ``epoch`` completed epochs."""
    state: dict[str, Any] = {"kind": KIND, "epoch": int(epoch), "model": model.state_dict(), "rng": get_rng_state()}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if generator is not None:
        state["generator"] = generator.get_state()
    state.update(extra)
    save(state, path)


def load_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None, scheduler: Any = None,
                    generator: Generator | None = None, restore_rng: bool = True) -> dict[str, Any]:
    """Read a checkpoint, load it into the given objects, restore the RNG state; return the whole dict."""
    state = load(path)
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise SerializationError(f"load_checkpoint: {os.fspath(path)} is a deepling file but not a training checkpoint")
    if model is not None:
        model.load_state_dict(state["model"])
    if optimizer is not None:
        if "optimizer" not in state:
            raise KeyError(f"load_checkpoint: {os.fspath(path)} has no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and "scheduler" in state:
        scheduler.load_state_dict(state["scheduler"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])
    if restore_rng:
        set_rng_state(state["rng"])
    return state
