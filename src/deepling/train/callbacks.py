"""Callbacks: objects ``fit`` calls at the start/end of training, of each epoch and of each batch.

A callback sets ``trainer.stop_training = True`` to end training after the current step (set in
``on_epoch_end``: after this epoch).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

__all__ = ["Callback", "EarlyStopping", "LambdaCallback"]


class Callback:
    """Base class; override any hook. ``logs`` holds this epoch's metrics (``loss``, ``val_loss``, ...)."""

    def on_train_begin(self, trainer: Any) -> None: ...

    def on_train_end(self, trainer: Any) -> None: ...

    def on_epoch_begin(self, trainer: Any, epoch: int) -> None: ...

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None: ...

    def on_batch_end(self, trainer: Any, batch: int, loss: float) -> None: ...

    def on_eval_end(self, trainer: Any, step: int, logs: dict[str, float]) -> None:
        """After an evaluation every ``eval_every`` steps; ``logs`` as in ``history.step_history``."""

    def state_dict(self) -> dict[str, Any]:
        """What to store in a checkpoint so a resumed run continues exactly."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode``: ``'min'`` (losses), ``'max'`` (accuracies) or ``'auto'`` (max if the name contains
    'acc'). ``restore_best_weights`` loads the best epoch's weights into the model at the end.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max' (got {mode!r})")
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(min_delta)
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.restore_best_weights = restore_best_weights
        self.best = -math.inf if self.mode == "max" else math.inf
        self.best_epoch = -1
        self.wait = 0
        self.stopped_epoch: int | None = None
        self._best_state: dict | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "max":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: metric {self.monitor!r} not in the epoch logs {sorted(logs)}")
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_state = {k: v.array.copy() for k, v in trainer.model.state_dict().items()}
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                trainer.stop_training = True

    def on_train_end(self, trainer: Any) -> None:
        if self.restore_best_weights and self._best_state is not None:
            trainer.model.load_state_dict(self._best_state)

    def state_dict(self) -> dict[str, Any]:
        # The best weights too: a run resumed after the best epoch must still end with them.
        state = {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                 "stopped_epoch": self.stopped_epoch}
        if self._best_state is not None:
            state["best_state"] = dict(self._best_state)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        if state.get("stopped_epoch") is not None:
            self.stopped_epoch = state["stopped_epoch"]
        best = state.get("best_state")
        self._best_state = None if best is None else {k: np.asarray(getattr(v, "array", v)) for k, v in best.items()}


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda t, e, logs: print(logs))``."""

    def __init__(self, on_epoch_end: Callable | None = None, on_batch_end: Callable | None = None,
                 on_train_begin: Callable | None = None, on_train_end: Callable | None = None,
                 on_eval_end: Callable | None = None) -> None:
        self._fns = {"on_epoch_end": on_epoch_end, "on_batch_end": on_batch_end,
                     "on_train_begin": on_train_begin, "on_train_end": on_train_end, "on_eval_end": on_eval_end}

    def on_eval_end(self, trainer: Any, step: int, logs: dict[str, float]) -> None:
        if self._fns["on_eval_end"]:
            self._fns["on_eval_end"](trainer, step, logs)

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        if self._fns["on_epoch_end"]:
            self._fns["on_epoch_end"](trainer, epoch, logs)

    def on_batch_end(self, trainer: Any, batch: int, loss: float) -> None:
        if self._fns["on_batch_end"]:
            self._fns["on_batch_end"](trainer, batch, loss)

    def on_train_begin(self, trainer: Any) -> None:
        if self._fns["on_train_begin"]:
            self._fns["on_train_begin"](trainer)

    def on_train_end(self, trainer: Any) -> None:
        if self._fns["on_train_end"]:
            self._fns["on_train_end"](trainer)
