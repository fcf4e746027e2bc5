"""``deepling train``, ``deepling evaluate`` and ``deepling sample``.

Image classifiers train with ``deepling.train.fit`` on a data set of ``deepling.data.DATASETS``;
language models (``--dataset text``) with ``deepling.train.language.train_language_model``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from deepling.cli.arguments import (
    HelpFormatter,
    blas_threads,
    fraction,
    nonneg_float,
    positive_float,
    positive_int,
    widths,
)

__all__ = ["add_parsers", "cmd_train", "cmd_evaluate", "cmd_sample", "DATASET_DEFAULTS"]

# defaults per data set where one size does not fit all; command-line flags override them
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    # the digits MLP's GEMMs are tiny: BLAS threads cost more in synchronization than they save
    "digits": {"epochs": 30, "batch_size": 32, "threads": 1},
    "mnist": {"epochs": 10, "batch_size": 128},
    "fashion-mnist": {"epochs": 10, "batch_size": 128},
    "cifar10": {"epochs": 10, "batch_size": 64},
}


# ---------------------------------------------------------------------------------------- parsers
def add_parsers(sub: Any) -> None:
    """Add ``train``, ``evaluate`` and ``sample`` to the subparsers ``sub``."""
    from deepling.data import DATASETS
    from deepling.models import LANGUAGE_MODELS, MODELS
    from deepling.nn import ACTIVATIONS
    from deepling.optim import OPTIMIZERS

    t = sub.add_parser("train", help="train a model on a data set and report its test accuracy",
                       description="Train a model, print progress and the final test accuracy; write the checkpoint, "
                                   "history.json, metrics.json and (with matplotlib) curves.png and confusion.png to --out.",
                       formatter_class=HelpFormatter)
    t.add_argument("--model", choices=sorted(MODELS) + sorted(LANGUAGE_MODELS), default="mlp", help="model architecture")
    t.add_argument("--dataset", choices=sorted(DATASETS) + ["text"], default="digits",
                   help="data set ('text': a language model on --text FILE)")
    t.add_argument("--data-dir", type=Path, default=None,
                   help="where the data set's files are (default: $DEEPLING_DATA/DATASET if set, else "
                        "../shared/data/DATASET if present, else ~/.cache/deepling/DATASET, where missing files are "
                        "downloaded)")
    t.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: 30 for digits, 10 otherwise)")
    t.add_argument("--batch-size", type=positive_int, default=None, help="mini-batch size (default: 32 for digits, 128 otherwise)")
    t.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate")
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam", help="optimizer")
    t.add_argument("--momentum", type=nonneg_float, default=0.9, help="momentum (sgd, rmsprop)")
    t.add_argument("--weight-decay", type=nonneg_float, default=0.0, help="L2 weight decay")
    t.add_argument("--hidden", type=widths, default=None, help="hidden layer widths for mlp, e.g. 512,256 (default 256,128)")
    t.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS), help="hidden activation for mlp")
    t.add_argument("--dropout", type=fraction, default=0.0, help="dropout probability after hidden layers (mlp)")
    t.add_argument("--val-fraction", type=fraction, default=0.1, help="fraction of the training set held out for validation")
    t.add_argument("--seed", type=int, default=0, help="random seed (init, shuffling, dropout, validation split)")
    t.add_argument("--out", type=Path, default=None, help="output directory (default: runs/MODEL-DATASET)")
    t.add_argument("--threads", type=positive_int, default=None,
                   help="BLAS threads (default: 1 for digits, whose matrices are tiny; otherwise the BLAS default)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.ckpt if it exists")
    t.add_argument("--no-plots", action="store_true", help="do not write curves.png and confusion.png")
    t.add_argument("--no-progress", action="store_true", help="no progress bar or per-epoch lines")
    g = t.add_argument_group("language models (--dataset text)")
    g.add_argument("--text", type=Path, default=None, help="the training text (UTF-8); first 90%% train, last 10%% validation")
    g.add_argument("--context", type=positive_int, default=64, help="characters per training window")
    g.add_argument("--steps", type=positive_int, default=1500, help="training steps (random batches of windows)")
    g.add_argument("--embed", type=positive_int, default=64, help="embedding size")
    g.add_argument("--layers", type=positive_int, default=1, help="recurrent layers (gpt: Transformer blocks)")
    g.add_argument("--heads", type=positive_int, default=4, help="gpt: attention heads (--embed is d_model)")
    g.add_argument("--clip", type=nonneg_float, default=1.0, help="clip the gradient norm to this (0: no clipping)")
    g.add_argument("--eval-every", type=positive_int, default=100, help="steps between validation estimates")

    e = sub.add_parser("evaluate", help="evaluate a checkpoint written by 'deepling train' on its test set",
                       description="Load a checkpoint written by 'deepling train', rebuild its model and report test "
                                   "loss and accuracy (and write a confusion matrix with --out).",
                       formatter_class=HelpFormatter)
    e.add_argument("checkpoint", type=Path, help="path of checkpoint.ckpt")
    e.add_argument("--data-dir", type=Path, default=None, help="where the data set's files are (default: as in training)")
    e.add_argument("--batch-size", type=positive_int, default=512, help="evaluation batch size")
    e.add_argument("--out", type=Path, default=None, help="directory for confusion.png (optional)")

    s = sub.add_parser("sample", help="generate text from a language-model checkpoint",
                       description="Load a checkpoint written by 'deepling train --dataset text' and print a "
                                   "continuation of --prompt.", formatter_class=HelpFormatter)
    s.add_argument("checkpoint", type=Path, help="path of checkpoint.ckpt")
    s.add_argument("--prompt", default="\n", help="text to continue (its characters must be in the vocabulary)")
    s.add_argument("--tokens", type=positive_int, default=300, help="characters to generate")
    s.add_argument("--temperature", type=nonneg_float, default=0.8, help="softmax temperature (0: most likely)")
    s.add_argument("--top-k", type=positive_int, default=None, help="sample among the k most likely characters only")
    s.add_argument("--seed", type=int, default=0, help="random seed of the sampler")


# ---------------------------------------------------------------------------------------- image classifiers
def _loaders(X: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool) -> Any:
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
    if plots:
        try:
            from deepling import viz

            viz.plot_history(history, out / "curves.png", title=title)
            viz.plot_confusion_matrix(cm, out / "confusion.png", classes, title=f"{title}: test confusion matrix")
            written += ["curves.png", "confusion.png"]
        except ImportError as err:
            print(f"note: no plots ({err})", file=sys.stderr)
    return written


def cmd_train(a: argparse.Namespace) -> int:
    if a.dataset == "text" or a.model.startswith("char-"):
        with blas_threads(a.threads):
            return _train_text(a)
    defaults = DATASET_DEFAULTS.get(a.dataset, {})
    with blas_threads(a.threads or defaults.get("threads")):
        return _train(a)


def _train(a: argparse.Namespace) -> int:
    import deepling as dl
    from deepling import nn
    from deepling.data import DATASETS, dataset_dir
    from deepling.optim import make_optimizer
    from deepling.train import confusion_matrix, evaluate, fit, predict

    defaults = DATASET_DEFAULTS.get(a.dataset, {"epochs": 10, "batch_size": 128})
    epochs = a.epochs or defaults["epochs"]
    batch_size = a.batch_size or defaults["batch_size"]
    data_dir = a.data_dir if a.data_dir is not None else dataset_dir(a.dataset)
    out = a.out if a.out is not None else Path("runs") / f"{a.model}-{a.dataset}"
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    X, y, classes = DATASETS[a.dataset](data_dir, True)
    Xt, yt, _ = DATASETS[a.dataset](data_dir, False)
    # fixed split, independent of the training seed stream: a held-out slice of the training set
    perm = np.random.default_rng(a.seed).permutation(len(X))
    n_val = int(round(len(X) * a.val_fraction))
    val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    mean, std = float(X[train_idx].mean()), float(X[train_idx].std()) or 1.0
    X, Xt = _normalize(X, mean, std), _normalize(Xt, mean, std)

    dl.manual_seed(a.seed)
    options: dict[str, Any] = {}
    if a.model == "mlp":
        options = {"hidden": a.hidden or [256, 128], "activation": a.activation, "dropout": a.dropout}
    elif a.dropout:
        options["dropout"] = a.dropout
    cfg = {"model": a.model, "model_options": options, "dataset": a.dataset, "in_shape": list(X.shape[1:]),
           "num_classes": len(classes), "classes": [str(c) for c in classes], "normalize": [mean, std],
           "data_dir": str(data_dir), "seed": a.seed, "epochs": epochs, "batch_size": batch_size,
           "optimizer": a.optimizer, "lr": a.lr, "weight_decay": a.weight_decay}
    model = _build_model(cfg)
    optimizer = make_optimizer(a.optimizer, model.parameters(), lr=a.lr, momentum=a.momentum,
                               weight_decay=a.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    train_loader = _loaders(X[train_idx], y[train_idx], batch_size, shuffle=True)
    val_loader = _loaders(X[val_idx], y[val_idx], 512, shuffle=False) if n_val else None
    test_loader = _loaders(Xt, yt, 512, shuffle=False)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"training {a.model} ({n_params:,} parameters) on {a.dataset}: {len(train_idx)} train / {n_val} validation / "
          f"{len(Xt)} test, {epochs} epochs, batch {batch_size}, {a.optimizer} lr {a.lr}", flush=True)

    ckpt = out / "checkpoint.ckpt"
    history = fit(model, train_loader, loss_fn, optimizer, epochs, val_loader=val_loader, checkpoint=ckpt,
                  resume=bool(a.resume), progress=not a.no_progress, checkpoint_extra={"config": cfg})
    test = evaluate(model, test_loader, loss_fn)
    outputs, targets = predict(model, test_loader)
    cm = confusion_matrix(outputs, targets, len(classes))
    elapsed = time.perf_counter() - t_start
    metrics = {"test_loss": test["loss"], "test_accuracy": test["accuracy"], "epochs_completed": len(history),
               "interrupted": history.interrupted, "seconds": elapsed}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    written = ["checkpoint.ckpt", "metrics.json"] + _write_outputs(out, history, cm, cfg["classes"],
                                                                   f"{a.model} on {a.dataset}", not a.no_plots)
    print(f"test accuracy: {100 * test['accuracy']:.2f}%  (test loss {test['loss']:.4f}, {len(history)} epochs, "
          f"{elapsed:.1f}s)")
    print(f"wrote {', '.join(written)} to {out}")
    return 130 if history.interrupted else 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from deepling import nn
    from deepling.data import DATASETS
    from deepling.train import confusion_matrix, evaluate, load_checkpoint, predict

    state = load_checkpoint(a.checkpoint, restore_rng=False)
    cfg = state.get("config", state.get("cli"))  # "cli": checkpoints written before the key was renamed
    if isinstance(cfg, dict) and cfg.get("dataset") == "text":
        raise ValueError(f"{a.checkpoint} is a language-model checkpoint: use 'deepling sample' on it")
    if not isinstance(cfg, dict):
        raise ValueError(f"{a.checkpoint} was not written by 'deepling train' (no model configuration inside); "
                         "load it with deepling.train.load_checkpoint and your own model instead")
    model = _build_model(cfg)
    model.load_state_dict(state["model"])
    data_dir = a.data_dir if a.data_dir is not None else Path(cfg["data_dir"])
    Xt, yt, _ = DATASETS[cfg["dataset"]](data_dir, False)
    Xt = _normalize(Xt, *cfg["normalize"])
    loader = _loaders(Xt, yt, a.batch_size, shuffle=False)
    test = evaluate(model, loader, nn.CrossEntropyLoss())
    print(f"{cfg['model']} on {cfg['dataset']} after {state['epoch']} epochs: test accuracy "
          f"{100 * test['accuracy']:.2f}%  (test loss {test['loss']:.4f}, {len(Xt)} images)")
    if a.out is not None:
        from deepling import viz

        a.out.mkdir(parents=True, exist_ok=True)
        outputs, targets = predict(model, loader)
        viz.plot_confusion_matrix(confusion_matrix(outputs, targets, cfg["num_classes"]), a.out / "confusion.png",
                                  cfg["classes"])
        print(f"wrote confusion.png to {a.out}")
    return 0


# ---------------------------------------------------------------------------------------- language models
def _train_text(a: argparse.Namespace) -> int:
    from deepling.models import LANGUAGE_MODELS
    from deepling.train.language import train_language_model

    if a.dataset != "text" or a.model not in LANGUAGE_MODELS:
        raise ValueError(f"--model {a.model} needs --dataset text and a language model (one of {sorted(LANGUAGE_MODELS)})")
    if a.text is None:
        raise ValueError("--dataset text needs --text FILE")
    metrics = train_language_model(
        a.model, a.text, a.out if a.out is not None else Path("runs") / f"{a.model}-text", context=a.context,
        steps=a.steps, batch_size=a.batch_size or 32, embed=a.embed, hidden=(a.hidden or [256])[0], layers=a.layers,
        heads=a.heads, dropout=a.dropout, optimizer=a.optimizer, lr=a.lr, momentum=a.momentum,
        weight_decay=a.weight_decay, clip=a.clip, eval_every=a.eval_every, seed=a.seed, resume=bool(a.resume),
        progress=not a.no_progress)
    return 130 if metrics["interrupted"] else 0


def cmd_sample(a: argparse.Namespace) -> int:
    from deepling.train.language import generate_text, load_language_model

    model, corpus = load_language_model(a.checkpoint)
    if not a.prompt:
        raise ValueError("--prompt must not be empty")
    print(generate_text(model, corpus, a.prompt, a.tokens, temperature=a.temperature, top_k=a.top_k, seed=a.seed))
    return 0
