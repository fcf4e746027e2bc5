"""Character-level language models: train one on a text file with checkpoints, resume and Ctrl-C,
measure its validation loss, and sample from a saved checkpoint.

``train_language_model`` is what ``deepling train --dataset text`` runs; ``load_language_model`` and
``generate_text`` are what ``deepling sample`` runs. A checkpoint holds the model, the optimizer, the
batch generator's state, the step reached, the loss history and (under ``"config"``) everything
needed to rebuild the model and its vocabulary.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["text_loss", "train_language_model", "load_language_model", "generate_text"]


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


def train_language_model(model_name: str, text: str | Path, out: str | Path, *, context: int = 64, steps: int = 1500,
                         batch_size: int = 32, embed: int = 64, hidden: int = 256, layers: int = 1, heads: int = 4,
                         dropout: float = 0.0, optimizer: str = "adam", lr: float = 1e-3, momentum: float = 0.9,
                         weight_decay: float = 0.0, clip: float = 1.0, eval_every: int = 100, seed: int = 0,
                         resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train ``LANGUAGE_MODELS[model_name]`` on the characters of ``text`` (first 90% train, last 10%
    validation) for ``steps`` steps of ``batch_size`` random windows of ``context`` characters.

    Every ``eval_every`` steps: a quick validation estimate, a progress line and a checkpoint
    ``out/checkpoint.ckpt``; ``resume=True`` continues from it. Ctrl-C saves the checkpoint and
    returns. At the end: the full validation loss, ``out/metrics.json`` and ``out/history.json``.
    Returns the metrics: ``val_loss``, ``steps_completed``, ``interrupted``, ``seconds``.
    """
    import deepling as dl
    from deepling.data import CharCorpus
    from deepling.models import LANGUAGE_MODELS
    from deepling.nn import functional as F
    from deepling.nn.utils import clip_grad_norm_
    from deepling.optim import make_optimizer
    from deepling.train.checkpoint import load_checkpoint, save_checkpoint

    if model_name not in LANGUAGE_MODELS:
        raise ValueError(f"unknown language model {model_name!r}: choose from {sorted(LANGUAGE_MODELS)}")
    corpus = CharCorpus.from_file(text)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.ckpt"
    options = {"embed": embed, "hidden": hidden, "num_layers": layers, "dropout": dropout, "heads": heads}
    cfg = {"model": model_name, "model_options": options, "dataset": "text", "text": str(text), "chars": corpus.chars,
           "context": context, "seed": seed, "steps": steps, "batch_size": batch_size, "optimizer": optimizer,
           "lr": lr, "weight_decay": weight_decay, "clip": clip}
    dl.manual_seed(seed)
    model = LANGUAGE_MODELS[model_name](corpus.vocab_size, context, **options)
    opt = make_optimizer(optimizer, model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    gen = dl.Generator(seed)
    step, history = 0, []
    if resume and ckpt.exists():
        state = load_checkpoint(ckpt, model, opt, generator=gen)
        step, history = state["epoch"], list(state.get("history", []))
        print(f"resumed from {ckpt} at step {step}")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"training {model_name} ({n_params:,} parameters) on {text}: {corpus.vocab_size} characters, "
          f"{len(corpus.train_data):,} train / {len(corpus.val_data):,} validation, {steps} steps of "
          f"{batch_size} x {context}, {optimizer} lr {lr}, clip {clip}", flush=True)

    def save() -> None:
        save_checkpoint(ckpt, model, opt, epoch=step, generator=gen, config=cfg, history=history)

    t_start, running, interrupted = time.perf_counter(), [], False
    t_last = t_start
    try:
        while step < steps:
            x, y = corpus.get_batch("train", batch_size, context, generator=gen)
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, corpus.vocab_size), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            if clip:
                clip_grad_norm_(model.parameters(), clip)
            opt.step()
            step += 1
            running.append(loss.item())
            if step % eval_every == 0 or step == steps:
                # a quick validation estimate on 8 random batches; the full pass runs at the end
                vx, vy = corpus.get_batch("val", 8 * batch_size, context, generator=dl.Generator(step))
                with dl.no_grad():
                    model.eval()
                    vl = F.cross_entropy(model(vx).reshape(-1, corpus.vocab_size), vy.reshape(-1)).item()
                    model.train()
                history.append({"step": step, "train_loss": float(np.mean(running)), "val_loss": vl})
                if progress:
                    print(f"step {step:6d}  train loss {np.mean(running):.4f}  val loss ~{vl:.4f}  "
                          f"({(time.perf_counter() - t_last) / len(running) * 1e3:.0f} ms/step)", flush=True)
                running, t_last = [], time.perf_counter()
                save()
    except KeyboardInterrupt:
        interrupted = True
        save()
        print(f"interrupted at step {step}; resume with --resume", file=sys.stderr)
    val = text_loss(model, corpus.val_data, context)
    elapsed = time.perf_counter() - t_start
    metrics = {"val_loss": val, "steps_completed": step, "interrupted": interrupted, "seconds": elapsed}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    (out / "history.json").write_text(json.dumps(history, indent=1))
    save()
    print(f"validation loss: {val:.4f} nats/char over {len(corpus.val_data):,} characters  ({step} steps, {elapsed:.1f}s)")
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
