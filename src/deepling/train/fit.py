"""``fit``: the one training loop, with progress, validation, checkpoints, resume and Ctrl-C.

Per step: ``loss = step_fn(model, batch)`` (default: ``loss_fn(model(x), y)`` for ``(x, y)`` batches),
``optimizer.zero_grad(); loss.backward(); [clip]; optimizer.step()``. The budget is ``epochs``
passes over the loader or ``max_steps`` optimizer steps (or both: whichever ends first). Evaluation
runs per epoch and every ``eval_every`` steps, in ``eval()`` mode under ``no_grad``. Whatever else
differs between training runs enters through arguments and callbacks, as in Keras and Lightning.
Writing this loop yourself is just as valid; ``fit`` is a convenience.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm

from deepling.autograd import no_grad
from deepling.random import get_rng_state, set_rng_state
from deepling.train import distributed as _ranks
from deepling.train.callbacks import Callback
from deepling.train.checkpoint import load_checkpoint, save_checkpoint
from deepling.train.metrics import accuracy

__all__ = ["History", "Trainer", "fit", "evaluate", "predict"]

_METRICS: dict[str, Callable[[Any, Any], float]] = {"accuracy": accuracy}


class History:
    """What ``fit`` logged.

    Per epoch: ``history['loss']``, ``history['val_accuracy']``, ... (one value per completed epoch,
    numbered in ``epochs``). Per evaluation every N steps: ``step_history['loss']`` (the mean training
    loss since the previous evaluation), ``step_history['val_loss']``, ... at the steps in ``steps``.
    ``global_step``: optimizer steps taken; ``interrupted``: whether Ctrl-C ended the run.
    """

    def __init__(self, history: dict[str, list[float]] | None = None, epochs: list[int] | None = None,
                 step_history: dict[str, list[float]] | None = None, steps: list[int] | None = None,
                 global_step: int = 0) -> None:
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}
        self.epochs: list[int] = list(epochs or [])
        self.step_history: dict[str, list[float]] = {k: list(v) for k, v in (step_history or {}).items()}
        self.steps: list[int] = list(steps or [])
        self.global_step = int(global_step)
        self.interrupted = False
        self.nonfinite = False  # training stopped on a NaN or infinite loss

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def append_step(self, step: int, logs: dict[str, float]) -> None:
        self.steps.append(step)
        for k, v in logs.items():
            self.step_history.setdefault(k, []).append(float(v))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": list(self.epochs), "history": {k: list(v) for k, v in self.history.items()},
                "steps": list(self.steps), "step_history": {k: list(v) for k, v in self.step_history.items()},
                "global_step": self.global_step}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        if not isinstance(d, dict):  # a checkpoint from a loop that kept its own log format
            return cls()
        return cls(d.get("history", {}), d.get("epochs", []), d.get("step_history", {}), d.get("steps", []),
                   d.get("global_step", 0))

    def save_json(self, path: str | os.PathLike) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"History(epochs={len(self)}, steps={self.global_step}, last={last})"


class Trainer:
    """The state callbacks see: ``model``, ``optimizer``, ``history``, ``epoch`` (0-based), ``step``
    (optimizer steps taken), ``batch`` (batches taken in this epoch); setting ``stop_training`` ends
    training after the current step."""

    def __init__(self, model: Any, optimizer: Any, history: History) -> None:
        self.model, self.optimizer, self.history = model, optimizer, history
        self.stop_training = False
        self.epoch = self.step = self.batch = 0


def _split(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, list | tuple) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(f"fit: each batch must be an (inputs, targets) pair (got {type(batch).__name__} "
                    f"of length {len(batch) if hasattr(batch, '__len__') else '?'}); for other batches pass step_fn")


def _batch_size(batch: Any) -> int:
    """The leading dimension of a batch's first array: the weight of its loss in an epoch mean."""
    x = batch[0] if isinstance(batch, list | tuple) and batch else batch
    shape = getattr(x, "shape", None)
    if shape:
        return int(shape[0])
    try:
        return len(x)
    except TypeError:
        return 1


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


