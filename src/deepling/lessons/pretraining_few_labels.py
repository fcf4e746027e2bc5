"""With few labels, greedy layer-wise pretraining of stacked denoising autoencoders on the unlabeled
images gives the classifier a better start than random initialization (the autoencoder issue's
experiment, small).

Stage k trains encoder_k/decoder_k to reconstruct the frozen codes h_{k-1}; then encoder + new head
are fine-tuned on the labeled subset, with the same budget as the randomly initialized twin.
Measured: on the 8x8 digits (100 labels, their 1,437 training images unlabeled, 30 epochs per layer)
pretraining wins on every seed (with 20 epochs per layer it does not reliably); on a 10,000-image
MNIST subset with this small budget it does not (docs/lessons.md), while the full experiment of ``deepling pretrain`` (60,000 unlabeled, 1,000 labels) gains about 0.8 points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.lessons.data import images, resolve_source
from deepling.lessons.plotting import save, subplots


def run(labels_per_class: int = 10, seeds: tuple[int, ...] = (0, 1, 2), epochs_per_layer: int = 30,
        finetune_epochs: int = 40, source: str = "auto") -> dict[str, Any]:
    from deepling.pretrain.experiment import run_experiment

    if resolve_source(source) == "digits":
        data = images(1437, 360, "digits", 0)  # all of the digits
        layers: tuple[int, ...] = (64, 48, 32)
    else:
        data = images(10000, 2000, source, 0)
        layers = (784, 256, 64)
        epochs_per_layer = min(epochs_per_layer, 3)
    arrays = (data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    results = run_experiment(arrays, layers=layers, labels=10 * labels_per_class, epochs_per_layer=epochs_per_layer,
                             finetune_epochs=finetune_epochs, seeds=seeds, batch_size=64, progress=False)
    a = np.array([r.baseline_accuracy for r in results])
    b = np.array([r.pretrained_accuracy for r in results])
    return {"source": data["source"], "layers": list(layers), "labels": 10 * labels_per_class,
            "unlabeled": len(data["y_train"]), "seeds": list(seeds),
            "random_init_accuracy": a.tolist(), "pretrained_accuracy": b.tolist(),
            "mean_random_init": float(a.mean()), "mean_pretrained": float(b.mean()),
            "seeds_where_pretraining_wins": int((b > a).sum())}


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots()
    ax = axes[0][0]
    seeds = result["seeds"]
    x = np.arange(len(seeds))
    ax.bar(x - 0.2, result["random_init_accuracy"], 0.4, label="random init")
    ax.bar(x + 0.2, result["pretrained_accuracy"], 0.4, label="SDAE pretrained")
    lo = min(result["random_init_accuracy"] + result["pretrained_accuracy"])
    ax.set(xticks=x, xticklabels=[f"seed {s}" for s in seeds], ylim=(max(0, lo - 0.1), 1.0), ylabel="test accuracy",
           title=f"{result['labels']} labels, {result['unlabeled']} unlabeled ({result['source']})")
    ax.legend(fontsize=8)
    save(fig, path)
