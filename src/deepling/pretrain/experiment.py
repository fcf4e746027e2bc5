"""The semi-supervised experiment: does learning from unlabeled images pay when labels are few?

For each labeled budget (e.g. 100, 1,000 and all 60,000 MNIST labels, balanced over the classes,
10% of them held out as the validation split) and each seed, compare on the test set MLPs of one
shape (``layers -> classes``):
  random  random init, the best cell of a small grid of fine-tuning settings and activations;
  sdae    greedy stacked denoising autoencoders (``StackedAutoencoder``: sigmoid, tied weights, 25%
          masking, cross-entropy reconstruction, SGD) pretrained on all training images, then
          fine-tuned on the same grid of fine-tuning settings;
  dbn     stacked RBMs (``DBN``, CD-1) pretrained the same way, fine-tuned the same way;
  pseudo  pseudo-labeling on top of the best pretrained network (by validation score, per seed; the
          modern endpoint of the idea).
Fine-tuning is SGD with momentum, dropout, early stopping on the validation split with the best
weights restored (``deepling.pretrain.finetune``). ``deepling pretrain`` (``deepling.cli.pretrain``) runs it; every run is
written under ``--out`` as it finishes (and reused by a rerun), with the table and figures.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import deepling as dl
from deepling import optim
from deepling.autograd import no_grad
from deepling.data import DataLoader, TensorDataset, load_dataset
from deepling.models.mlp import MLP
from deepling.pretrain.dbn import DBN
from deepling.pretrain.finetune import accuracy, finetune, labeled_split, labeled_subset, pseudo_label
from deepling.pretrain.stacked import StackedAutoencoder, copy_into_mlp
from deepling.train.fit import fit

__all__ = ["Recipe", "Run", "ALL", "METHODS", "flat_images", "write_json", "labeled_subset", "pretrain_stack", "run_semi_supervised",
           "summarize", "format_table", "plot_results", "autoencoder_mse"]

METHODS = ("random", "sdae", "dbn", "pseudo")


ALL = 10**9  # a budget meaning "every training label"


def flat_images(dataset: str = "mnist", data_dir: str | Path | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train (N, D), y_train, X_test (M, D), y_test)`` of a data set of ``deepling.data.DATASETS``,
    flattened, pixels in [0, 1] float32; ``data_dir=None`` follows ``deepling.data.location``."""
    X, y, _ = load_dataset(dataset, True, data_dir)
    Xt, yt, _ = load_dataset(dataset, False, data_dir)
    return X.reshape(len(X), -1), y, Xt.reshape(len(Xt), -1), yt