def _run(model: Any, loader: Iterable, loss_fn: Callable | None, metrics: Any,
         step_fn: Callable | None = None, across_ranks: bool = False) -> dict[str, float]:
    """Mean loss and metrics over ``loader`` (weighted by batch size), without gradients; with
    ``across_ranks``, over the union of every rank's ``loader``."""
    sums: dict[str, Any] = {}
    n, fns = 0, None
    with no_grad():
        for batch in loader:
            if step_fn is not None:
                logs, b = _step_logs(step_fn(model, batch)), _batch_size(batch)
            else:
                x, y = _split(batch)
                out = model(x)
                if fns is None:
                    fns = _metric_fns(metrics, y)
                logs = {"loss": loss_fn(out, y)} if loss_fn is not None else {}
                logs.update((name, fn(out, y)) for name, fn in fns.items())
                b = len(y)
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + float(v) * b
            n += b
    if across_ranks:
        sums, n = _ranks.all_reduce_sums(sums, n)
    return {k: v / max(n, 1) for k, v in sums.items()}


def _step_logs(result: Any) -> dict[str, Any]:
    if isinstance(result, dict):
        if "loss" not in result:
            raise ValueError(f"fit: step_fn returned a dict without a 'loss' entry (keys: {sorted(result)})")
        return result
    return {"loss": result}


def evaluate(model: Any, loader: Iterable, loss_fn: Callable | None = None, metrics: Any = "auto",
             step_fn: Callable | None = None, across_ranks: bool = False) -> dict[str, float]:
    """Loss (if ``loss_fn``) and metrics of ``model`` on ``loader`` in eval mode; restores the mode after.

    With ``step_fn(model, batch)`` (as for ``fit``): the batch-size-weighted mean of what it returns.
    ``across_ranks``: each rank holds part of the data; every rank gets the global result."""
    was_training = model.training
    model.eval()
    try:
        return _run(model, loader, loss_fn, metrics, step_fn, across_ranks)
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


def _positive(name: str, v: Any) -> None:
    if v is not None and (not isinstance(v, int | np.integer) or isinstance(v, bool) or v <= 0):
        raise ValueError(f"fit: {name} must be a positive integer or None (got {v!r})")


def _rng_states(generator: Any) -> dict[str, Any]:
    return {"rng": get_rng_state(), "generator": generator.get_state() if generator is not None else None}


def _set_rng_states(states: dict[str, Any], generator: Any) -> None:
    set_rng_state(states["rng"])
    if generator is not None and states.get("generator") is not None:
        generator.set_state(states["generator"])


class _FinishStep(KeyboardInterrupt):
    """Ctrl-C noticed between two steps: the state is consistent, so it can be checkpointed."""


class _NonFinite(Exception):
    """A NaN or infinite loss, seen before its update was applied."""

    def __init__(self, value: float) -> None:
        self.value = value


