"""The semi-supervised experiment: does greedy autoencoder pretraining on unlabeled data help?

With only ``labels`` labeled training images (balanced over the classes) and all training images
as unlabeled data, compare on the test set:
  (a) an MLP of shape ``layers -> classes`` trained from random init on the labeled images;
  (b) the same MLP initialized by greedy stacked denoising-autoencoder pretraining on all the
      training images, then fine-tuned on the same labeled images with the same optimizer budget.
``deepling pretrain`` (``deepling.cli.pretrain``) runs it; ``autoencoder_mse`` measures a dense autoencoder's test reconstruction MSE.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import deepling as dl
from deepling import nn, optim
from deepling.autograd import no_grad
from deepling.data import DataLoader, TensorDataset, load_dataset
from deepling.pretrain.stacked import StackedAutoencoder
from deepling.train.fit import fit

__all__ = ["Result", "flat_images", "labeled_subset", "run_experiment", "autoencoder_mse", "format_table"]


@dataclass
class Result:
    seed: int
    baseline_accuracy: float
    pretrained_accuracy: float
    pretrain_losses: list[list[float]] = field(default_factory=list)
    seconds_baseline: float = 0.0
    seconds_pretrain: float = 0.0
    seconds_finetune: float = 0.0


def flat_images(dataset: str = "mnist", data_dir: str | Path | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train (N, D), y_train, X_test (M, D), y_test)`` of a data set of ``deepling.data.DATASETS``,
    flattened, pixels in [0, 1] float32; ``data_dir=None`` follows ``deepling.data.location``."""
    X, y, _ = load_dataset(dataset, True, data_dir)
    Xt, yt, _ = load_dataset(dataset, False, data_dir)
    return X.reshape(len(X), -1), y, Xt.reshape(len(Xt), -1), yt


