"""Image classifiers on the registered data sets: what ``deepling train`` and ``deepling evaluate`` run.

``train_classifier("mlp", "digits")`` loads the set (``deepling.data.DATASETS``), holds out a fixed
validation slice of its training split, normalizes with the training mean and std, builds the model
(``deepling.models.MODELS``), trains it with ``fit`` (checkpoint, resume, Ctrl-C) and reports the test
accuracy; ``out`` receives ``checkpoint.ckpt``, ``metrics.json``, ``history.json`` and (with
matplotlib) ``curves.png`` and ``confusion.png``. The checkpoint's ``"config"`` rebuilds the model
and its preprocessing, so ``evaluate_classifier(path)`` needs nothing else. Run inside an initialized
``deepling.distributed`` group (``deepling train --distributed``), training is data-parallel (``fit``)
and rank 0 alone prints, evaluates and writes ``out``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["DATASET_DEFAULTS", "train_classifier", "evaluate_classifier"]

# defaults per data set where one size does not fit all; arguments override them
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    # the digits MLP's GEMMs are tiny: BLAS threads cost more in synchronization than they save
    "digits": {"epochs": 30, "batch_size": 32, "threads": 1},
    "mnist": {"epochs": 10, "batch_size": 128},
    "fashion-mnist": {"epochs": 10, "batch_size": 128},
    "cifar10": {"epochs": 10, "batch_size": 64},
}


def _loader(X: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool) -> Any:
    from deepling.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle)


def _normalize(X: np.ndarray, mean: float, std: float) -> np.ndarray:
    return ((X - np.float32(mean)) / np.float32(std)).astype(np.float32, copy=False)


def _build_model(cfg: dict[str, Any]) -> Any:
    from deepling.models import MODELS

    return MODELS[cfg["model"]](tuple(cfg["in_shape"]), cfg["num_classes"], **cfg["model_options"])


def _write_outputs(out: Path, history: Any, cm: np.ndarray, classes: list, title: str, plots: bool) -> list[str]:
    written = []
    history.save_json(out / "history.json")
    written.append("history.json")
    if plots and len(history) == 0:
        print("note: no curves: no epoch was completed", file=sys.stderr)
    elif plots:
        try:
            from deepling import viz

            viz.plot_history(history, out / "curves.png", title=f"{title}: learning curves", loss_label="cross-entropy (nats)")
            viz.plot_confusion_matrix(cm, out / "confusion.png", classes, title=f"{title}: test confusion matrix")
            written += ["curves.png", "confusion.png"]
        except ImportError as err:
            print(f"note: no plots ({err})", file=sys.stderr)
    return written


def train_classifier(model_name: str = "mlp", dataset: str = "digits", *, data_dir: str | Path | None = None,
                     out: str | Path | None = None, epochs: int | None = None, batch_size: int | None = None,
                     optimizer: str = "adam", lr: float = 1e-3, momentum: float = 0.9, weight_decay: float = 0.0,
                     hidden: Sequence[int] | None = None, activation: str = "relu", dropout: float = 0.0,
                     val_fraction: float = 0.1, seed: int = 0, resume: bool = False, plots: bool = True,
                     progress: bool = True) -> dict[str, Any]:
    """Train and test ``model_name`` on ``dataset`` (see the module docstring); returns the metrics
    (``test_loss``, ``test_accuracy``, ``epochs_completed``, ``interrupted``, ``seconds``).

    ``epochs`` and ``batch_size`` default per data set (``DATASET_DEFAULTS``); ``hidden``,
    ``activation`` and ``dropout`` configure the MLP (other models take ``dropout`` when nonzero);
    ``out`` defaults to ``runs/MODEL-DATASET``; ``data_dir`` to ``deepling.data.dataset_dir(dataset)``.
    """
    import deepling as dl
    from deepling import nn
    from deepling.data import dataset_dir, load_dataset
    from deepling.optim import make_optimizer
    from deepling.train.fit import evaluate, fit, predict
    from deepling.train.metrics import confusion_matrix

    defaults = DATASET_DEFAULTS.get(dataset, {"epochs": 10, "batch_size": 128})
    epochs = epochs or defaults["epochs"]
    batch_size = batch_size or defaults["batch_size"]
    data_dir = Path(data_dir) if data_dir is not None else dataset_dir(dataset)
    out = Path(out) if out is not None else Path("runs") / f"{model_name}-{dataset}"
    from deepling.train.distributed import is_main_process

    main_rank = is_main_process()
    say = print if main_rank else (lambda *args, **kwargs: None)
    if main_rank:
        out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    X, y, classes = load_dataset(dataset, True, data_dir)
    Xt, yt, _ = load_dataset(dataset, False, data_dir)
    # fixed split, independent of the training seed stream: a held-out slice of the training set
    perm = np.random.default_rng(seed).permutation(len(X))
    n_val = int(round(len(X) * val_fraction))
    val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    mean, std = float(X[train_idx].mean()), float(X[train_idx].std()) or 1.0
    X, Xt = _normalize(X, mean, std), _normalize(Xt, mean, std)

    dl.manual_seed(seed)
    options: dict[str, Any] = {}
    if model_name == "mlp":
        options = {"hidden": list(hidden or [256, 128]), "activation": activation, "dropout": dropout}
    elif dropout:
        options["dropout"] = dropout
    cfg = {"model": model_name, "model_options": options, "dataset": dataset, "in_shape": list(X.shape[1:]),
           "num_classes": len(classes), "classes": [str(c) for c in classes], "normalize": [mean, std],
           "data_dir": str(data_dir), "seed": seed, "epochs": epochs, "batch_size": batch_size,
           "optimizer": optimizer, "lr": lr, "weight_decay": weight_decay}
    model = _build_model(cfg)
    opt = make_optimizer(optimizer, model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    train_loader = _loader(X[train_idx], y[train_idx], batch_size, shuffle=True)
    val_loader = _loader(X[val_idx], y[val_idx], 512, shuffle=False) if n_val else None
    test_loader = _loader(Xt, yt, 512, shuffle=False)
    n_params = sum(p.numel() for p in model.parameters())
    from deepling import distributed as dist

    ranks = f" on {dist.get_world_size()} ranks" if dist.is_initialized() else ""
    say(f"training {model_name} ({n_params:,} parameters) on {dataset}{ranks}: {len(train_idx)} train / {n_val} "
        f"validation / {len(Xt)} test, {epochs} epochs, batch {batch_size}, {optimizer} lr {lr}", flush=True)

    ckpt = out / "checkpoint.ckpt"
    if resume and ckpt.is_file():
        _check_resumable(ckpt, cfg)
    history = fit(model, train_loader, loss_fn, opt, epochs, val_loader=val_loader, checkpoint=ckpt,
                  resume=bool(resume), progress=progress, checkpoint_extra={"config": cfg})
    if not main_rank:  # rank 0 tests the (identical) model and writes the outputs
        return {"epochs_completed": len(history), "interrupted": history.interrupted,
                "seconds": time.perf_counter() - t_start}
    test = evaluate(model, test_loader, loss_fn)
    outputs, targets = predict(model, test_loader)
    cm = confusion_matrix(outputs, targets, len(classes))
    elapsed = time.perf_counter() - t_start
    metrics = {"test_loss": test["loss"], "test_accuracy": test["accuracy"], "epochs_completed": len(history),
               "interrupted": history.interrupted, "seconds": elapsed}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    written = ["checkpoint.ckpt", "metrics.json"] + _write_outputs(out, history, cm, cfg["classes"],
                                                                   f"{model_name} on {dataset}", plots)
    print(f"test accuracy: {100 * test['accuracy']:.2f}%  (test loss {test['loss']:.4f}, {len(history)} epochs, "
          f"{elapsed:.1f}s)")
    print(f"wrote {', '.join(written)} to {out}")
    return metrics


def _check_resumable(ckpt: Path, cfg: dict[str, Any]) -> None:
    """Resuming needs the same model and data: say what the checkpoint holds instead of a key dump."""
    from deepling.train.checkpoint import load_checkpoint

    held = load_checkpoint(ckpt, restore_rng=False).get("config") or {}
    for key in ("model", "model_options", "dataset", "in_shape", "num_classes"):
        if key in held and held[key] != cfg[key]:
            raise ValueError(
                f"--resume: {ckpt} holds a {held.get('model')} {held.get('model_options') or ''} trained on "
                f"{held.get('dataset')}, not this {cfg['model']} {cfg['model_options'] or ''} on {cfg['dataset']} "
                f"({key} differs); resume with the same options, or choose another --out")


def evaluate_classifier(checkpoint: str | Path, data_dir: str | Path | None = None, batch_size: int = 512,
                        out: str | Path | None = None) -> dict[str, Any]:
    """Rebuild the model of a ``train_classifier`` checkpoint and test it on its data set's test split
    (``data_dir`` default: ``dataset_dir(name)``, never a folder read from the checkpoint); with
    ``out``, write ``confusion.png``.
    Returns ``{"loss", "accuracy"}``."""
    from deepling import nn
    from deepling.data import load_dataset
    from deepling.train.checkpoint import load_checkpoint
    from deepling.train.fit import evaluate, predict
    from deepling.train.metrics import confusion_matrix

    checkpoint = Path(checkpoint)
    if checkpoint.is_dir():
        inside = checkpoint / "checkpoint.ckpt"
        hint = f"; did you mean {inside}?" if inside.is_file() else ""
        raise ValueError(f"{checkpoint} is a folder, not a checkpoint file{hint}")
    state = load_checkpoint(checkpoint, restore_rng=False)
    cfg = state.get("config", state.get("cli"))  # "cli": checkpoints written before the key was renamed
    if isinstance(cfg, dict) and cfg.get("dataset") == "text":
        raise ValueError(f"{checkpoint} is a language-model checkpoint: use 'deepling sample' on it")
    if not isinstance(cfg, dict):
        raise ValueError(f"{checkpoint} was not written by 'deepling train' (no model configuration inside); "
                         "load it with deepling.train.load_checkpoint and your own model instead")
    from deepling.data import DATASETS, dataset_dir

    if cfg.get("dataset") not in DATASETS:
        raise ValueError(f"{checkpoint}: unknown data set {cfg.get('dataset')!r} in its configuration")
    model = _build_model(cfg)
    model.load_state_dict(state["model"])
    # The data folder is the user's choice or the documented default, never a path read from the
    # checkpoint: a file must not choose where deepling reads, writes or downloads.
    Xt, yt, _ = load_dataset(cfg["dataset"], False, data_dir if data_dir is not None else dataset_dir(cfg["dataset"]))
    Xt = _normalize(Xt, *cfg["normalize"])
    loader = _loader(Xt, yt, batch_size, shuffle=False)
    test = evaluate(model, loader, nn.CrossEntropyLoss())
    print(f"{cfg['model']} on {cfg['dataset']} after {state['epoch']} epochs: test accuracy "
          f"{100 * test['accuracy']:.2f}%  (test loss {test['loss']:.4f}, {len(Xt)} images)")
    if out is not None:
        from deepling import viz

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        outputs, targets = predict(model, loader)
        viz.plot_confusion_matrix(confusion_matrix(outputs, targets, cfg["num_classes"]), out / "confusion.png",
                                  cfg["classes"])
        print(f"wrote confusion.png to {out}")
    return test
