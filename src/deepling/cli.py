"""The ``deepling`` command: ``deepling train`` and ``deepling evaluate``.

Extension points (other parts of deepling add one entry each):
  * ``deepling.models.MODELS``: ``--model`` choices, ``name -> build(in_shape, num_classes, **options)``;
  * ``DATASETS`` below: ``--dataset`` choices, ``name -> load(data_dir, train) -> (X, y, classes)``;
  * ``OPTIMIZERS`` below: ``--optimizer`` choices, ``name -> make(params, args)``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["main", "build_parser", "DATASETS", "OPTIMIZERS"]


# ---------------------------------------------------------------------------------------- data sets
def _shared_mnist_dir() -> Path | None:
    """``../shared/data/mnist`` relative to the working directory or to the checkout, if present."""
    repo = Path(__file__).resolve().parents[2]
    for base in (Path.cwd().parent, repo.parent, repo.parent.parent):
        d = base / "shared" / "data" / "mnist"
        if (d / "t10k-images-idx3-ubyte.gz").is_file():
            return d
    return None


def _idx_dataset(cls_name: str) -> Callable[[Any, bool], tuple[np.ndarray, np.ndarray, list]]:
    def load(data_dir: Any, train: bool) -> tuple[np.ndarray, np.ndarray, list]:
        from deepling.data import datasets

        cls = getattr(datasets, cls_name)
        ds = cls(data_dir, train=train, download=True)
        return ds.data[:, None].astype(np.float32) / 255.0, ds.targets, list(cls.classes)

    return load


def _digits(data_dir: Any, train: bool) -> tuple[np.ndarray, np.ndarray, list]:
    from deepling.data.datasets import Digits

    ds = Digits(train=train, flatten=False)
    return ds.data[:, None], ds.targets, list(range(10))


def _cifar10(data_dir: Any, train: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """CIFAR-10 from data_dir; without files there, the shared 5000-image subset if present, else download."""
    from deepling.data.datasets import CIFAR10

    try:
        ds = CIFAR10(data_dir, train=train)
    except FileNotFoundError:
        repo = Path(__file__).resolve().parents[2]
        subsets = [b / "shared" / "data" / "cifar10-subset" for b in (Path.cwd().parent, repo.parent, repo.parent.parent)]
        subset = next((d for d in subsets if d.is_dir()), None)
        if subset is None:
            ds = CIFAR10(data_dir, train=train, download=True)
        else:
            print(f"cifar10: no batches in {data_dir}; using the subset in {subset}", file=sys.stderr)
            ds = CIFAR10(subset, train=train)
    return ds.data.transpose(0, 3, 1, 2).astype(np.float32) / 255.0, ds.targets, list(ds.classes)


# name -> load(data_dir, train) -> (X float32 (N, C, H, W) in [0, 1], y int64 (N,), class names)
DATASETS: dict[str, Callable[[Any, bool], tuple[np.ndarray, np.ndarray, list]]] = {
    "digits": _digits,
    "mnist": _idx_dataset("MNIST"),
    "fashion-mnist": _idx_dataset("FashionMNIST"),
    "cifar10": _cifar10,
}
# defaults per data set where one size does not fit all; command-line flags override them
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    # the digits MLP's GEMMs are tiny: BLAS threads cost more in synchronization than they save
    "digits": {"epochs": 30, "batch_size": 32, "threads": 1},
    "mnist": {"epochs": 10, "batch_size": 128},
    "fashion-mnist": {"epochs": 10, "batch_size": 128},
    "cifar10": {"epochs": 10, "batch_size": 64},
}


def _default_data_dir(dataset: str) -> Path:
    from deepling.data.datasets import default_data_dir

    if dataset == "mnist":
        shared = _shared_mnist_dir()
        if shared is not None:
            return shared
    return default_data_dir() / dataset


# ---------------------------------------------------------------------------------------- optimizers
def _sgd(params: Any, a: argparse.Namespace) -> Any:
    from deepling import optim

    return optim.SGD(params, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)


def _adam(params: Any, a: argparse.Namespace) -> Any:
    from deepling import optim

    return optim.Adam(params, lr=a.lr, weight_decay=a.weight_decay)


def _adamw(params: Any, a: argparse.Namespace) -> Any:
    from deepling import optim

    return optim.AdamW(params, lr=a.lr, weight_decay=a.weight_decay)


def _rmsprop(params: Any, a: argparse.Namespace) -> Any:
    from deepling import optim

    return optim.RMSprop(params, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)


OPTIMIZERS: dict[str, Callable[[Any, argparse.Namespace], Any]] = {
    "adam": _adam, "adamw": _adamw, "sgd": _sgd, "rmsprop": _rmsprop,
}


# ---------------------------------------------------------------------------------------- arguments
def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def _nonneg_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {s!r}")
    return v


def _positive_float(s: str) -> float:
    v = _nonneg_float(s)
    if v == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {s!r}")
    return v


def _fraction(s: str) -> float:
    v = _nonneg_float(s)
    if v >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {s!r}")
    return v


def _widths(s: str) -> list[int]:
    try:
        w = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths like 256,128, got {s!r}") from None
    if not w or any(v <= 0 for v in w):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive widths like 256,128, got {s!r}")
    return w


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` except where the default is None (those help texts explain it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None:
            return action.help or ""
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    from deepling.models import LANGUAGE_MODELS, MODELS

    p = argparse.ArgumentParser(
        prog="deepling", description="deepling: train and evaluate neural networks on NumPy.",
        epilog="examples:\n  deepling train                      # MLP on the embedded 8x8 digits, ~97%+ test accuracy\n"
               "  deepling train --dataset mnist --epochs 10 --out runs/mnist\n"
               "  deepling evaluate runs/mnist/checkpoint.ckpt",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    t = sub.add_parser("train", help="train a model on a data set and report its test accuracy",
                       description="Train a model, print progress and the final test accuracy; write the checkpoint, "
                                   "history.json, metrics.json and (with matplotlib) curves.png and confusion.png to --out.",
                       formatter_class=_Help)
    t.add_argument("--model", choices=sorted(MODELS) + sorted(LANGUAGE_MODELS), default="mlp", help="model architecture")
    t.add_argument("--dataset", choices=sorted(DATASETS) + ["text"], default="digits",
                   help="data set ('text': a language model on --text FILE)")
    t.add_argument("--data-dir", type=Path, default=None,
                   help="where the data set's files are (mnist: ../shared/data/mnist if present, else a cache dir "
                        "where missing files are downloaded)")
    t.add_argument("--epochs", type=_positive_int, default=None, help="epochs (default: 30 for digits, 10 otherwise)")
    t.add_argument("--batch-size", type=_positive_int, default=None, help="mini-batch size (default: 32 for digits, 128 otherwise)")
    t.add_argument("--lr", type=_positive_float, default=1e-3, help="learning rate")
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam", help="optimizer")
    t.add_argument("--momentum", type=_nonneg_float, default=0.9, help="momentum (sgd, rmsprop)")
    t.add_argument("--weight-decay", type=_nonneg_float, default=0.0, help="L2 weight decay")
    t.add_argument("--hidden", type=_widths, default=None, help="hidden layer widths for mlp, e.g. 512,256 (default 256,128)")
    t.add_argument("--activation", default="relu", choices=["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu", "silu"],
                   help="hidden activation for mlp")
    t.add_argument("--dropout", type=_fraction, default=0.0, help="dropout probability after hidden layers (mlp)")
    t.add_argument("--val-fraction", type=_fraction, default=0.1, help="fraction of the training set held out for validation")
    t.add_argument("--seed", type=int, default=0, help="random seed (init, shuffling, dropout, validation split)")
    t.add_argument("--out", type=Path, default=None, help="output directory (default: runs/MODEL-DATASET)")
    t.add_argument("--threads", type=_positive_int, default=None,
                   help="BLAS threads (default: 1 for digits, whose matrices are tiny; otherwise the BLAS default)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.ckpt if it exists")
    t.add_argument("--no-plots", action="store_true", help="do not write curves.png and confusion.png")
    t.add_argument("--no-progress", action="store_true", help="no progress bar or per-epoch lines")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel on the ranks of this MPI job: mpiexec -n N deepling train --distributed, or "
                        "deepling run -n N -- deepling train --distributed (--batch-size is the global batch)")
    _add_text_options(t)

    e = sub.add_parser("evaluate", help="evaluate a checkpoint written by 'deepling train' on its test set",
                       description="Load a checkpoint written by 'deepling train', rebuild its model and report test "
                                   "loss and accuracy (and write a confusion matrix with --out).",
                       formatter_class=_Help)
    e.add_argument("checkpoint", type=Path, help="path of checkpoint.ckpt")
    e.add_argument("--data-dir", type=Path, default=None, help="where the data set's files are (default: as in training)")
    e.add_argument("--batch-size", type=_positive_int, default=512, help="evaluation batch size")
    e.add_argument("--out", type=Path, default=None, help="directory for confusion.png (optional)")
    _add_sample_parser(sub)
    from deepling.lessons.cli import add_parser as _add_lesson_parser

    _add_lesson_parser(sub)
    from deepling.pretrain.experiment import add_subcommand as _add_pretrain  # `deepling pretrain`

    _add_pretrain(sub)

    sub.add_parser("bench", add_help=False, help="the benchmark suite vs PyTorch (from a checkout; 'deepling bench --help')")
    sub.add_parser("run", add_help=False, help="start a command on N ranks, torchrun's role: deepling run -n 2 -- python "
                                               "train.py ('deepling run --help')")
    return p


# ---------------------------------------------------------------------------------------- commands
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


def _blas_threads(n: int | None) -> Any:
    """A context limiting NumPy's BLAS to ``n`` threads (via threadpoolctl when installed)."""
    import contextlib

    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def cmd_train(a: argparse.Namespace) -> int:
    if a.dataset == "text" or a.model.startswith("char-"):
        if a.distributed:
            raise ValueError("--distributed trains the image models (fit); language models train in one process")
        with _blas_threads(a.threads):
            return _train_text(a)
    defaults = DATASET_DEFAULTS.get(a.dataset, {})
    threads = a.threads or defaults.get("threads")
    if a.distributed:
        import os

        from deepling import distributed as dist

        dist.init_process_group("mpi")
        # the ranks share the machine's cores: one BLAS pool per rank, not one per rank per core
        threads = threads or max(1, (os.cpu_count() or 1) // dist.get_world_size())
    with _blas_threads(threads):
        return _train(a)


def _train(a: argparse.Namespace) -> int:
    import deepling as dl
    from deepling import nn
    from deepling.train import confusion_matrix, evaluate, fit, predict

    defaults = DATASET_DEFAULTS.get(a.dataset, {"epochs": 10, "batch_size": 128})
    epochs = a.epochs or defaults["epochs"]
    batch_size = a.batch_size or defaults["batch_size"]
    data_dir = a.data_dir if a.data_dir is not None else _default_data_dir(a.dataset)
    out = a.out if a.out is not None else Path("runs") / f"{a.model}-{a.dataset}"
    from deepling.train.distributed import is_main_process

    main_rank = is_main_process()  # with --distributed only rank 0 prints and writes
    say = print if main_rank else (lambda *args, **kwargs: None)
    if main_rank:
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
    optimizer = OPTIMIZERS[a.optimizer](model.parameters(), a)
    loss_fn = nn.CrossEntropyLoss()
    train_loader = _loaders(X[train_idx], y[train_idx], batch_size, shuffle=True)
    val_loader = _loaders(X[val_idx], y[val_idx], 512, shuffle=False) if n_val else None
    test_loader = _loaders(Xt, yt, 512, shuffle=False)
    n_params = sum(p.numel() for p in model.parameters())
    ranks = ""
    if a.distributed:
        from deepling import distributed as dist

        ranks = f" on {dist.get_world_size()} ranks"
    say(f"training {a.model} ({n_params:,} parameters) on {a.dataset}{ranks}: {len(train_idx)} train / {n_val} "
        f"validation / {len(Xt)} test, {epochs} epochs, batch {batch_size}, {a.optimizer} lr {a.lr}", flush=True)

    ckpt = out / "checkpoint.ckpt"
    history = fit(model, train_loader, loss_fn, optimizer, epochs, val_loader=val_loader, checkpoint=ckpt,
                  resume=bool(a.resume), progress=not a.no_progress, checkpoint_extra={"cli": cfg})
    if not main_rank:
        return 130 if history.interrupted else 0  # rank 0 evaluates and writes the outputs
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
    from deepling.train import confusion_matrix, evaluate, load_checkpoint, predict

    state = load_checkpoint(a.checkpoint, restore_rng=False)
    cfg = state.get("cli")
    if cfg is None:
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
def _add_text_options(t: argparse.ArgumentParser) -> None:
    g = t.add_argument_group("language models (--dataset text)")
    g.add_argument("--text", type=Path, default=None, help="the training text (UTF-8); first 90%% train, last 10%% validation")
    g.add_argument("--context", type=_positive_int, default=64, help="characters per training window")
    g.add_argument("--steps", type=_positive_int, default=1500, help="training steps (random batches of windows)")
    g.add_argument("--embed", type=_positive_int, default=64, help="embedding size")
    g.add_argument("--layers", type=_positive_int, default=1, help="recurrent layers (gpt: Transformer blocks)")
    g.add_argument("--heads", type=_positive_int, default=4, help="gpt: attention heads (--embed is d_model)")
    g.add_argument("--clip", type=_nonneg_float, default=1.0, help="clip the gradient norm to this (0: no clipping)")
    g.add_argument("--eval-every", type=_positive_int, default=100, help="steps between validation estimates")


def _add_sample_parser(sub: Any) -> None:
    s = sub.add_parser("sample", help="generate text from a language-model checkpoint",
                       description="Load a checkpoint written by 'deepling train --dataset text' and print a "
                                   "continuation of --prompt.", formatter_class=_Help)
    s.add_argument("checkpoint", type=Path, help="path of checkpoint.ckpt")
    s.add_argument("--prompt", default="\n", help="text to continue (its characters must be in the vocabulary)")
    s.add_argument("--tokens", type=_positive_int, default=300, help="characters to generate")
    s.add_argument("--temperature", type=_nonneg_float, default=0.8, help="softmax temperature (0: most likely)")
    s.add_argument("--top-k", type=_positive_int, default=None, help="sample among the k most likely characters only")
    s.add_argument("--seed", type=int, default=0, help="random seed of the sampler")


def _text_loss(model: Any, data: np.ndarray, context: int, batch: int = 256) -> float:
    """Mean next-character cross-entropy (nats) over ``data`` read as consecutive ``context`` windows."""
    import deepling as dl
    from deepling.nn import functional as F

    n = (len(data) - 1) // context
    if n == 0:
        raise ValueError(f"the validation text ({len(data)} characters) is shorter than one window of {context + 1}")
    x = data[: n * context].reshape(n, context)
    y = data[1 : n * context + 1].reshape(n, context)
    total = 0.0
    was_training = model.training
    model.eval()
    with dl.no_grad():
        for s in range(0, n, batch):
            logits = model(dl.tensor(x[s : s + batch]))
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), dl.tensor(y[s : s + batch].reshape(-1)),
                                     reduction="sum").item()
    model.train(was_training)
    return total / (n * context)


