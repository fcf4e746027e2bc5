"""Checkpoints of ``deepling train`` out to other formats, and foreign state dicts in as checkpoints:
what ``deepling export`` and ``deepling import`` run.

``export_checkpoint(ckpt, "onnx" | "safetensors" | "torch", out)`` rebuilds the model from the
checkpoint's ``"config"`` and writes its traced computation (ONNX, dynamic batch) or its weights
(safetensors, with the configuration as metadata so ``import_state_dict`` can rebuild it alone; or
a PyTorch file that ``torch.load(weights_only=True)`` reads).

``import_state_dict(path, model_name, out, ...)`` reads a state dict in any format ``deepling.load``
reads (a ``{"model": ...}`` / ``{"state_dict": ...}`` wrapper and DataParallel's ``module.``
prefixes are unwrapped), builds the named model, loads the weights strictly and writes a checkpoint
that ``evaluate_classifier`` / ``deepling evaluate`` (image models) or ``load_language_model`` /
``deepling sample`` (language models) take. The configuration comes from the file's deepling
metadata when present; otherwise an image model needs ``dataset`` (input shape, classes and, unless
``normalize=(mean, std)`` is given, the training split's mean and std), a language model ``text``
(its characters are the vocabulary) and ``context``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["export_checkpoint", "import_state_dict", "state_dict_of", "model_from_config"]

METADATA_KEY = "deepling.config"  # safetensors metadata holding the checkpoint's configuration (JSON)


def model_from_config(cfg: dict[str, Any]) -> Any:
    """A freshly initialized model as a ``deepling train`` configuration describes it."""
    from deepling.models import LANGUAGE_MODELS, MODELS

    if cfg.get("dataset") == "text":
        return LANGUAGE_MODELS[cfg["model"]](len(cfg["chars"]), cfg["context"], **cfg["model_options"])
    return MODELS[cfg["model"]](tuple(cfg["in_shape"]), cfg["num_classes"], **cfg["model_options"])


def export_checkpoint(checkpoint: str | Path, format: str, out: str | Path,
                      opset_version: int | None = None) -> dict[str, Any]:
    """Write the model of a ``deepling train`` checkpoint to ``out``; returns ``{"model", "bytes", "input"}``
    (``input`` describes what the ONNX graph expects)."""
    import deepling as dl
    from deepling.train.checkpoint import load_checkpoint

    if format not in ("onnx", "safetensors", "torch"):
        raise ValueError(f"export: format must be 'onnx', 'safetensors' or 'torch', got {format!r}")
    state = load_checkpoint(checkpoint, restore_rng=False)
    cfg = state.get("config", state.get("cli"))  # "cli": checkpoints written before the key was renamed
    if not isinstance(cfg, dict):
        raise ValueError(f"{checkpoint} was not written by 'deepling train' (no model configuration inside); "
                         "in Python, use deepling.save(model.state_dict(), path, format=...) or deepling.onnx.export")
    model = model_from_config(cfg)
    model.load_state_dict(state["model"])
    model.eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    info = {"model": cfg["model"], "input": None}
    if format == "onnx":
        if cfg.get("dataset") == "text":
            x, names = dl.zeros(1, cfg["context"], dtype="int64"), ("ids", "logits")
            info["input"] = f"ids: character ids (N, {cfg['context']}) int64"
        else:
            x, names = dl.zeros(1, *cfg["in_shape"]), ("input", "logits")
            mean, std = cfg["normalize"]
            info["input"] = (f"input: (N, {', '.join(map(str, cfg['in_shape']))}) images normalized as "
                             f"(x - {mean:.6g}) / {std:.6g}")
        dl.onnx.export(model, x, out, input_names=[names[0]], output_names=[names[1]],
                       dynamic_axes={names[0]: {0: "batch"}, names[1]: {0: "batch"}}, opset_version=opset_version)
    elif format == "safetensors":
        dl.save(model.state_dict(), out, format="safetensors", metadata={METADATA_KEY: json.dumps(cfg)})
    else:
        dl.save(model.state_dict(), out, format="torch")
    info["bytes"] = out.stat().st_size
    return info


def state_dict_of(obj: Any, where: str = "the file") -> dict:
    """The flat ``{name: tensor}`` dict in a loaded file: itself, or under ``model``/``state_dict``/
    ``model_state_dict``; DataParallel's ``module.`` prefixes are removed."""
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
                tensors = {k[len("module."):]: v for k, v in tensors.items()}
            return tensors
    raise ValueError(f"{where} holds no state dict (a flat name -> tensor dict, or one under 'model'/'state_dict')")


