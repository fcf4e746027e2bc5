"""``deepling train``, ``deepling evaluate`` and ``deepling sample``: argument parsing over
``deepling.train.classifier`` (image classifiers on ``deepling.data.DATASETS``) and
``deepling.train.language`` (character language models, ``--dataset text``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from deepling.cli.arguments import (
    HelpFormatter,
    blas_threads,
    fraction,
    nonneg_float,
    positive_float,
    positive_int,
    widths,
)

__all__ = ["add_parsers", "cmd_train", "cmd_evaluate", "cmd_sample"]

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
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel on the ranks of this MPI job: mpiexec -n N deepling train --distributed, or "
                        "deepling run -n N -- deepling train --distributed (--batch-size is the global batch; rank 0 "
                        "prints and writes)")
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


# ---------------------------------------------------------------------------------------- commands
def cmd_train(a: argparse.Namespace) -> int:
    from deepling.train.classifier import DATASET_DEFAULTS, train_classifier

    if a.dataset == "text" or a.model.startswith("char-"):
        if a.distributed:
            raise ValueError("--distributed trains the image classifiers (fit); language models train in one process")
        with blas_threads(a.threads):
            return _train_text(a)
    threads = a.threads or DATASET_DEFAULTS.get(a.dataset, {}).get("threads")
    if a.distributed:
        import os

        from deepling import distributed as dist

        dist.init_process_group("mpi")
        # the ranks share the machine's cores: one BLAS pool per rank, not one per rank per core
        threads = threads or max(1, (os.cpu_count() or 1) // dist.get_world_size())
    with blas_threads(threads):
        metrics = train_classifier(
            a.model, a.dataset, data_dir=a.data_dir, out=a.out, epochs=a.epochs, batch_size=a.batch_size,
            optimizer=a.optimizer, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay, hidden=a.hidden,
            activation=a.activation, dropout=a.dropout, val_fraction=a.val_fraction, seed=a.seed,
            resume=bool(a.resume), plots=not a.no_plots, progress=not a.no_progress)
    return 130 if metrics["interrupted"] else 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from deepling.train.classifier import evaluate_classifier

    evaluate_classifier(a.checkpoint, a.data_dir, a.batch_size, a.out)
    return 0


# ---------------------------------------------------------------------------------------- language models
def _train_text(a: argparse.Namespace) -> int:
    from deepling.models import LANGUAGE_MODELS
    from deepling.train.language import train_language_model

    if a.model not in LANGUAGE_MODELS:
        raise ValueError(f"--dataset text trains a language model: choose --model from {sorted(LANGUAGE_MODELS)} "
                         f"({a.model} is an image classifier)")
    if a.dataset != "text":
        raise ValueError(f"--model {a.model} is a language model: train it with --dataset text --text FILE")
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
