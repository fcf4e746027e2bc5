"""``fit``: the training loop most scripts write by hand, with progress, validation, checkpoints.

Per batch: ``out = model(x); loss = loss_fn(out, y); optimizer.zero_grad(); loss.backward();
optimizer.step()``. Per epoch: validation in ``eval()`` mode under ``no_grad``, ``scheduler.step()``,
callbacks, an atomic checkpoint. Writing this loop yourself is just as valid; ``fit`` is a convenience.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm

from deepling.autograd import no_grad
from deepling.train import distributed as _ranks
from deepling.train.callbacks import Callback
from deepling.train.checkpoint import load_checkpoint, save_checkpoint
from deepling.train.metrics import accuracy

__all__ = ["History", "fit", "evaluate", "predict"]

_METRICS: dict[str, Callable[[Any, Any], float]] = {"accuracy": accuracy}


class History:
    """Per-epoch logs: ``history['loss']``, ``history['val_accuracy']``, ... (lists, one value per epoch)."""

    def __init__(self, history: dict[str, list[float]] | None = None, epochs: list[int] | None = None) -> None:
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}
        self.epochs: list[int] = list(epochs or [])
        self.interrupted = False

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": list(self.epochs), "history": {k: list(v) for k, v in self.history.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        return cls(d.get("history", {}), d.get("epochs", []))

    def save_json(self, path: str | os.PathLike) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"History(epochs={len(self)}, last={last})"


class Trainer:
    """The state callbacks see: ``model``, ``optimizer``, ``epoch``, ``history``; set ``stop_training``."""

    def __init__(self, model: Any, optimizer: Any, history: History) -> None:
        self.model, self.optimizer, self.history = model, optimizer, history
        self.stop_training = False
        self.epoch = 0


def _split(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, list | tuple) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(f"fit: each batch must be an (inputs, targets) pair (got {type(batch).__name__} "
                    f"of length {len(batch) if hasattr(batch, '__len__') else '?'})")


def _metric_fns(metrics: Any, target: Any) -> dict[str, Callable[[Any, Any], float]]:
    if metrics == "auto":  # accuracy for integer class targets, nothing for regression targets
        is_class = np.asarray(getattr(target, "array", target)).dtype.kind in "iub"
        return {"accuracy": accuracy} if is_class else {}
    out = {}
    for m in metrics or ():
        if isinstance(m, str):
            if m not in _METRICS:
                raise ValueError(f"fit: unknown metric {m!r} (known: {sorted(_METRICS)}; or pass a function)")
            out[m] = _METRICS[m]
        else:
            out[getattr(m, "__name__", "metric")] = m
    return out


def _run(model: Any, loader: Iterable, loss_fn: Callable | None, metrics: Any, across_ranks: bool = False
         ) -> dict[str, float]:
    """Mean loss and metrics over ``loader`` (weighted by batch size), without gradients; with
    ``across_ranks``, over the union of every rank's ``loader``."""
    sums: dict[str, float] = {}
    n, fns = 0, None
    with no_grad():
        for batch in loader:
            x, y = _split(batch)
            out = model(x)
            if fns is None:
                fns = _metric_fns(metrics, y)
            b = len(y)
            if loss_fn is not None:
                sums["loss"] = sums.get("loss", 0.0) + float(loss_fn(out, y).item()) * b
            for name, fn in fns.items():
                sums[name] = sums.get(name, 0.0) + float(fn(out, y)) * b
            n += b
    if across_ranks:
        sums, n = _ranks.all_reduce_sums(sums, n)
    return {k: v / max(n, 1) for k, v in sums.items()}


def evaluate(model: Any, loader: Iterable, loss_fn: Callable | None = None, metrics: Any = "auto",
             across_ranks: bool = False) -> dict[str, float]:
    """Loss (if ``loss_fn``) and metrics of ``model`` on ``loader`` in eval mode; restores the mode after.
    ``across_ranks``: each rank holds part of the data; every rank gets the global result."""
    was_training = model.training
    model.eval()
    try:
        return _run(model, loader, loss_fn, metrics, across_ranks)
    finally:
        model.train(was_training)


