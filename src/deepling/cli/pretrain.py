"""``deepling pretrain``: the semi-supervised experiment of ``deepling.pretrain.experiment``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from deepling.cli.arguments import blas_threads, int_list, nonneg_float, positive_float, positive_int, widths

__all__ = ["add_parser", "cmd_pretrain"]


def add_parser(sub: Any) -> None:
    """Add ``deepling pretrain`` to the subparsers ``sub``."""
    from deepling.data import DATASETS
    from deepling.nn import ACTIVATIONS

    p = sub.add_parser("pretrain", help="semi-supervised experiment: random init vs greedy stacked-autoencoder pretraining",
                       description="Train an MLP on a few labels from random init, and the same MLP initialized by greedy "
                                   "layer-wise stacked denoising-autoencoder pretraining on all training images; print "
                                   "both test accuracies per seed.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATASETS), default="mnist", help="data set")
    p.add_argument("--data-dir", type=Path, default=None, help="where the data set's files are")
    p.add_argument("--layers", type=widths, default=[784, 500, 250, 30], help="input width and hidden widths")
    p.add_argument("--labels", type=positive_int, default=1000, help="labeled training images (balanced over classes)")
    p.add_argument("--epochs-per-layer", type=positive_int, default=2, help="pretraining epochs per stage")
    p.add_argument("--finetune-epochs", type=positive_int, default=30, help="supervised epochs over the labeled images (both arms)")
    p.add_argument("--seeds", type=int_list, default=[0], help="comma-separated seeds")
    p.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS))
    p.add_argument("--corruption", default="mask", choices=["mask", "gaussian", "none"], help="denoising corruption")
    p.add_argument("--noise", type=nonneg_float, default=0.3, help="masking probability or Gaussian std")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate for pretraining")
    p.add_argument("--finetune-lr", type=positive_float, default=1e-3, help="Adam learning rate for the supervised phase")
    p.add_argument("--batch-size", type=positive_int, default=128, help="pretraining batch size")
    p.add_argument("--recon-sizes", type=widths, default=[784, 256, 64], help="dense autoencoder for --recon-epochs")
    p.add_argument("--recon-epochs", type=int, default=0, help="also train dense_autoencoder(--recon-sizes) this many "
                                                               "epochs and report its test reconstruction MSE (0: skip)")
    p.add_argument("--figures", type=Path, default=None, help="with --recon-epochs: write reconstruction, feature "
                                                                 "and 2-D code figures to this directory")
    p.add_argument("--threads", type=positive_int, default=None, help="BLAS threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or per-epoch lines")


def cmd_pretrain(a: argparse.Namespace) -> int:
    """Run the experiment and print the table."""
    from deepling.pretrain.experiment import autoencoder_mse, flat_images, format_table, run_experiment

    data = flat_images(a.dataset, a.data_dir)
    t0 = time.perf_counter()
    with blas_threads(a.threads):
        results = run_experiment(data, a.layers, a.labels, a.epochs_per_layer, a.finetune_epochs, a.seeds,
                                 activation=a.activation, corruption=None if a.corruption == "none" else a.corruption,
                                 noise=a.noise, pretrain_lr=a.lr, finetune_lr=a.finetune_lr, batch_size=a.batch_size,
                                 progress=not a.no_progress)
        print(format_table(results, a.layers, a.labels, a.epochs_per_layer, a.finetune_epochs))
        for r in results:
            stages = ", ".join(f"{losses[-1]:.4f}" for losses in r.pretrain_losses)
            print(f"seed {r.seed}: final reconstruction MSE per stage: {stages}")
        if a.recon_epochs > 0:
            mse = autoencoder_mse(data, a.recon_sizes, a.recon_epochs, seed=a.seeds[0], progress=not a.no_progress,
                                  figures=a.figures)
            shape = "-".join(str(s) for s in a.recon_sizes)
            print(f"autoencoder {shape} ({a.recon_epochs} epochs): test reconstruction MSE per pixel {mse:.5f}")
    print(f"total wall time {time.perf_counter() - t0:.0f}s")
    return 0