def _train_text(a: argparse.Namespace) -> int:
    import deepling as dl
    from deepling.data import CharCorpus
    from deepling.models import LANGUAGE_MODELS
    from deepling.nn import functional as F
    from deepling.nn.utils import clip_grad_norm_
    from deepling.train import load_checkpoint, save_checkpoint

    if a.dataset != "text" or a.model not in LANGUAGE_MODELS:
        raise ValueError(f"--model {a.model} needs --dataset text and a language model (one of {sorted(LANGUAGE_MODELS)})")
    if a.text is None:
        raise ValueError("--dataset text needs --text FILE")
    corpus = CharCorpus.from_file(a.text)
    batch_size = a.batch_size or 32
    out = a.out if a.out is not None else Path("runs") / f"{a.model}-text"
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.ckpt"
    options = {"embed": a.embed, "hidden": (a.hidden or [256])[0], "num_layers": a.layers, "dropout": a.dropout,
               "heads": a.heads}
    cfg = {"model": a.model, "model_options": options, "dataset": "text", "text": str(a.text), "chars": corpus.chars,
           "context": a.context, "seed": a.seed, "steps": a.steps, "batch_size": batch_size, "optimizer": a.optimizer,
           "lr": a.lr, "weight_decay": a.weight_decay, "clip": a.clip}
    dl.manual_seed(a.seed)
    model = LANGUAGE_MODELS[a.model](corpus.vocab_size, a.context, **options)
    optimizer = OPTIMIZERS[a.optimizer](model.parameters(), a)
    gen = dl.Generator(a.seed)
    step, history = 0, []
    if a.resume and ckpt.exists():
        state = load_checkpoint(ckpt, model, optimizer, generator=gen)
        step, history = state["epoch"], list(state.get("history", []))
        print(f"resumed from {ckpt} at step {step}")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"training {a.model} ({n_params:,} parameters) on {a.text}: {corpus.vocab_size} characters, "
          f"{len(corpus.train_data):,} train / {len(corpus.val_data):,} validation, {a.steps} steps of "
          f"{batch_size} x {a.context}, {a.optimizer} lr {a.lr}, clip {a.clip}", flush=True)

    def save() -> None:
        save_checkpoint(ckpt, model, optimizer, epoch=step, generator=gen, cli=cfg, history=history)

    t_start, running, interrupted = time.perf_counter(), [], False
    t_last = t_start
    try:
        while step < a.steps:
            x, y = corpus.get_batch("train", batch_size, a.context, generator=gen)
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, corpus.vocab_size), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            if a.clip:
                clip_grad_norm_(model.parameters(), a.clip)
            optimizer.step()
            step += 1
            running.append(loss.item())
            if step % a.eval_every == 0 or step == a.steps:
                # a quick validation estimate on 8 random batches; the full pass runs at the end
                vx, vy = corpus.get_batch("val", 8 * batch_size, a.context, generator=dl.Generator(step))
                with dl.no_grad():
                    model.eval()
                    vl = F.cross_entropy(model(vx).reshape(-1, corpus.vocab_size), vy.reshape(-1)).item()
                    model.train()
                history.append({"step": step, "train_loss": float(np.mean(running)), "val_loss": vl})
                if not a.no_progress:
                    print(f"step {step:6d}  train loss {np.mean(running):.4f}  val loss ~{vl:.4f}  "
                          f"({(time.perf_counter() - t_last) / len(running) * 1e3:.0f} ms/step)", flush=True)
                running, t_last = [], time.perf_counter()
                save()
    except KeyboardInterrupt:
        interrupted = True
        save()
        print(f"interrupted at step {step}; resume with --resume", file=sys.stderr)
    val = _text_loss(model, corpus.val_data, a.context)
    elapsed = time.perf_counter() - t_start
    metrics = {"val_loss": val, "steps_completed": step, "interrupted": interrupted, "seconds": elapsed}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    (out / "history.json").write_text(json.dumps(history, indent=1))
    save()
    print(f"validation loss: {val:.4f} nats/char over {len(corpus.val_data):,} characters  ({step} steps, {elapsed:.1f}s)")
    print(f"wrote checkpoint.ckpt, metrics.json, history.json to {out}")
    return 130 if interrupted else 0


