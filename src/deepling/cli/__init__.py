"""The ``deepling`` command line: an adapter over the library (argparse, messages, exit codes).

One module per command family: ``train`` (``train``, ``evaluate``, ``sample``), ``pretrain``,
``lesson``, ``interop`` (``export``, ``import``), ``studio``, ``bench``, ``run`` (the launcher); ``arguments`` holds what they share.
The registries the choices come from live in the library: ``deepling.models.MODELS`` /
``LANGUAGE_MODELS``, ``deepling.data.DATASETS``, ``deepling.optim.OPTIMIZERS``,
``deepling.nn.ACTIVATIONS``. Nothing in the library imports this package.

Exit codes: 0 done, 1 a user error (one line on stderr: missing data, bad checkpoint, ...), 2 bad
arguments (argparse), 130 interrupted (a checkpoint was saved).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from deepling.cli import bench, interop, lesson, pretrain, run, studio, train

__all__ = ["main", "build_parser", "COMMANDS"]

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": train.cmd_train, "evaluate": train.cmd_evaluate, "sample": train.cmd_sample,
    "lesson": lesson.cmd_lesson, "pretrain": pretrain.cmd_pretrain,
    "export": interop.cmd_export, "import": interop.cmd_import, "studio": studio.cmd_studio,
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deepling", description="deepling: train and evaluate neural networks on NumPy.",
        epilog="examples:\n  deepling train                      # MLP on the embedded 8x8 digits, ~97%+ test accuracy\n"
               "  deepling train --dataset mnist --epochs 10 --out runs/mnist\n"
               "  deepling evaluate runs/mnist/checkpoint.ckpt",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    train.add_parsers(sub)
    lesson.add_parser(sub)
    pretrain.add_parser(sub)
    interop.add_parsers(sub)
    studio.add_parser(sub)
    bench.add_parser(sub)
    run.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepling`` console script and ``python -m deepling``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # the suite parses its own options
        return bench.cmd_bench(argv[1:])
    if argv[:1] == ["run"]:  # the launcher passes everything after -- to the command
        return run.cmd_run(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (OSError, RuntimeError, ValueError, ImportError) as err:
        # data and checkpoint problems are user errors: one clear line, no traceback
        print(f"deepling {args.command}: error: {err}", file=sys.stderr)
        return 1