def labeled_subset(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted indices of ``per_class`` random examples of each class (fixed by ``seed``)."""
    rng = np.random.default_rng(seed)
    idx = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < per_class:
            raise ValueError(f"labeled_subset: class {c} has {len(members)} examples, fewer than {per_class}")
        idx.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(idx))


def _finetune(model: Any, X: np.ndarray, y: np.ndarray, epochs: int, lr: float, batch_size: int,
              progress: bool = False, desc: str | None = None) -> None:
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
    opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    fit(model, loader, nn.functional.cross_entropy, opt, epochs, progress=progress, desc=desc)


def _accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    correct = 0
    with no_grad():
        for i in range(0, len(X), 1000):
            correct += int((model(dl.Tensor(X[i:i + 1000])).array.argmax(1) == y[i:i + 1000]).sum())
    return correct / len(X)


def run_experiment(data: tuple[np.ndarray, ...], layers: Sequence[int] = (784, 500, 250, 30), labels: int = 1000,
                   epochs_per_layer: int = 2, finetune_epochs: int = 30, seeds: Sequence[int] = (0,),
                   activation: str = "relu", corruption: str | None = "mask", noise: float = 0.3,
                   pretrain_lr: float = 1e-3, finetune_lr: float = 1e-3, batch_size: int = 128,
                   finetune_batch_size: int = 64, progress: bool = True) -> list[Result]:
    """Run (a) random init and (b) stacked-DAE pretraining + fine-tuning for each seed; see the module doc.

    ``data`` is ``(X_train, y_train, X_test, y_test)`` with flattened inputs in [0, 1]. Per seed the
    labeled subset, the initializations and the shuffling are fixed by the seed; both arms get the
    same fine-tuning budget (``finetune_epochs`` of Adam at ``finetune_lr`` over the labeled images).
    """
    X, y, Xt, yt = data
    classes = int(y.max()) + 1
    if labels % classes:
        raise ValueError(f"run_experiment: labels ({labels}) must be a multiple of the number of classes ({classes})")
    if layers[0] != X.shape[1]:
        raise ValueError(f"run_experiment: first layer width {layers[0]} != input size {X.shape[1]}")
    results = []
    for seed in seeds:
        idx = labeled_subset(y, labels // classes, seed)
        Xl, yl = X[idx], y[idx]

        t0 = time.perf_counter()
        dl.manual_seed(seed)
        from deepling.models.mlp import MLP

        baseline = MLP(layers[0], list(layers[1:]), classes, activation=activation)
        _finetune(baseline, Xl, yl, finetune_epochs, finetune_lr, finetune_batch_size, progress, f"seed {seed} random init")
        acc_a = _accuracy(baseline, Xt, yt)
        t1 = time.perf_counter()

        dl.manual_seed(seed)
        sae = StackedAutoencoder(layers, activation=activation, corruption=corruption, noise=noise)
        unlabeled = DataLoader(TensorDataset(X), batch_size=batch_size, shuffle=True)
        losses = sae.pretrain(unlabeled, epochs_per_layer, lambda ps: optim.Adam(ps, lr=pretrain_lr), progress=progress)
        t2 = time.perf_counter()
        clf = sae.to_classifier(classes)
        _finetune(clf, Xl, yl, finetune_epochs, finetune_lr, finetune_batch_size, progress, f"seed {seed} fine-tune")
        acc_b = _accuracy(clf, Xt, yt)
        t3 = time.perf_counter()
        results.append(Result(seed, acc_a, acc_b, losses, t1 - t0, t2 - t1, t3 - t2))
        if progress:
            print(f"seed {seed}: random init {100 * acc_a:.2f}%, pretrained {100 * acc_b:.2f}%", flush=True)
    return results


def format_table(results: Sequence[Result], layers: Sequence[int], labels: int, epochs_per_layer: int,
                 finetune_epochs: int) -> str:
    """The comparison table (markdown), one row per seed plus the mean."""
    shape = "-".join(str(s) for s in layers)
    lines = [f"MLP {shape}-10, {labels} labels, pretraining {epochs_per_layer} epoch(s)/layer on all training images, "
             f"fine-tuning {finetune_epochs} epochs (both arms)",
             "| seed | random init: test acc | pretrained + fine-tuned: test acc | difference | time a / pretrain / finetune (s) |",
             "| --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r.seed} | {100 * r.baseline_accuracy:.2f}% | {100 * r.pretrained_accuracy:.2f}% | "
                     f"{100 * (r.pretrained_accuracy - r.baseline_accuracy):+.2f} | "
                     f"{r.seconds_baseline:.0f} / {r.seconds_pretrain:.0f} / {r.seconds_finetune:.0f} |")
    if len(results) > 1:
        a = np.array([r.baseline_accuracy for r in results]) * 100
        b = np.array([r.pretrained_accuracy for r in results]) * 100
        lines.append(f"| mean +- std | {a.mean():.2f} +- {a.std():.2f}% | {b.mean():.2f} +- {b.std():.2f}% | "
                     f"{(b - a).mean():+.2f} | |")
    return "\n".join(lines)


def autoencoder_mse(data: tuple[np.ndarray, ...], sizes: Sequence[int] = (784, 256, 64), epochs: int = 5,
                    seed: int = 0, lr: float = 1e-3, batch_size: int = 128, progress: bool = True,
                    figures: str | Path | None = None) -> float:
    """Train ``dense_autoencoder(sizes)`` (ReLU, sigmoid output, MSE) on the training images and return
    its mean squared reconstruction error per pixel on the test images. With ``figures`` (a directory),
    also write ``reconstructions.png``, ``features.png`` and ``codes_2d.png`` (square images only)."""
    from deepling.models.autoencoder import dense_autoencoder

    X, _, Xt, _ = data
    dl.manual_seed(seed)
    ae = dense_autoencoder(sizes, activation="relu", out_activation="sigmoid")
    loader = DataLoader(TensorDataset(X), batch_size=batch_size, shuffle=True)
    fit(ae, loader, None, optim.Adam(ae.parameters(), lr=lr), epochs, step_fn=lambda model, batch: model.loss(batch[0]),
        progress=progress, desc="autoencoder")
    ae.eval()
    with no_grad():
        errs = np.concatenate([ae.reconstruction_error(dl.Tensor(Xt[i:i + 1000])).array for i in range(0, len(Xt), 1000)])
        if figures is not None:
            _figures(ae, Xt[:2000], data[3][:2000], Path(figures), "-".join(str(s) for s in sizes))
    return float(errs.mean())


def _figures(ae: Any, X: np.ndarray, y: np.ndarray, out: Path, shape: str) -> None:
    from deepling.viz.autoencoder import plot_codes_2d, plot_features, plot_reconstructions

    out.mkdir(parents=True, exist_ok=True)
    x = dl.Tensor(X)
    plot_reconstructions(X[:12], ae(x[:12]).array, out / "reconstructions.png", n=12, title=f"autoencoder {shape}: test images")
    plot_features(ae.encoder[0].weight.array, out / "features.png", n=64, title="first-layer features")
    plot_codes_2d(ae.encode(x).array, y, out / "codes_2d.png", title="codes (PCA to 2-D), colored by label")