@dataclass
class Recipe:
    """The experiment's settings; the defaults are the recipe that makes pretraining pay on MNIST."""
    layers: tuple[int, ...] = (784, 500, 500)
    pretrain_epochs: int = 10            # per layer, over all unlabeled images
    pretrain_lr: float = 0.1             # SGD
    pretrain_batch_size: int = 20
    noise: float = 0.25                  # masking probability (SDAE)
    dbn_momentum: float = 0.5
    finetune_lrs: tuple[float, ...] = (0.1, 0.03)
    activations: tuple[str, ...] = ("relu", "sigmoid")   # tried for random init; pretrained nets keep sigmoid
    dropout: float = 0.5
    momentum: float = 0.9
    batch_size: int = 32
    max_epochs: int = 200
    patience: int = 50
    val_fraction: float = 0.1
    pseudo_threshold: float = 0.95
    shared_pretraining: bool = False     # one pretraining (seed 0) for every seed, instead of one per seed

    def epochs_for(self, labels: int) -> tuple[int, int]:
        """``(max_epochs, patience)`` for a labeled budget: the same number of steps at most as for 1,000 labels."""
        if labels <= 1000:
            return self.max_epochs, self.patience
        m = max(10, self.max_epochs * 1000 // labels)
        return m, max(3, self.patience * m // self.max_epochs)


@dataclass
class Run:
    labels: int
    method: str
    config: dict[str, Any]
    seed: int
    test_accuracy: float
    val_accuracy: float
    best_epoch: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def _key(labels: int, method: str, config: dict[str, Any], seed: int) -> str:
    cfg = "_".join(f"{k}{v}" for k, v in sorted(config.items()))
    return f"{labels}_{method}_{cfg}_seed{seed}".replace("/", "-")


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        tmp.write_text(json.dumps(obj, indent=1))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def pretrain_stack(kind: str, X: np.ndarray, recipe: Recipe, seed: int, progress: bool = False) -> tuple[list, list]:
    """Greedy pretraining on all of ``X``: ``kind`` ``'sdae'`` or ``'dbn'``. Returns the encoder layers
    ``[(weight (out, in), bias), ...]`` and the per-stage loss histories."""
    dl.manual_seed(seed)
    loader = DataLoader(TensorDataset(X), batch_size=recipe.pretrain_batch_size, shuffle=True)
    if kind == "sdae":
        sae = StackedAutoencoder(recipe.layers, activation="sigmoid", corruption="mask", noise=recipe.noise)
        hist = sae.pretrain(loader, recipe.pretrain_epochs, lr=recipe.pretrain_lr, progress=progress)
        layers = [(e[0].weight.array.copy(), e[0].bias.array.copy()) for e in sae.encoders]
    elif kind == "dbn":
        dbn = DBN(recipe.layers)
        hist = dbn.pretrain(loader, recipe.pretrain_epochs,
                            lambda ps: optim.SGD(ps, lr=recipe.pretrain_lr, momentum=recipe.dbn_momentum), progress=progress)
        layers = [(r.weight.array.copy(), r.hidden_bias.array.copy()) for r in dbn.rbms]
    else:
        raise ValueError(f"pretrain_stack: kind must be 'sdae' or 'dbn' (got {kind!r})")
    return layers, hist


def _cached_stack(kind: str, X: np.ndarray, recipe: Recipe, seed: int, out: Path | None, progress: bool) -> tuple[list, float]:
    noise = f"_noise{recipe.noise}" if kind == "sdae" else f"_momentum{recipe.dbn_momentum}"
    name = (f"{kind}_{'-'.join(map(str, recipe.layers))}_e{recipe.pretrain_epochs}_lr{recipe.pretrain_lr}"
            f"_batch{recipe.pretrain_batch_size}{noise}_seed{seed}.pt")
    path = out / "weights" / name if out is not None else None
    if path is not None and path.exists():
        state = dl.load(path)
        return [(np.asarray(w), np.asarray(b)) for w, b in state["layers"]], float(state["seconds"])
    t0 = time.perf_counter()
    layers, hist = pretrain_stack(kind, X, recipe, seed, progress)
    seconds = time.perf_counter() - t0
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        dl.save({"layers": [[w, b] for w, b in layers], "history": hist, "seconds": seconds}, path)
    if progress:
        print(f"{kind} pretraining (seed {seed}): {seconds:.0f}s, final losses per stage "
              + ", ".join(f"{h[-1]:.4f}" for h in hist), flush=True)
    return layers, seconds


@dataclass
class _Split:
    """One seed's labeled data: fine-tuning and validation parts, the test set, the unlabeled rest."""
    seed: int
    Xl: np.ndarray
    yl: np.ndarray
    Xv: np.ndarray
    yv: np.ndarray
    Xt: np.ndarray
    yt: np.ndarray
    X_all: np.ndarray
    unlabeled: np.ndarray     # indices into X_all of the images without labels
    max_epochs: int
    patience: int


def _tune(make: Callable[[], Any], lr: float, s: _Split, recipe: Recipe) -> tuple[float, float, int, dict, Any]:
    """Build a model (after seeding), fine-tune it with early stopping, and measure its test accuracy."""
    dl.manual_seed(s.seed)
    model = make()
    res = finetune(model, s.Xl, s.yl, s.Xv, s.yv, lr=lr, momentum=recipe.momentum, batch_size=recipe.batch_size,
                   max_epochs=s.max_epochs, patience=s.patience)
    return (accuracy(model, s.Xt, s.yt), res.val_accuracy, res.best_epoch,
            {"epochs_run": res.epochs_run, "val_loss": res.val_loss}, model)


class _Runner:
    """Runs (or loads from ``out/runs``) one experiment cell at a time and collects the ``Run`` records."""

    def __init__(self, out: Path | None, progress: bool, log: Callable[[str], None]) -> None:
        self.out, self.progress, self.log = out, progress, log
        self.runs: list[Run] = []

    def cached(self, n: int, method: str, config: dict[str, Any], seed: int) -> Run | None:
        path = self._path(n, method, config, seed)
        return Run(**json.loads(path.read_text())) if path is not None and path.exists() else None

    def _path(self, n: int, method: str, config: dict[str, Any], seed: int) -> Path | None:
        return self.out / "runs" / f"{_key(n, method, config, seed)}.json" if self.out is not None else None

    def record(self, n: int, method: str, config: dict[str, Any], seed: int, result: tuple, seconds: float) -> Run:
        test, val, epoch, extra = result[:4]
        run = Run(n, method, config, seed, test, val, epoch, seconds, extra)
        path = self._path(n, method, config, seed)
        if path is not None:
            write_json(path, asdict(run))
        return self.add(run)

    def add(self, run: Run) -> Run:
        if self.progress:
            self.log(f"labels {run.labels:>5} {run.method:<6} {json.dumps(run.config, sort_keys=True):<32} seed {run.seed}: "
                     f"test {100 * run.test_accuracy:.2f}% (val {100 * run.val_accuracy:.1f}%, best epoch {run.best_epoch}, "
                     f"{run.seconds:.0f}s)")
        self.runs.append(run)
        return run


def _check_recipe(out: Path, recipe: Recipe) -> None:
    """Runs under ``out`` are reused by key (budget, method, cell, seed): refuse to mix settings."""
    (out / "runs").mkdir(parents=True, exist_ok=True)
    path, mine = out / "recipe.json", json.loads(json.dumps(asdict(recipe)))
    if path.exists():
        theirs = json.loads(path.read_text())
        diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        if diff:
            raise ValueError(f"run_semi_supervised: the runs under {out} were made with other settings ({', '.join(diff)}); "
                             "use another output directory")
    else:
        write_json(path, mine)


def run_semi_supervised(data: tuple[np.ndarray, ...], labels: Sequence[int] = (100, 1000, 60000),
                        methods: Sequence[str] = METHODS, seeds: Sequence[int] = (0, 1, 2), recipe: Recipe | None = None,
                        out: str | Path | None = None, progress: bool = True,
                        log: Callable[[str], None] = print) -> list[Run]:
    """Run the experiment (see the module doc) and return every ``Run`` (one per budget, method, grid
    cell and seed). With ``out``, each run and each pretrained stack is saved as it finishes and
    reused by a later call with the same settings. A budget of ``len(y_train)`` means all labels."""
    recipe = recipe or Recipe()
    X, y, Xt, yt = data
    classes = int(y.max()) + 1
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"run_semi_supervised: unknown methods {sorted(unknown)} (choose from {list(METHODS)})")
    if recipe.layers[0] != X.shape[1]:
        raise ValueError(f"run_semi_supervised: first layer width {recipe.layers[0]} != input size {X.shape[1]}")
    for n in labels:
        if n < len(y) and n % classes:
            raise ValueError(f"run_semi_supervised: labels ({n}) must be a multiple of the number of classes ({classes})")
    outp = Path(out) if out is not None else None
    if outp is not None:
        _check_recipe(outp, recipe)
    runner = _Runner(outp, progress, log)
    stacks: dict[tuple[str, int], tuple[list, float]] = {}
    kinds = [k for k in ("sdae", "dbn") if k in methods or "pseudo" in methods]
    for n in labels:
        max_epochs, patience = recipe.epochs_for(min(n, len(y)))
        for seed in seeds:
            idx = np.arange(len(y)) if n >= len(y) else labeled_subset(y, n // classes, seed)
            tr, va = labeled_split(y, idx, recipe.val_fraction, seed)
            split = _Split(seed, X[tr], y[tr], X[va], y[va], Xt, yt, X, np.setdiff1d(np.arange(len(y)), idx), max_epochs,
                           patience)
            if "random" in methods:
                for act in recipe.activations:
                    for lr in recipe.finetune_lrs:
                        _random_cell(runner, n, split, recipe, classes, act, lr)
            pseed = 0 if recipe.shared_pretraining else seed
            best: tuple | None = None  # the pretrained net pseudo-labeling starts from: best validation score
            for kind in kinds:
                if (kind, pseed) not in stacks:
                    stacks[(kind, pseed)] = _cached_stack(kind, X, recipe, pseed, outp, progress)
                for lr in recipe.finetune_lrs:
                    run, model = _pretrained_cell(runner, n, split, recipe, classes, kind, lr, stacks[(kind, pseed)],
                                                  record=kind in methods or "pseudo" in methods)
                    score = (run.val_accuracy, -run.extra.get("val_loss", np.inf)) if run is not None else (-1.0, 0.0)
                    if best is None or score > best[0]:
                        best = (score, kind, lr, model)
            if "pseudo" in methods and n < len(y) and best is not None:
                _, kind, lr, model = best
                _pseudo_cell(runner, n, split, recipe, classes, kind, lr, model, stacks[(kind, pseed)][0])
    return runner.runs


def _random_cell(runner: _Runner, n: int, s: _Split, recipe: Recipe, classes: int, act: str, lr: float) -> None:
    config = {"act": act, "lr": lr}
    run = runner.cached(n, "random", config, s.seed)
    if run is not None:
        runner.add(run)
        return
    t0 = time.perf_counter()
    result = _tune(lambda: MLP(recipe.layers[0], list(recipe.layers[1:]), classes, activation=act, dropout=recipe.dropout),
                   lr, s, recipe)
    runner.record(n, "random", config, s.seed, result, time.perf_counter() - t0)


def _pretrained_cell(runner: _Runner, n: int, s: _Split, recipe: Recipe, classes: int, kind: str, lr: float,
                     stack: tuple[list, float], record: bool) -> tuple[Run | None, Any]:
    """Fine-tune the pretrained ``stack`` at ``lr``; returns the run (None when not recorded) and the
    model (None when the run came from the cache)."""
    layers, pre_seconds = stack
    config = {"lr": lr}
    run = runner.cached(n, kind, config, s.seed) if record else None
    if run is not None:
        return runner.add(run), None
    t0 = time.perf_counter()
    result = _tune(lambda: copy_into_mlp(layers, classes, "sigmoid", dropout=recipe.dropout), lr, s, recipe)
    result[3]["pretrain_seconds"] = pre_seconds
    run = runner.record(n, kind, config, s.seed, result, time.perf_counter() - t0) if record else None
    return run, result[4]


def _pseudo_cell(runner: _Runner, n: int, s: _Split, recipe: Recipe, classes: int, kind: str, lr: float, model: Any,
                 layers: list) -> None:
    config = {"on": kind, "lr": lr}
    run = runner.cached(n, "pseudo", config, s.seed)
    if run is not None:
        runner.add(run)
        return
    t0 = time.perf_counter()
    if model is None:  # the pretrained run came from the cache: fine-tune it again (deterministic for the seed)
        model = _tune(lambda: copy_into_mlp(layers, classes, "sigmoid", dropout=recipe.dropout), lr, s, recipe)[4]
    rounds = pseudo_label(model, s.Xl, s.yl, s.Xv, s.yv, s.X_all[s.unlabeled], threshold=recipe.pseudo_threshold)
    result = (accuracy(model, s.Xt, s.yt), rounds[-1]["val_accuracy"], rounds[-1]["best_epoch"], {"rounds": rounds})
    runner.record(n, "pseudo", config, s.seed, result, time.perf_counter() - t0)


def _val_score(r: Run) -> tuple[float, float]:
    """What a practitioner without test labels ranks cells by: validation accuracy, then validation loss."""
    return (r.val_accuracy, -float(r.extra.get("val_loss", np.inf)))


def summarize(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per (budget, method). For each seed the grid cell with the best validation score
    (accuracy, ties broken by the loss) is picked, as a practitioner without test labels would; the row
    reports the test accuracy of those picks (mean and spread over the seeds). For reference it also
    gives the cell with the best mean *test* accuracy (the test set used to tune: an optimistic bound)."""
    cells: dict[tuple[int, str, str], list[Run]] = {}
    for r in runs:
        cells.setdefault((r.labels, r.method, json.dumps(r.config, sort_keys=True)), []).append(r)
    rows = []
    for n, method in sorted({(k[0], k[1]) for k in cells}, key=lambda t: (t[0], METHODS.index(t[1]))):
        group = {cfg: rs for (m, me, cfg), rs in cells.items() if m == n and me == method}
        by_seed: dict[int, list[Run]] = {}
        for rs in group.values():
            for r in rs:
                by_seed.setdefault(r.seed, []).append(r)
        picks = [max(by_seed[s], key=_val_score) for s in sorted(by_seed)]
        acc = np.array([r.test_accuracy for r in picks])
        configs = [json.dumps(r.config, sort_keys=True) for r in picks]
        common = max(dict.fromkeys(configs), key=configs.count)  # the most frequent pick (first on ties)
        test_mean = {cfg: float(np.mean([r.test_accuracy for r in rs])) for cfg, rs in group.items()}
        by_test = max(test_mean, key=test_mean.__getitem__)
        rows.append({"labels": n, "method": method, "seeds": [r.seed for r in picks], "test_accuracy": acc.tolist(),
                     "mean": float(acc.mean()), "std": float(acc.std()),
                     "picked_configs": [r.config for r in picks], "best_config": json.loads(common),
                     "val_accuracy": [r.val_accuracy for r in picks],
                     "by_test_config": json.loads(by_test), "by_test_mean": test_mean[by_test], "grid": test_mean,
                     "finetune_seconds": float(np.mean([r.seconds for r in picks])),
                     "grid_seconds": float(sum(r.seconds for rs in group.values() for r in rs)),
                     "pretrain_seconds": float(np.mean([r.extra.get("pretrain_seconds", 0.0) for r in picks]))})
    return rows


_NAMES = {"random": "random init (grid, picked by validation)", "sdae": "stacked denoising AE", "dbn": "DBN (stacked RBMs)",
          "pseudo": "pseudo-labeling on the best pretrained"}


def _cfg(config: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())


def format_table(rows: Sequence[dict[str, Any]], recipe: Recipe | None = None) -> str:
    """The markdown table: per budget and method, the test accuracy (mean +- std over the seeds) of the
    grid cell each seed's validation split picks, the picks, the best cell by test accuracy for
    reference, and wall time."""
    recipe = recipe or Recipe()
    shape = "-".join(str(s) for s in recipe.layers)
    lines = [f"MLP {shape}-10, dropout {recipe.dropout}, SGD momentum {recipe.momentum}, fine-tuning lr in "
             f"{list(recipe.finetune_lrs)}, early stopping on {100 * recipe.val_fraction:.0f}% of the labels; grid cell "
             f"picked per seed by validation accuracy; pretraining {recipe.pretrain_epochs} epochs/layer on all training "
             "images " + ("(once, seed 0, shared by all seeds)" if recipe.shared_pretraining else "(once per seed)"),
             "",
             "| labels | method | test accuracy (mean +- std) | per seed | cell picked by validation (per seed) "
             "| reference: best cell by test acc | fine-tune s/run | grid s total | pretrain s/seed |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        picks = " / ".join(_cfg(c) for c in r["picked_configs"])
        seeds = " / ".join(f"{100 * a:.2f}" for a in r["test_accuracy"])
        lines.append(f"| {r['labels']} | {_NAMES.get(r['method'], r['method'])} | {100 * r['mean']:.2f} +- {100 * r['std']:.2f}% "
                     f"({len(r['seeds'])} seeds) | {seeds} | {picks} | {_cfg(r['by_test_config'])}: "
                     f"{100 * r['by_test_mean']:.2f}% | {r['finetune_seconds']:.0f} | {r['grid_seconds']:.0f} | "
                     f"{r['pretrain_seconds']:.0f} |")
    return "\n".join(lines)


def plot_results(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Test accuracy per labeled budget and method (mean, with the spread over seeds as error bars)."""
    from deepling.lessons.plotting import save, subplots

    fig, axes = subplots(1, 1, (7, 4.2))
    ax = axes[0][0]
    budgets = sorted({r["labels"] for r in rows})
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    width = 0.8 / max(len(methods), 1)
    for j, m in enumerate(methods):
        xs, ys, es = [], [], []
        for i, n in enumerate(budgets):
            for r in rows:
                if r["labels"] == n and r["method"] == m:
                    xs.append(i + (j - (len(methods) - 1) / 2) * width)
                    ys.append(100 * r["mean"])
                    es.append(100 * r["std"])
        ax.bar(xs, ys, width, yerr=es, capsize=3, label=_NAMES[m], color=f"C{j}")
    lo = min(100 * r["mean"] - 100 * r["std"] for r in rows)
    ax.set(xticks=range(len(budgets)), xticklabels=[f"{n:,} labels" for n in budgets], ylabel="test accuracy (%)",
           ylim=(max(0.0, lo - 3), 101), xlabel="labeled training images",
           title="with few labels, pretraining on the unlabeled images pays")
    ax.legend(fontsize=8, loc="upper left", title="bars: mean over seeds, whiskers: std", title_fontsize=7)
    save(fig, str(path))


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