def cmd_sample(a: argparse.Namespace) -> int:
    import deepling as dl
    from deepling.data import CharCorpus
    from deepling.models import LANGUAGE_MODELS
    from deepling.train import load_checkpoint

    state = load_checkpoint(a.checkpoint, restore_rng=False)
    cfg = state.get("cli")
    if cfg is None or cfg.get("dataset") != "text" or cfg.get("model") not in LANGUAGE_MODELS:
        raise ValueError(f"{a.checkpoint} is not a language-model checkpoint written by 'deepling train --dataset text'")
    corpus = CharCorpus("", chars=cfg["chars"])
    model = LANGUAGE_MODELS[cfg["model"]](len(cfg["chars"]), cfg["context"], **cfg["model_options"])
    model.load_state_dict(state["model"])
    prompt = corpus.encode(a.prompt)
    if prompt.size == 0:
        raise ValueError("--prompt must not be empty")
    ids = model.generate(prompt[None], a.tokens, temperature=a.temperature, top_k=a.top_k, generator=dl.Generator(a.seed))
    print(corpus.decode(ids.array[0]))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"train": cmd_train, "evaluate": cmd_evaluate}
COMMANDS["sample"] = cmd_sample


def cmd_lesson(a: argparse.Namespace) -> int:
    from deepling.lessons.cli import command

    return command(a)


COMMANDS["lesson"] = cmd_lesson


def _cmd_pretrain(a: argparse.Namespace) -> int:
    from deepling.pretrain.experiment import cmd_pretrain

    return cmd_pretrain(a)


COMMANDS["pretrain"] = _cmd_pretrain

def cmd_bench(argv: Sequence[str]) -> int:
    """Run the benchmark suite that lives in the repository's ``benchmarks/`` (it needs torch)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "benchmarks" / "suite.py").exists() and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from benchmarks.suite import main as bench_main
    except ImportError as err:
        print(f"deepling bench: error: the benchmark suite needs a deepling checkout and torch ({err})", file=sys.stderr)
        return 1
    return bench_main(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepling`` console script and ``python -m deepling``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # the suite parses its own options
        return cmd_bench(argv[1:])
    if argv[:1] == ["run"]:  # the launcher passes everything after -- to the command
        from deepling.distributed.run import main as run_main

        return run_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (FileNotFoundError, RuntimeError, ValueError, ImportError) as err:
        # data and checkpoint problems are user errors: one clear line, no traceback
        print(f"deepling {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
