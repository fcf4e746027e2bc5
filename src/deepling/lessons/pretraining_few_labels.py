"""With few labels, greedy layer-wise pretraining of stacked denoising autoencoders on the unlabeled
images gives a better classifier than the best random initialization of the same network.

The recipe (``deepling.pretrain``): sigmoid units, tied weights, 25% masking noise, cross-entropy
reconstruction, plain SGD, every stage trained on the frozen codes of the one below; then fine-tuning
with SGD + momentum, dropout 0.5 and early stopping on a labeled validation split (10% of the labels),
the best epoch's weights restored. The random-init twin gets the same fine-tuning and the better of
ReLU and sigmoid units. This is a small version of ``deepling pretrain`` (all 60,000 MNIST images,
784-500-500, three labeled budgets, DBN and pseudo-labeling too).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.lessons._verdict import verdict
from deepling.lessons.data import images, resolve_source
from deepling.lessons.plotting import save, subplots


def run(labels_per_class: int | None = None, seeds: tuple[int, ...] = (0, 1, 2), epochs_per_layer: int | None = None,
        n_unlabeled: int = 10000, source: str = "auto", finetune_lr: float = 0.03, max_epochs: int = 200,
        patience: int = 50) -> dict[str, Any]:
    """Defaults per source: MNIST 300 labels + ``n_unlabeled`` images, 784-500-500, 10 epochs per layer;
    the 8x8 digits 50 labels + 1,437 images, 64-64-64, 100 epochs per layer (70 steps per epoch)."""
    from deepling.pretrain.experiment import Recipe, run_semi_supervised, summarize

    if resolve_source(source) == "digits":
        data = images(1437, 360, "digits", 0)  # all of the digits
        layers: tuple[int, ...] = (64, 64, 64)
        labels_per_class, epochs_per_layer = labels_per_class or 5, epochs_per_layer or 100
    else:
        data = images(n_unlabeled, 2000, source, 0)
        layers = (784, 500, 500)
        labels_per_class, epochs_per_layer = labels_per_class or 30, epochs_per_layer or 10
    arrays = (data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    recipe = Recipe(layers=layers, pretrain_epochs=epochs_per_layer, finetune_lrs=(finetune_lr,), max_epochs=max_epochs,
                    patience=patience, shared_pretraining=True)
    n = 10 * labels_per_class
    runs = run_semi_supervised(arrays, labels=(n,), methods=("random", "sdae"), seeds=seeds, recipe=recipe, progress=False)
    rows = {r["method"]: r for r in summarize(runs)}
    a, b = np.array(rows["random"]["test_accuracy"]), np.array(rows["sdae"]["test_accuracy"])
    wins = int((b > a).sum())
    return {"source": data["source"], "layers": list(layers), "labels": n, "unlabeled": len(data["y_train"]),
            "seeds": list(seeds), "random_init_best_cell": rows["random"]["best_config"],
            "random_init_accuracy": a.tolist(), "pretrained_accuracy": b.tolist(),
            "mean_random_init": float(a.mean()), "mean_pretrained": float(b.mean()),
            "seeds_where_pretraining_wins": wins,
            "verdict": verdict(__doc__, [
                (f"{n} labels, {len(data['y_train'])} unlabeled {data['source']} images: pretrained {100 * b.mean():.2f}% vs best "
                 f"random init {100 * a.mean():.2f}% ({rows['random']['best_config']['act']}) mean test accuracy over {len(seeds)} "
                 f"seeds (must win by > 1 point)", b.mean() > a.mean() + 0.01),
                (f"pretraining wins on {wins} of {len(seeds)} seeds (must be > half)", wins > len(seeds) / 2),
            ])}


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots()
    ax = axes[0][0]
    seeds = result["seeds"]
    x = np.arange(len(seeds))
    a, b = 100 * np.array(result["random_init_accuracy"]), 100 * np.array(result["pretrained_accuracy"])
    ax.bar(x - 0.2, a, 0.4, label=f"random init ({result['random_init_best_cell']['act']}, grid picked by validation)")
    ax.bar(x + 0.2, b, 0.4, label="SDAE pretrained")
    lo = min(a.min(), b.min())
    ax.set(xticks=x, xticklabels=[f"seed {s}" for s in seeds], ylim=(max(0, lo - 8), 100), ylabel="test accuracy (%)",
           xlabel="seed (labeled subset, initialization, order)",
           title=f"{result['labels']} labels + {result['unlabeled']:,} unlabeled ({result['source']}): pretraining pays")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8, loc="lower right")
    save(fig, path)
