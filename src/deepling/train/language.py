"""Character-level language models: train one on a text file with checkpoints, resume and Ctrl-C,
measure its validation loss, and sample from a saved checkpoint.

``train_language_model`` is what ``deepling train --dataset text`` runs (a step budget of ``fit``
over ``RandomWindows``); ``load_language_model`` and ``generate_text`` are what ``deepling sample``
runs. A checkpoint is ``fit``'s: the model, the optimizer, the batch generator's state, the step
reached, the loss history and (under ``"config"``) everything needed to rebuild the model and its
vocabulary.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

__all__ = ["RandomWindows", "text_loss", "train_language_model", "load_language_model", "generate_text"]


def text_loss(model: Any, data: np.ndarray, context: int, batch: int = 256) -> float:
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


class RandomWindows:
    """Endless batches ``(x, y)`` of ``batch_size`` windows of ``context`` characters at random starts in
    ``corpus``'s ``split``, drawn from ``generator``. All its state is the generator's, which ``fit``
    checkpoints, so a resumed run draws the same batches as an uninterrupted one without replaying."""

    def __init__(self, corpus: Any, split: str, batch_size: int, context: int, generator: Any) -> None:
        self.corpus, self.split, self.batch_size, self.context = corpus, split, batch_size, context
        self.generator = generator

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        while True:
            yield self.corpus.get_batch(self.split, self.batch_size, self.context, generator=self.generator)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def train_language_model(model_name: str, text: str | Path, out: str | Path, *, context: int = 64, steps: int = 1500,
                         batch_size: int = 32, embed: int = 64, hidden: int = 256, layers: int = 1, heads: int = 4,
                         dropout: float = 0.0, optimizer: str = "adam", lr: float = 1e-3, momentum: float = 0.9,
                         weight_decay: float = 0.0, clip: float = 1.0, eval_every: int = 100, seed: int = 0,
                         resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train ``LANGUAGE_MODELS[model_name]`` on the characters of ``text`` (first 90% train, last 10%
    validation) for ``steps`` steps of ``batch_size`` random windows of ``context`` characters.

    Through ``fit``: every ``eval_every`` steps a validation estimate (8 batches of windows, the
    same each time), a progress line and a checkpoint ``out/checkpoint.ckpt``; ``resume=True``
    continues from it exactly. Ctrl-C finishes the step, saves the checkpoint and returns. At the
    end: the full validation loss, ``out/metrics.json`` and ``out/history.json`` (``fit``'s history).
    Returns the metrics: ``val_loss``, ``steps_completed``, ``interrupted``, ``seconds``.
    """
    import deepling as dl
    from deepling.data import CharCorpus
    from deepling.models import LANGUAGE_MODELS
    from deepling.nn import functional as F
    from deepling.optim import make_optimizer
    from deepling.train.fit import fit

    if model_name not in LANGUAGE_MODELS:
        raise ValueError(f"unknown language model {model_name!r}: choose from {sorted(LANGUAGE_MODELS)}")
    corpus = CharCorpus.from_file(text)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    options = {"embed": embed, "hidden": hidden, "num_layers": layers, "dropout": dropout, "heads": heads}
    cfg = {"model": model_name, "model_options": options, "dataset": "text", "text": str(text), "chars": corpus.chars,
           "context": context, "seed": seed, "steps": steps, "batch_size": batch_size, "optimizer": optimizer,
           "lr": lr, "weight_decay": weight_decay, "clip": clip}
    dl.manual_seed(seed)
    model = LANGUAGE_MODELS[model_name](corpus.vocab_size, context, **options)
    opt = make_optimizer(optimizer, model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"training {model_name} ({n_params:,} parameters) on {text}: {corpus.vocab_size} characters, "
          f"{len(corpus.train_data):,} train / {len(corpus.val_data):,} validation, {steps} steps of "
          f"{batch_size} x {context}, {optimizer} lr {lr}, clip {clip}", flush=True)

    def next_char_loss(m: Any, batch: tuple[Any, Any]) -> Any:
        x, y = batch
        return F.cross_entropy(m(x).reshape(-1, corpus.vocab_size), y.reshape(-1))

    # the quick estimate every eval_every steps; the full validation pass runs at the end
    val_sample = [corpus.get_batch("val", 8 * batch_size, context, generator=dl.Generator(seed + 1))]
    t_start = time.perf_counter()
    history = fit(model, RandomWindows(corpus, "train", batch_size, context, dl.Generator(seed)), None, opt,
                  max_steps=steps, step_fn=next_char_loss, val_loader=val_sample, eval_every=eval_every,
                  clip_grad_norm=clip or None, checkpoint=out / "checkpoint.ckpt", resume=resume, progress=progress,
                  checkpoint_extra={"config": cfg}, desc=model_name)
    val = text_loss(model, corpus.val_data, context)
    elapsed = time.perf_counter() - t_start
    metrics = {"val_loss": val, "steps_completed": history.global_step, "interrupted": history.interrupted,
               "seconds": elapsed}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    history.save_json(out / "history.json")
    print(f"validation loss: {val:.4f} nats/char over {len(corpus.val_data):,} characters  "
          f"({history.global_step} steps, {elapsed:.1f}s)")
    print(f"wrote checkpoint.ckpt, metrics.json, history.json to {out}")
    return metrics


def load_language_model(path: str | Path) -> tuple[Any, Any]:
    """``(model, corpus)`` from a checkpoint written by ``train_language_model``: the model with its
    trained weights and a ``CharCorpus`` that encodes and decodes its vocabulary."""
    from deepling.data import CharCorpus
    from deepling.models import LANGUAGE_MODELS
    from deepling.train.checkpoint import load_checkpoint

    state = load_checkpoint(path, restore_rng=False)
    cfg = state.get("config", state.get("cli"))  # "cli": checkpoints written before the key was renamed
    if not isinstance(cfg, dict) or cfg.get("dataset") != "text" or cfg.get("model") not in LANGUAGE_MODELS:
        raise ValueError(f"{path} is not a language-model checkpoint written by 'deepling train --dataset text'")
    corpus = CharCorpus("", chars=cfg["chars"])
    model = LANGUAGE_MODELS[cfg["model"]](len(cfg["chars"]), cfg["context"], **cfg["model_options"])
    model.load_state_dict(state["model"])
    return model, corpus


def generate_text(model: Any, corpus: Any, prompt: str, tokens: int, temperature: float = 0.8,
                  top_k: int | None = None, seed: int = 0) -> str:
    """``prompt`` followed by ``tokens`` sampled characters (``model.generate``; temperature 0: most likely)."""
    import deepling as dl

    ids = corpus.encode(prompt)
    if ids.size == 0:
        raise ValueError("the prompt must not be empty")
    out = model.generate(ids[None], tokens, temperature=temperature, top_k=top_k, generator=dl.Generator(seed))
    return corpus.decode(out.array[0])
