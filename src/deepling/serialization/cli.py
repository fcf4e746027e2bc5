"""``deepling export`` and ``deepling import``: checkpoints of ``deepling train`` out to other formats, and
foreign state dicts in as checkpoints that ``deepling evaluate`` and ``deepling sample`` take.

``export CKPT --format onnx|safetensors|torch --out PATH`` rebuilds the model from the checkpoint's
configuration and writes its weights (safetensors: with that configuration as metadata, so that
``import`` can rebuild it alone) or its traced computation (ONNX, dynamic batch; image inputs are
normalized as in training, ``(x - mean) / std``, which the command prints).

``import PATH --model NAME --out CKPT`` reads a state dict in any format ``deepling.load`` reads (a
``{"model": ...}`` or ``{"state_dict": ...}`` wrapper and DataParallel's ``module.`` prefixes are
unwrapped), builds the named model and loads the weights strictly. The model's configuration comes
from the file's deepling metadata when present; otherwise from the options: an image model needs
``--dataset`` (input shape, classes and, unless ``--normalize MEAN,STD``, the training set's mean and
std), a language model ``--text`` (its characters are the vocabulary) and ``--context``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_subcommands", "cmd_export", "cmd_import"]

_META_KEY = "deepling.cli"


def _floats(s: str) -> list[float]:
    try:
        vals = [float(v) for v in s.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MEAN,STD, got {s!r}") from None
    if len(vals) != 2 or not vals[1] > 0:
        raise argparse.ArgumentTypeError(f"expected MEAN,STD with STD > 0, got {s!r}")
    return vals


def add_subcommands(sub: Any, help_formatter: Any, positive_int: Any, widths: Any) -> None:
    from deepling.models import LANGUAGE_MODELS, MODELS

    e = sub.add_parser("export", help="write a 'deepling train' checkpoint as ONNX, safetensors or a PyTorch file",
                       description="Rebuild the model of a checkpoint written by 'deepling train' and write it as an "
                                   "ONNX graph (dynamic batch), a safetensors file (with the model configuration as "
                                   "metadata) or a PyTorch state-dict file (torch.load(weights_only=True) reads it).",
                       formatter_class=help_formatter)
    e.add_argument("checkpoint", type=Path, help="path of checkpoint.ckpt")
    e.add_argument("--format", required=True, choices=["onnx", "safetensors", "torch"], help="output format")
    e.add_argument("--out", type=Path, required=True, help="output file")
    e.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")

    i = sub.add_parser("import", help="turn a foreign state dict (.pt/.pth/.safetensors) into a deepling checkpoint",
                       description="Load a state dict written by PyTorch, safetensors or deepling into the named "
                                   "model and write a checkpoint that 'deepling evaluate' (image models) or "
                                   "'deepling sample' (language models) take.", formatter_class=help_formatter)
    i.add_argument("path", type=Path, help="the state dict file")
    i.add_argument("--model", required=True, choices=sorted(MODELS) + sorted(LANGUAGE_MODELS), help="architecture")
    i.add_argument("--out", type=Path, default=None, help="checkpoint to write (default: PATH with .ckpt)")
    i.add_argument("--dataset", default=None, help="image models: the data set it classifies (input shape, classes)")
    i.add_argument("--data-dir", type=Path, default=None, help="where the data set's files are")
    i.add_argument("--normalize", type=_floats, default=None,
                   help="image models: input normalization MEAN,STD (default: the training set's mean and std)")
    i.add_argument("--text", type=Path, default=None, help="language models: text whose characters are the vocabulary")
    i.add_argument("--context", type=positive_int, default=64, help="language models: context length")
    i.add_argument("--hidden", type=widths, default=None, help="mlp: hidden widths; char-*: hidden size")
    i.add_argument("--activation", default="relu", help="mlp: hidden activation")
    i.add_argument("--embed", type=positive_int, default=64, help="language models: embedding size (gpt: d_model)")
    i.add_argument("--layers", type=positive_int, default=1, help="language models: layers")
    i.add_argument("--heads", type=positive_int, default=4, help="gpt: attention heads")


def _model(cfg: dict[str, Any]) -> Any:
    from deepling.models import LANGUAGE_MODELS, MODELS

    if cfg.get("dataset") == "text":
        return LANGUAGE_MODELS[cfg["model"]](len(cfg["chars"]), cfg["context"], **cfg["model_options"])
    return MODELS[cfg["model"]](tuple(cfg["in_shape"]), cfg["num_classes"], **cfg["model_options"])


def cmd_export(a: argparse.Namespace) -> int:
    import deepling as dl
    from deepling.train import load_checkpoint

    state = load_checkpoint(a.checkpoint, restore_rng=False)
    cfg = state.get("cli")
    if cfg is None:
        raise ValueError(f"{a.checkpoint} was not written by 'deepling train' (no model configuration inside); "
                         "in Python, use deepling.save(model.state_dict(), path, format=...) or deepling.onnx.export")
    model = _model(cfg)
    model.load_state_dict(state["model"])
    model.eval()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    if a.format == "onnx":
        if cfg.get("dataset") == "text":
            x = dl.zeros(1, cfg["context"], dtype="int64")
            names, note = (["ids"], ["logits"]), f"input: character ids (N, {cfg['context']})"
        else:
            x = dl.zeros(1, *cfg["in_shape"])
            mean, std = cfg["normalize"]
            names = (["input"], ["logits"])
            note = f"input: (N, {', '.join(map(str, cfg['in_shape']))}) images normalized as (x - {mean:.6g}) / {std:.6g}"
        dl.onnx.export(model, x, a.out, input_names=names[0], output_names=names[1],
                       dynamic_axes={names[0][0]: {0: "batch"}, names[1][0]: {0: "batch"}}, opset_version=a.opset)
    elif a.format == "safetensors":
        dl.save(model.state_dict(), a.out, format="safetensors", metadata={_META_KEY: json.dumps(cfg)})
        note = "with the model configuration as metadata ('deepling import' rebuilds it)"
    else:
        dl.save(model.state_dict(), a.out, format="torch")
        note = "a state dict; torch.load(path, weights_only=True) reads it"
    print(f"wrote {a.out} ({a.format}, {a.out.stat().st_size:,} bytes): {cfg['model']}; {note}")
    return 0


def _state_dict(obj: Any, path: Path) -> dict:
    from deepling.nn.module import Module

    if isinstance(obj, Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        tensors = {k: v for k, v in obj.items() if hasattr(v, "shape")}
        if tensors and len(tensors) == len(obj):
            if all(isinstance(k, str) and k.startswith("module.") for k in tensors):
                tensors = {k[len("module."):]: v for k, v in tensors.items()}  # saved from DataParallel
            return tensors
    raise ValueError(f"{path} holds no state dict (a flat name -> tensor dict, or one under 'model'/'state_dict')")


def _config(a: argparse.Namespace, meta: dict[str, str]) -> dict[str, Any]:
    from deepling.models import LANGUAGE_MODELS

    if _META_KEY in meta:
        cfg = json.loads(meta[_META_KEY])
        if cfg.get("model") != a.model:
            raise ValueError(f"{a.path} holds a {cfg.get('model')} (per its metadata), not a {a.model}")
        return cfg
    if a.model in LANGUAGE_MODELS:
        from deepling.data import CharCorpus

        if a.text is None:
            raise ValueError(f"importing a {a.model} needs --text FILE (its characters are the vocabulary)")
        corpus = CharCorpus.from_file(a.text)
        options = {"embed": a.embed, "hidden": (a.hidden or [256])[0], "num_layers": a.layers, "heads": a.heads}
        return {"model": a.model, "model_options": options, "dataset": "text", "text": str(a.text),
                "chars": corpus.chars, "context": a.context}
    from deepling.cli import DATASETS, _default_data_dir

    if a.dataset not in DATASETS:
        raise ValueError(f"importing a {a.model} needs --dataset (one of {sorted(DATASETS)}): the input shape and "
                         "classes come from it")
    data_dir = a.data_dir if a.data_dir is not None else _default_data_dir(a.dataset)
    X, _, classes = DATASETS[a.dataset](data_dir, True)
    mean, std = a.normalize or (float(X.mean()), float(X.std()) or 1.0)
    options: dict[str, Any] = {"hidden": a.hidden or [256, 128], "activation": a.activation} if a.model == "mlp" else {}
    return {"model": a.model, "model_options": options, "dataset": a.dataset, "in_shape": list(X.shape[1:]),
            "num_classes": len(classes), "classes": [str(c) for c in classes], "normalize": [mean, std],
            "data_dir": str(data_dir), "imported_from": str(a.path)}


def cmd_import(a: argparse.Namespace) -> int:
    import deepling as dl
    from deepling.serialization import detect_format, load_metadata
    from deepling.train import save_checkpoint

    data = a.path.read_bytes()
    meta = load_metadata(a.path) if detect_format(data, str(a.path)) == "safetensors" else {}
    sd = _state_dict(dl.load(a.path), a.path)
    cfg = _config(a, meta)
    model = _model(cfg)
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        raise ValueError(f"{a.path} does not fit --model {a.model} with these options: {e}") from None
    out = a.out if a.out is not None else a.path.with_suffix(".ckpt")
    save_checkpoint(out, model, epoch=0, cli=cfg)
    n = sum(int(np.prod(v.shape)) for v in sd.values())
    usage = "deepling sample" if cfg.get("dataset") == "text" else "deepling evaluate"
    print(f"imported {len(sd)} tensors ({n:,} values) into {a.model}; wrote {out} (use: {usage} {out})")
    return 0