def predict(model: Any, loader: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """All outputs and targets of ``loader`` as two concatenated arrays (eval mode, no gradients)."""
    was_training = model.training
    model.eval()
    outs, tgts = [], []
    try:
        with no_grad():
            for batch in loader:
                x, y = _split(batch)
                outs.append(np.asarray(model(x).array))
                tgts.append(np.asarray(getattr(y, "array", y)))
    finally:
        model.train(was_training)
    return np.concatenate(outs), np.concatenate(tgts)


def _current_lr(optimizer: Any) -> float | None:
    groups = getattr(optimizer, "param_groups", None)
    return float(groups[0]["lr"]) if groups else None


def fit(model: Any, train_loader: Iterable, loss_fn: Callable, optimizer: Any, epochs: int = 1,
        val_loader: Iterable | None = None, scheduler: Any = None, metrics: Sequence[str | Callable] | str = "auto",
        callbacks: Sequence[Callback] = (), checkpoint: str | os.PathLike | None = None,
        resume: bool | str | os.PathLike = False, progress: bool = True, checkpoint_extra: dict | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs and return its ``History``.

    Args:
        loss_fn: ``loss_fn(output, target) -> scalar Tensor`` (e.g. ``nn.CrossEntropyLoss()``).
        metrics: names (``'accuracy'``) or functions ``f(output, target) -> float``; ``'auto'``
            tracks accuracy when targets are integer class labels.
        scheduler: stepped once per epoch (``ReduceLROnPlateau`` gets the validation loss).
        callbacks: e.g. ``EarlyStopping``; they may set ``trainer.stop_training``.
        checkpoint: a path written (atomically) after every epoch with model, optimizer,
            scheduler, epoch, RNG state, history and ``checkpoint_extra``.
        resume: a checkpoint path, or ``True`` for ``checkpoint`` if it exists: continue from
            the epoch it recorded, with identical results to an uninterrupted run.
    Ctrl-C stops training cleanly: the last completed epoch's checkpoint stays on disk and the
    history so far is returned with ``history.interrupted = True``.

    On several ranks (an initialized ``deepling.distributed`` group), training is data-parallel:
    see ``deepling.train.distributed`` (DDP, each rank a slice of every global batch, global logs,
    rank 0 alone prints and writes checkpoints).
    """
    history = History()
    net = _ranks.unwrap_model(model)
    trainer = Trainer(net, optimizer, history)
    generator = getattr(train_loader, "generator", None)
    start = 0
    sampler_seed = None
    resume_path = checkpoint if resume is True else (resume or None)
    if resume_path is not None and (resume is not True or os.path.exists(resume_path)):
        state = load_checkpoint(resume_path, net, optimizer, scheduler, generator=generator)
        sampler_seed = state.get("sampler_seed")
        start = int(state["epoch"])
        history = trainer.history = History.from_dict(state.get("history", {}))
        for cb, cb_state in zip(callbacks, state.get("callbacks", [])):
            cb.load_state_dict(cb_state)
    distributed = _ranks.is_active()
    if distributed:
        sampler_seed = _ranks.broadcast_seed(sampler_seed)
        model = _ranks.wrap_model(model)
        train_loader = _ranks.shard_train_loader(train_loader, sampler_seed)
        val_loader = _ranks.shard_eval_loader(val_loader)
        progress = progress and _ranks.is_main_process()
        if sampler_seed is not None:
            checkpoint_extra = {**(checkpoint_extra or {}), "sampler_seed": sampler_seed}
    for cb in callbacks:
        cb.on_train_begin(trainer)
    bar = None
    try:
        for epoch in range(start, epochs):
            trainer.epoch = epoch
            for cb in callbacks:
                cb.on_epoch_begin(trainer, epoch)
            model.train()
            if hasattr(getattr(train_loader, "sampler", None), "set_epoch"):
                train_loader.sampler.set_epoch(epoch)
            t0 = time.perf_counter()
            sums: dict[str, float] = {}
            n, fns = 0, None
            total = len(train_loader) if hasattr(train_loader, "__len__") else None
            bar = tqdm(train_loader, total=total, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                       leave=False, dynamic_ncols=True, file=sys.stderr)
            for i, batch in enumerate(bar):
                x, y = _split(batch)
                out = model(x)
                loss = loss_fn(out, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if fns is None:
                    fns = _metric_fns(metrics, y)
                b, lv = len(y), float(loss.item())
                sums["loss"] = sums.get("loss", 0.0) + lv * b
                for name, fn in fns.items():
                    sums[name] = sums.get(name, 0.0) + float(fn(out.detach(), y)) * b
                n += b
                bar.set_postfix(loss=f"{sums['loss'] / n:.4f}", refresh=False)
                for cb in callbacks:
                    cb.on_batch_end(trainer, i, lv)
            bar.close()
            bar = None
            if distributed:
                sums, n = _ranks.all_reduce_sums(sums, n)
            logs = {k: v / max(n, 1) for k, v in sums.items()}
            if val_loader is not None:
                val = evaluate(model, val_loader, loss_fn, metrics, across_ranks=distributed)
                logs.update({"val_" + k: v for k, v in val.items()})
            lr = _current_lr(optimizer)
            if lr is not None:
                logs["lr"] = lr
            logs["time"] = time.perf_counter() - t0
            if scheduler is not None:
                if type(scheduler).__name__ == "ReduceLROnPlateau":
                    scheduler.step(logs.get("val_loss", logs["loss"]))
                else:
                    scheduler.step()
            history.append(epoch + 1, logs)
            for cb in callbacks:
                cb.on_epoch_end(trainer, epoch, logs)
            if progress:
                shown = "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if k not in ("lr", "time"))
                tqdm.write(f"epoch {epoch + 1}/{epochs}  {shown}  ({logs['time']:.1f}s)", file=sys.stderr)
            if checkpoint is not None and _ranks.is_main_process():
                save_checkpoint(checkpoint, net, optimizer, scheduler, epoch + 1, generator=generator,
                                history=history.to_dict(), callbacks=[cb.state_dict() for cb in callbacks],
                                **(checkpoint_extra or {}))
            if trainer.stop_training:
                break
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        history.interrupted = True
        where = f"; the last checkpoint is {os.fspath(checkpoint)}" if checkpoint is not None else ""
        print(f"\ninterrupted after {len(history)} complete epoch(s){where}", file=sys.stderr)
    for cb in callbacks:
        cb.on_train_end(trainer)
    return history