def _config(path: Path, model_name: str, meta: dict[str, str], dataset: str | None, data_dir: Any,
            normalize: Sequence[float] | None, text: Any, context: int, options: dict[str, Any]) -> dict[str, Any]:
    from deepling.models import LANGUAGE_MODELS, MODELS

    if METADATA_KEY in meta:
        cfg = json.loads(meta[METADATA_KEY])
        if cfg.get("model") != model_name:
            raise ValueError(f"{path} holds a {cfg.get('model')} (per its metadata), not a {model_name}")
        return cfg
    if model_name in LANGUAGE_MODELS:
        from deepling.data import CharCorpus

        if text is None:
            raise ValueError(f"importing a {model_name} needs a text (--text FILE): its characters are the vocabulary")
        corpus = CharCorpus.from_file(text)
        opts = {k: options[k] for k in ("embed", "hidden", "num_layers", "heads")}
        return {"model": model_name, "model_options": opts, "dataset": "text", "text": str(text),
                "chars": corpus.chars, "context": context, "imported_from": str(path)}
    if model_name not in MODELS:
        raise ValueError(f"unknown model {model_name!r}: choose from {sorted(MODELS) + sorted(LANGUAGE_MODELS)}")
    from deepling.data import DATASETS, dataset_dir, load_dataset

    if dataset not in DATASETS:
        raise ValueError(f"importing a {model_name} needs --dataset (one of {sorted(DATASETS)}): the input shape "
                         "and classes come from it")
    data_dir = Path(data_dir) if data_dir is not None else dataset_dir(dataset)
    X, _, classes = load_dataset(dataset, True, data_dir)
    mean, std = normalize or (float(X.mean()), float(X.std()) or 1.0)
    opts = {"hidden": list(options["mlp_hidden"]), "activation": options["activation"]} if model_name == "mlp" else {}
    return {"model": model_name, "model_options": opts, "dataset": dataset, "in_shape": list(X.shape[1:]),
            "num_classes": len(classes), "classes": [str(c) for c in classes], "normalize": [float(mean), float(std)],
            "data_dir": str(data_dir), "imported_from": str(path)}


def import_state_dict(path: str | Path, model_name: str, out: str | Path | None = None, *, dataset: str | None = None,
                      data_dir: str | Path | None = None, normalize: Sequence[float] | None = None,
                      text: str | Path | None = None, context: int = 64, hidden: Sequence[int] | None = None,
                      activation: str = "relu", embed: int = 64, layers: int = 1, heads: int = 4) -> dict[str, Any]:
    """Turn the state dict in ``path`` into a checkpoint of ``model_name`` at ``out`` (default: ``path``
    with ``.ckpt``); returns ``{"out", "tensors", "values", "language_model"}``. ``hidden`` is the MLP's
    widths or a recurrent model's hidden size (first entry); see the module docstring for the rest."""
    import deepling as dl
    from deepling.serialization import detect_format, load_metadata
    from deepling.train.checkpoint import save_checkpoint

    path = Path(path)
    meta = load_metadata(path) if detect_format(path.read_bytes(), str(path)) == "safetensors" else {}
    sd = state_dict_of(dl.load(path), str(path))
    options = {"embed": embed, "hidden": (list(hidden) if hidden else [256])[0], "num_layers": layers, "heads": heads,
               "mlp_hidden": list(hidden or [256, 128]), "activation": activation}
    cfg = _config(path, model_name, meta, dataset, data_dir, normalize, text, context, options)
    model = model_from_config(cfg)
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        raise ValueError(f"{path} does not fit the model {model_name} with these options: {e}") from None
    out = Path(out) if out is not None else path.with_suffix(".ckpt")
    save_checkpoint(out, model, epoch=0, config=cfg)
    return {"out": out, "tensors": len(sd), "values": sum(int(np.prod(v.shape)) for v in sd.values()),
            "language_model": cfg.get("dataset") == "text"}