class _DeferredCtrlC:
    """While active, the first Ctrl-C only sets ``requested`` (``fit`` finishes the step, saves, stops);
    a second one interrupts at once. Only in the main thread with Python's default SIGINT handler."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _DeferredCtrlC:
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _which_checkpoint(path: str | os.PathLike | None, saved: tuple[int, int, int] | None, epochs: bool) -> str:
    """What an interrupted run leaves on disk; ``saved`` is the ``(step, epoch, batch)`` last written."""
    if saved is not None:
        step, epoch, batch = saved
        where = (f", batch {batch} of epoch {epoch + 1}" if batch else f", after epoch {epoch}") if epochs else ""
        return f"the last checkpoint is {os.fspath(path)} (step {step}{where})"
    if path is not None:
        return f"no checkpoint exists: none was written yet to {os.fspath(path)}"
    return "no checkpoint exists (pass checkpoint=PATH to keep one)"


def _quiet(*args: Any, **kwargs: Any) -> None:
    """``print`` on the ranks other than 0."""


def _show(logs: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if k not in ("lr", "time"))


def fit(model: Any, train_loader: Iterable, loss_fn: Callable | None = None, optimizer: Any = None,
        epochs: int | None = None, val_loader: Iterable | None = None, scheduler: Any = None,
        metrics: Sequence[str | Callable] | str = "auto", callbacks: Sequence[Callback] = (),
        checkpoint: str | os.PathLike | None = None, resume: bool | str | os.PathLike = False, progress: bool = True,
        checkpoint_extra: dict | None = None, *, max_steps: int | None = None, step_fn: Callable | None = None,
        eval_every: int | None = None, checkpoint_every: int | None = None, clip_grad_norm: float | None = None,
        scheduler_interval: str = "epoch", desc: str | None = None, on_nonfinite: str = "stop") -> History:
    """Train ``model`` and return its ``History``.

    Args:
        loss_fn: ``loss_fn(output, target) -> scalar Tensor`` for ``(x, y)`` batches (e.g.
            ``nn.CrossEntropyLoss()``); not needed with ``step_fn``.
        epochs, max_steps: the budget: passes over ``train_loader`` and/or optimizer steps; training
            ends when either is reached. Default: one epoch; with only ``max_steps``, as many epochs
            as it takes (``train_loader`` may then be endless).
        step_fn: ``step_fn(model, batch) -> loss`` or ``{'loss': loss, 'other': value, ...}``: the
            forward pass and loss of one batch of any structure (``model.loss(x)``, a language
            model's next-token loss, a reconstruction loss). ``fit`` does the backward pass and the
            optimizer step; the other values are logged as batch-size-weighted means. It also
            evaluates ``val_loader``.
        metrics: names (``'accuracy'``) or functions ``f(output, target) -> float``; ``'auto'``
            tracks accuracy when targets are integer class labels (without ``step_fn`` only).
        val_loader: evaluated after every epoch and every ``eval_every`` steps.
        eval_every: log the mean training loss since the last evaluation (and validate) every so
            many steps, and at the last step of a ``max_steps`` budget; in ``history.step_history``.
        scheduler: stepped once per epoch (``ReduceLROnPlateau`` gets the validation loss), or after
            every optimizer step with ``scheduler_interval='step'``.
        clip_grad_norm: clip the gradient norm of the optimizer's parameters to this before each step.
        callbacks: e.g. ``EarlyStopping``; they may set ``trainer.stop_training``.
        checkpoint: a path written (atomically) after every epoch, every ``checkpoint_every`` steps
            (default ``eval_every``) and at the end: model, optimizer, scheduler, epoch, step, RNG
            states, history, callback states and ``checkpoint_extra``.
        resume: a checkpoint path, or ``True`` for ``checkpoint`` if it exists: continue from the
            epoch and step it recorded (mid-epoch too), with results identical to an uninterrupted
            run. A loader with ``state_dict()``/``load_state_dict()`` is restored through them;
            otherwise the interrupted epoch is replayed from its starting RNG state up to the
            recorded batch.
        desc: a prefix for the progress bar and the log lines (e.g. ``'stage 1/3'``).
        on_nonfinite: what a NaN or infinite loss does (checked before its update is applied, so
            the weights and the last checkpoint stay good): ``'stop'`` (default) ends training with
            a message and ``history.nonfinite`` set; ``'raise'`` raises ``FloatingPointError``.
    Ctrl-C stops training cleanly: ``fit`` finishes the current step, writes the checkpoint (if any)
    and returns the history so far with ``history.interrupted = True``. A second Ctrl-C, or a
    ``KeyboardInterrupt`` raised inside a step or callback, stops at once and keeps the last
    checkpoint written. The message says which checkpoint exists, or that there is none.

    Inside an initialized ``deepling.distributed`` group training is data-parallel (see
    ``deepling.train.distributed``): DDP, each rank a slice of every global batch, global logs,
    rank 0 alone prints and writes checkpoints (loadable on any number of ranks).
    """
    if optimizer is None:
        raise TypeError("fit: an optimizer is required")
    if step_fn is None and loss_fn is None:
        raise TypeError("fit: pass loss_fn(output, target) for (x, y) batches, or step_fn(model, batch)")
    if step_fn is not None and metrics not in ("auto", None) and len(metrics):
        raise ValueError("fit: metrics need model outputs; with step_fn return them from it as {'loss': ..., name: value}")
    for name, v in (("epochs", epochs), ("max_steps", max_steps), ("eval_every", eval_every),
                    ("checkpoint_every", checkpoint_every)):
        _positive(name, v)
    if on_nonfinite not in ("stop", "raise"):
        raise ValueError(f"fit: on_nonfinite must be 'stop' or 'raise' (got {on_nonfinite!r})")
    if scheduler_interval not in ("epoch", "step"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'step' (got {scheduler_interval!r})")
    plateau = type(scheduler).__name__ == "ReduceLROnPlateau"
    if plateau and scheduler_interval == "step":
        raise ValueError("fit: ReduceLROnPlateau needs a metric: use scheduler_interval='epoch'")
    if epochs is None and max_steps is None:
        epochs = 1
    if checkpoint_every is None:
        checkpoint_every = eval_every
    step_scheduler = scheduler if scheduler_interval == "step" else None
    epoch_scheduler = scheduler if scheduler_interval == "epoch" else None
    clip_params = None
    if clip_grad_norm:
        from deepling.nn.utils import clip_grad_norm_

        clip_params = [p for g in optimizer.param_groups for p in g["params"]]
    prefix = f"{desc} " if desc else ""
    windowed = eval_every is not None  # keep the sums since the last step evaluation
    save_every = checkpoint_every if checkpoint is not None else None
    last_step = max_steps if max_steps is not None else -1

    distributed = _ranks.is_active()
    main_rank = _ranks.is_main_process()
    own_sampler = False
    if distributed:
        given = train_loader
        train_loader = _ranks.shard_train_loader(train_loader, seed=0)  # the seed is set below
        own_sampler = train_loader is not given
        val_loader = _ranks.shard_eval_loader(val_loader)
        progress = progress and main_rank
    net = _ranks.unwrap_model(model)  # what checkpoints hold, callbacks see and resume loads into

    history = History()
    trainer = Trainer(net, optimizer, history)
    generator = getattr(train_loader, "generator", None)
    stateful = callable(getattr(train_loader, "state_dict", None)) and callable(getattr(train_loader, "load_state_dict", None))
    total = len(train_loader) if hasattr(train_loader, "__len__") else None
    start_epoch = start_batch = step = 0
    resumed: dict[str, Any] = {}
    saved: tuple[int, int, int] | None = None  # (step, epoch, batch) of this run's checkpoint on disk
    resume_path = checkpoint if resume is True else (resume or None)
    if resume_path is not None and (resume is not True or os.path.exists(resume_path)):
        resumed = load_checkpoint(resume_path, net, optimizer, scheduler, generator=generator)
        start_epoch = int(resumed["epoch"])
        step = int(resumed.get("step", start_epoch * (total or 0)))
        start_batch = int(resumed.get("batch", 0))
        history = trainer.history = History.from_dict(resumed.get("history", {}))
        for cb, cb_state in zip(callbacks, resumed.get("callbacks", [])):
            cb.load_state_dict(cb_state)
        if stateful and "loader" in resumed:
            train_loader.load_state_dict(resumed["loader"])
        if checkpoint is not None and os.path.abspath(resume_path) == os.path.abspath(checkpoint):
            saved = (step, start_epoch, start_batch)
        where = f"batch {start_batch} of epoch {start_epoch + 1}" if start_batch else f"the start of epoch {start_epoch + 1}"
        # on stdout with the run's other headlines: a log of it should say that it continues an earlier run
        (print if main_rank else _quiet)(f"resumed from {os.fspath(resume_path)} at step {step}" + (f" ({where})" if total is not None else ""),
              flush=True)
    trainer.step, trainer.epoch, trainer.batch = step, start_epoch, start_batch
    sampler = getattr(train_loader, "sampler", None)
    if own_sampler:
        # the shuffling seed, drawn on rank 0 and recorded in the checkpoint: a resumed run (on any number
        # of ranks) goes through the data in the same order
        sampler.seed = _ranks.broadcast_seed(resumed.get("sampler_seed"))
        checkpoint_extra = {**(checkpoint_extra or {}), "sampler_seed": sampler.seed}
    if distributed:
        model = _ranks.wrap_model(model)

    # running sums of the current epoch and of the window since the last step evaluation
    partial = resumed.get("partial") if start_batch else None
    window = resumed.get("window") or {"sums": {}, "n": 0}
    if not main_rank:  # checkpointed sums are global: rank 0 carries them, the others start from zero
        partial = partial and {**partial, "sums": {k: 0.0 for k in partial["sums"]}, "n": 0}
        window = {"sums": {k: 0.0 for k in window["sums"]}, "n": 0}
    sums: dict[str, float] = dict(partial["sums"]) if partial else {}
    n = partial["n"] if partial else 0
    wsums: dict[str, float] = dict(window["sums"])
    wn = window["n"]
    epoch_rng = partial["epoch_rng"] if partial else None
    t_epoch = time.perf_counter() - (partial["time"] if partial else 0.0)
    t_window, w_steps = time.perf_counter(), 0
    t_postfix = 0.0
    last_eval: tuple[int, dict[str, float]] | None = None
    epoch, batch = start_epoch, start_batch

    def validate() -> dict[str, float]:
        nonlocal last_eval
        if val_loader is None:
            return {}
        if last_eval is not None and last_eval[0] == step:
            return last_eval[1]
        val = evaluate(model, val_loader, loss_fn, metrics, step_fn, across_ranks=distributed)
        logs = {"val_" + k: v for k, v in val.items()}
        last_eval = (step, logs)
        return logs

    def save() -> None:
        nonlocal saved
        ws, wcount = _ranks.all_reduce_sums(wsums, wn) if distributed else (wsums, wn)
        extra: dict[str, Any] = {"step": step, "batch": batch, "window": {"sums": ws, "n": wcount}}
        if batch:
            ps, pcount = _ranks.all_reduce_sums(sums, n) if distributed else (sums, n)
            extra["partial"] = {"sums": ps, "n": pcount, "epoch_rng": epoch_rng, "time": time.perf_counter() - t_epoch}
        if stateful:
            extra["loader"] = train_loader.state_dict()
        if main_rank:
            save_checkpoint(checkpoint, net, optimizer, scheduler, epoch, generator=generator,
                            history=history.to_dict(), callbacks=[cb.state_dict() for cb in callbacks],
                            **extra, **(checkpoint_extra or {}))
        saved = (step, epoch, batch)

    def step_eval() -> None:
        nonlocal wsums, wn, t_window, w_steps
        ws, wcount = _ranks.all_reduce_sums(wsums, wn) if distributed else (wsums, wn)
        logs = {k: v / max(wcount, 1) for k, v in ws.items()}
        logs.update(validate())
        lr = _current_lr(optimizer)
        if lr is not None:
            logs["lr"] = lr
        logs["time"] = time.perf_counter() - t_window
        history.append_step(step, logs)
        for cb in callbacks:
            cb.on_eval_end(trainer, step, logs)
        if progress:
            budget = f"/{max_steps}" if max_steps is not None else ""
            ms = logs["time"] / max(w_steps, 1) * 1e3
            tqdm.write(f"{prefix}step {step}{budget}  {_show(logs)}  ({ms:.0f} ms/step)", file=sys.stderr)
        wsums, wn, t_window, w_steps = {}, 0, time.perf_counter(), 0

    for cb in callbacks:
        cb.on_train_begin(trainer)
    bar = None
    done = (max_steps is not None and step >= max_steps) or (epochs is not None and epoch >= epochs)
    with _DeferredCtrlC() as ctrl_c:
        try:
            if max_steps is not None and not done:
                bar = tqdm(total=max_steps, initial=step, desc=f"{prefix}steps", disable=not progress, leave=False,
                           dynamic_ncols=True, file=sys.stderr)
            while not done:
                trainer.epoch = epoch
                mid = epoch == start_epoch and start_batch > 0  # resuming inside this epoch
                replay = mid and not stateful
                if replay:
                    now = _rng_states(generator)  # the checkpoint's RNG state, restored after the replay below
                else:
                    batch, sums, n, t_epoch = 0, {}, 0, time.perf_counter()
                for cb in callbacks:
                    cb.on_epoch_begin(trainer, epoch)
                model.train()
                if hasattr(sampler, "set_epoch"):
                    sampler.set_epoch(epoch)  # DistributedSampler: the permutation of seed + epoch
                if not mid and checkpoint is not None:  # what a mid-epoch resume replays from
                    epoch_rng = _rng_states(generator)
                it = iter(train_loader)
                if replay:
                    # replay the interrupted epoch's first batches from its starting RNG state, then continue
                    # from the checkpoint's RNG state: the same batches in the same order as without a stop
                    _set_rng_states(epoch_rng, generator)
                    for _ in range(start_batch):
                        if next(it, None) is None:
                            raise ValueError(f"fit: cannot resume at batch {start_batch} of epoch {epoch + 1}: the loader "
                                             "has fewer batches than when the checkpoint was written")
                    _set_rng_states(now, generator)
                trainer.batch = batch
                epoch_bar = bar is None  # else one bar over the whole max_steps budget, advanced by hand
                if epoch_bar:
                    budget = f"/{epochs}" if epochs is not None else ""
                    it = bar = tqdm(it, total=total, initial=batch, desc=f"{prefix}epoch {epoch + 1}{budget}",
                                    disable=not progress, leave=False, dynamic_ncols=True, file=sys.stderr)
                fns = None
                stepped = False
                for data in it:
                    if step_fn is None:
                        x, y = _split(data)
                        out = model(x)
                        loss = loss_fn(out, y)
                        logs = None
                    else:
                        logs = _step_logs(step_fn(model, data))
                        loss = logs["loss"]
                    lv = float(loss.item())
                    if not np.isfinite(lv):
                        raise _NonFinite(lv)
                    optimizer.zero_grad()
                    loss.backward()
                    if clip_params is not None:
                        clip_grad_norm_(clip_params, clip_grad_norm)
                    optimizer.step()
                    if step_scheduler is not None:
                        step_scheduler.step()
                    step += 1
                    batch += 1
                    trainer.step, trainer.batch = step, batch
                    stepped = True
                    if logs is None:
                        if fns is None:
                            fns = _metric_fns(metrics, y)
                        b = len(y)
                        sums["loss"] = sums.get("loss", 0.0) + lv * b
                        if windowed:
                            wsums["loss"] = wsums.get("loss", 0.0) + lv * b
                        for name, fn in fns.items():
                            v = float(fn(out.detach(), y)) * b
                            sums[name] = sums.get(name, 0.0) + v
                            if windowed:
                                wsums[name] = wsums.get(name, 0.0) + v
                    else:
                        b = _batch_size(data)
                        for name, v in logs.items():
                            v = lv * b if name == "loss" else float(v) * b
                            sums[name] = sums.get(name, 0.0) + v
                            if windowed:
                                wsums[name] = wsums.get(name, 0.0) + v
                    n += b
                    if windowed:
                        wn += b
                        w_steps += 1
                    if progress:
                        if not epoch_bar:
                            bar.update(1)
                        now = time.perf_counter()
                        if now - t_postfix > 0.1:  # formatting it every step would cost more than a small step
                            # the epoch's mean on an epoch's bar, the mean since the last evaluation on a steps bar
                            shown = sums["loss"] / n if epoch_bar or not windowed else wsums["loss"] / wn
                            bar.set_postfix(loss=f"{shown:.4f}", refresh=False)
                            t_postfix = now
                    for cb in callbacks:
                        cb.on_batch_end(trainer, batch - 1, lv)
                    last = step == last_step
                    if windowed and (step % eval_every == 0 or last):
                        step_eval()
                    if save_every and step % save_every == 0 and batch != total:
                        save()  # (at an epoch's last batch the epoch-end checkpoint follows)
                    if distributed:  # stop together: a rank that stopped alone would leave the others waiting
                        trainer.stop_training, ctrl_c.requested = _ranks.any_rank(trainer.stop_training,
                                                                                  ctrl_c.requested)
                    if ctrl_c.requested:
                        raise _FinishStep
                    if last or trainer.stop_training:
                        done = True
                        break
                start_batch = 0
                if not stepped and epochs is None and not mid:
                    raise ValueError("fit: train_loader yielded no batches")
                if done and batch != total:  # stopped inside the epoch
                    break
                if epoch_bar:
                    bar.close()
                    bar = None
                if distributed:
                    sums, n = _ranks.all_reduce_sums(sums, n)
                epoch_logs = {k: v / max(n, 1) for k, v in sums.items()}
                epoch_logs.update(validate())
                lr = _current_lr(optimizer)
                if lr is not None:
                    epoch_logs["lr"] = lr
                epoch_logs["time"] = time.perf_counter() - t_epoch
                if epoch_scheduler is not None:
                    if plateau:
                        epoch_scheduler.step(epoch_logs.get("val_loss", epoch_logs["loss"]))
                    else:
                        epoch_scheduler.step()
                history.append(epoch + 1, epoch_logs)
                for cb in callbacks:
                    cb.on_epoch_end(trainer, epoch, epoch_logs)
                if progress:
                    budget = f"/{epochs}" if epochs is not None else ""
                    tqdm.write(f"{prefix}epoch {epoch + 1}{budget}  {_show(epoch_logs)}  ({epoch_logs['time']:.1f}s)",
                               file=sys.stderr)
                epoch += 1
                batch = 0
                trainer.epoch, trainer.batch = epoch, 0
                history.global_step = step
                if checkpoint is not None:
                    save()
                done = done or trainer.stop_training or (epochs is not None and epoch >= epochs)
                if ctrl_c.requested and not done:
                    raise _FinishStep
            history.global_step = step
            if bar is not None:
                bar.close()
                bar = None
            if checkpoint is not None and saved != (step, epoch, batch):
                save()
        except KeyboardInterrupt as stop:
            if bar is not None:
                bar.close()
            history.interrupted = True
            history.global_step = step
            if isinstance(stop, _FinishStep) and checkpoint is not None and saved != (step, epoch, batch):
                try:
                    save()
                except KeyboardInterrupt:
                    pass  # a second Ctrl-C while writing: the write is atomic, the previous checkpoint stands
            where = f" (epoch {epoch + 1}, {len(history)} complete)" if total is not None else ""
            print(f"\ninterrupted at step {step}{where}; {_which_checkpoint(checkpoint, saved, total is not None)}",
                  file=sys.stderr)
        except _NonFinite as bad:
            if bar is not None:
                bar.close()
            history.nonfinite = True
            history.global_step = step
            message = (f"fit: the loss is {bad.value} at step {step + 1} (epoch {epoch + 1}); training stopped "
                       f"before that update, so the weights are the last finite ones; "
                       f"{_which_checkpoint(checkpoint, saved, total is not None)}. Lower the learning rate, "
                       f"clip gradients (clip_grad_norm=) or look for the op with deepling.autograd.detect_anomaly()")
            if on_nonfinite == "raise":
                raise FloatingPointError(message) from None
            print(f"\n{message}", file=sys.stderr)
    for cb in callbacks:
        cb.on_train_end(trainer)
    return history
