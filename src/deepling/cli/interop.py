"""``deepling export`` and ``deepling import``: argument parsing over ``deepling.train.transfer``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from deepling.cli.arguments import HelpFormatter, positive_int, widths

__all__ = ["add_parsers", "cmd_export", "cmd_import"]


def _mean_std(s: str) -> list[float]:
    try:
        vals = [float(v) for v in s.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MEAN,STD, got {s!r}") from None
    if len(vals) != 2 or not vals[1] > 0:
        raise argparse.ArgumentTypeError(f"expected MEAN,STD with STD > 0, got {s!r}")
    return vals


def add_parsers(sub: Any) -> None:
    """Add ``export`` and ``import`` to the subparsers ``sub``."""
    from deepling.data import DATASETS
    from deepling.models import LANGUAGE_MODELS, MODELS
    from deepling.nn import ACTIVATIONS

    e = sub.add_parser("export", help="write a 'deepling train' checkpoint as ONNX, safetensors or a PyTorch file",
                       description="Rebuild the model of a checkpoint written by 'deepling train' and write it as an "
                                   "ONNX graph (dynamic batch), a safetensors file (with the model configuration as "
                                   "metadata) or a PyTorch state-dict file (torch.load(weights_only=True) reads it).",
                       formatter_class=HelpFormatter)
    e.add_argument("checkpoint", type=Path, help="path of checkpoint.ckpt")
    e.add_argument("--format", required=True, choices=["onnx", "safetensors", "torch"], help="output format")
    e.add_argument("--out", type=Path, required=True, help="output file")
    e.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")

    i = sub.add_parser("import", help="turn a foreign state dict (.pt/.pth/.safetensors) into a deepling checkpoint",
                       description="Load a state dict written by PyTorch, safetensors or deepling into the named "
                                   "model and write a checkpoint that 'deepling evaluate' (image models) or "
                                   "'deepling sample' (language models) take.", formatter_class=HelpFormatter)
    i.add_argument("path", type=Path, help="the state dict file")
    i.add_argument("--model", required=True, choices=sorted(MODELS) + sorted(LANGUAGE_MODELS), help="architecture")
    i.add_argument("--out", type=Path, default=None, help="checkpoint to write (default: PATH with .ckpt)")
    i.add_argument("--dataset", choices=sorted(DATASETS), default=None,
                   help="image models: the data set it classifies (input shape, classes)")
    i.add_argument("--data-dir", type=Path, default=None, help="where the data set's files are")
    i.add_argument("--normalize", type=_mean_std, default=None,
                   help="image models: input normalization MEAN,STD (default: the training split's mean and std)")
    i.add_argument("--text", type=Path, default=None, help="language models: text whose characters are the vocabulary")
    i.add_argument("--context", type=positive_int, default=64, help="language models: context length")
    i.add_argument("--hidden", type=widths, default=None, help="mlp: hidden widths; char-*: hidden size")
    i.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS), help="mlp: hidden activation")
    i.add_argument("--embed", type=positive_int, default=64, help="language models: embedding size (gpt: d_model)")
    i.add_argument("--layers", type=positive_int, default=1, help="language models: layers")
    i.add_argument("--heads", type=positive_int, default=4, help="gpt: attention heads")


def cmd_export(a: argparse.Namespace) -> int:
    from deepling.train.transfer import export_checkpoint

    info = export_checkpoint(a.checkpoint, a.format, a.out, a.opset)
    note = {"onnx": info["input"], "safetensors": "with the model configuration as metadata ('deepling import' "
            "rebuilds it)", "torch": "a state dict; torch.load(path, weights_only=True) reads it"}[a.format]
    print(f"wrote {a.out} ({a.format}, {info['bytes']:,} bytes): {info['model']}; {note}")
    return 0


def cmd_import(a: argparse.Namespace) -> int:
    from deepling.train.transfer import import_state_dict

    r = import_state_dict(a.path, a.model, a.out, dataset=a.dataset, data_dir=a.data_dir, normalize=a.normalize,
                          text=a.text, context=a.context, hidden=a.hidden, activation=a.activation, embed=a.embed,
                          layers=a.layers, heads=a.heads)
    usage = "deepling sample" if r["language_model"] else "deepling evaluate"
    print(f"imported {r['tensors']} tensors ({r['values']:,} values) into {a.model}; wrote {r['out']} "
          f"(use: {usage} {r['out']})")
    return 0
