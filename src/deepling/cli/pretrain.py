"""``deepling pretrain``: the semi-supervised experiment of ``deepling.pretrain.experiment``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from deepling.cli.arguments import blas_threads, int_list, positive_int, widths

__all__ = ["add_parser", "cmd_pretrain"]


def _budgets(s: str) -> list[int]:
    from deepling.pretrain.experiment import ALL

    try:
        return [ALL if v.strip() == "all" else int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated label counts or 'all', got {s!r}") from None


def _floats(s: str) -> list[float]:
    try:
        return [float(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {s!r}") from None


def _methods(s: str) -> list[str]:
    from deepling.pretrain.experiment import METHODS

    ms = [v.strip() for v in s.split(",") if v.strip()]
    bad = [m for m in ms if m not in METHODS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown method(s) {bad}; choose from {','.join(METHODS)}")
    return ms


def add_parser(sub: Any) -> None:
    """Add ``deepling pretrain`` to the subparsers ``sub``."""
    from deepling.data import DATASETS
    from deepling.pretrain.experiment import METHODS, Recipe

    d = Recipe()
    p = sub.add_parser("pretrain", help="semi-supervised experiment: random init vs SDAE vs DBN vs pseudo-labeling",
                       description="Does learning from unlabeled images pay when labels are few? For each labeled budget, "
                                   "train MLPs of one shape from random init (best of a small grid), from greedy stacked "
                                   "denoising-autoencoder and stacked-RBM (DBN) pretraining on all training images, and "
                                   "with pseudo-labels on top of the pretrained net; print test accuracy (mean and spread "
                                   "over seeds) and wall time. Runs, weights, table and figure go under --out; a rerun "
                                   "with the same --out reuses what is done.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATASETS), default="mnist", help="data set")
    p.add_argument("--data-dir", type=Path, default=None, help="where the data set's files are")
    p.add_argument("--labels", type=_budgets, default="100,1000,all", help="labeled budgets ('all': every training label)")
    p.add_argument("--methods", type=_methods, default=",".join(METHODS), help="which arms to run")
    p.add_argument("--seeds", type=int_list, default="0,1,2", help="comma-separated seeds")
    p.add_argument("--layers", type=widths, default=list(d.layers), help="input width and hidden widths")
    p.add_argument("--epochs-per-layer", type=positive_int, default=d.pretrain_epochs, help="pretraining epochs per layer")
    p.add_argument("--pretrain-lr", type=float, default=d.pretrain_lr, help="SGD learning rate for pretraining")
    p.add_argument("--pretrain-batch-size", type=positive_int, default=d.pretrain_batch_size)
    p.add_argument("--noise", type=float, default=d.noise, help="SDAE masking probability")
    p.add_argument("--finetune-lrs", type=_floats, default=",".join(map(str, d.finetune_lrs)), help="fine-tuning grid: SGD lrs")
    p.add_argument("--activations", default=",".join(d.activations), help="random-init grid: activations")
    p.add_argument("--dropout", type=float, default=d.dropout, help="dropout after every hidden layer when fine-tuning")
    p.add_argument("--max-epochs", type=positive_int, default=d.max_epochs, help="fine-tuning epochs at most (1,000 labels)")
    p.add_argument("--patience", type=positive_int, default=d.patience, help="early-stopping patience (epochs)")
    p.add_argument("--shared-pretraining", action="store_true",
                   help="pretrain once (seed 0) and share it across seeds, instead of once per seed")
    p.add_argument("--out", type=Path, default=Path("runs/pretrain"), help="results, weights, table and figure")
    p.add_argument("--table-only", action="store_true", help="print the table of the runs already under --out; train nothing")
    p.add_argument("--threads", type=positive_int, default=None, help="BLAS threads")
    p.add_argument("--no-progress", action="store_true", help="no per-run lines")


def cmd_pretrain(a: argparse.Namespace) -> int:
    """Run the experiment, print the table, write results and the figure."""
    from deepling.pretrain.experiment import (
        Recipe,
        Run,
        flat_images,
        format_table,
        plot_results,
        run_semi_supervised,
        summarize,
        write_json,
    )

    recipe = Recipe(layers=tuple(a.layers), pretrain_epochs=a.epochs_per_layer, pretrain_lr=a.pretrain_lr,
                    pretrain_batch_size=a.pretrain_batch_size, noise=a.noise, finetune_lrs=tuple(a.finetune_lrs),
                    activations=tuple(v.strip() for v in a.activations.split(",") if v.strip()), dropout=a.dropout,
                    max_epochs=a.max_epochs, patience=a.patience, shared_pretraining=a.shared_pretraining)
    out = Path(a.out)
    t0 = time.perf_counter()
    if a.table_only:
        runs = [Run(**json.loads(f.read_text())) for f in sorted((out / "runs").glob("*.json"))]
        if not runs:
            raise ValueError(f"pretrain --table-only: no runs under {out / 'runs'}")
    else:
        data = flat_images(a.dataset, a.data_dir)
        labels = sorted({min(n, len(data[1])) for n in a.labels})
        with blas_threads(a.threads):
            runs = run_semi_supervised(data, labels, a.methods, a.seeds, recipe, out, progress=not a.no_progress)
    rows = summarize(runs)
    table = format_table(rows, recipe)
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table + "\n")
    write_json(out / "summary.json", rows)
    try:
        plot_results(rows, out / "accuracy.png")
        figure = f", {out / 'accuracy.png'}"
    except ImportError as err:
        figure = f" (no figure: {err})"
    print(f"wrote {out / 'table.md'}, {out / 'summary.json'}{figure}; total wall time {time.perf_counter() - t0:.0f}s")
    return 0
