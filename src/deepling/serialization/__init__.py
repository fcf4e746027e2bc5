"""``deepling.save`` / ``deepling.load``: checkpoints in three formats, none of them read with pickle.

========================  ==========================  ==============================================
format                    chosen by                   holds
========================  ==========================  ==============================================
``"deepling"`` (native)   default (any other name)    anything: nested dicts/lists/tuples of tensors,
                                                      arrays, numbers, strings; whole Modules; RNG
                                                      states. npz + JSON manifest (``native``).
``"safetensors"``         ``.safetensors``            a flat ``{name: tensor}`` dict (+ str metadata),
                                                      read by the Hugging Face ecosystem.
``"torch"``               ``format="torch"``          what ``torch.save`` writes (a zip with a
                                                      pickle): state dicts, optimizer states; read by
                                                      ``torch.load(weights_only=True)``.
========================  ==========================  ==============================================

``load`` recognises the format from the file's content, whatever its name (``.pt``/``.pth`` files
from PyTorch, in the zip format or the legacy one of PyTorch < 1.6; ``.safetensors`` files; deepling
checkpoints). Paths are written atomically.
"""

from __future__ import annotations

import io
import os
from typing import IO, Any

from deepling.serialization import native, safetensors_file, torchzip
from deepling.serialization.fileio import SerializationError, atomic_write, open_zip, read_all, source_name
from deepling.serialization.values import as_numpy, is_array_like

__all__ = ["save", "load", "load_metadata", "detect_format", "SerializationError", "FORMATS", "as_numpy", "is_array_like"]

FORMATS = ("deepling", "safetensors", "torch")


def _format_for(f: Any, format: str | None) -> str:
    if format is not None:
        fmt = {"native": "deepling", "pt": "torch", "pytorch": "torch"}.get(format, format)
        if fmt not in FORMATS:
            raise ValueError(f"save: unknown format {format!r} (choose from {FORMATS})")
        return fmt
    name = "" if hasattr(f, "write") else os.fspath(f)
    if name.endswith(".safetensors"):
        return "safetensors"
    if name.endswith(".onnx"):
        raise ValueError("save: ONNX is an export of a model's computation, not a checkpoint: use "
                         "deepling.onnx.export(model, args, path)")
    return "deepling"


def save(obj: Any, f: str | os.PathLike | IO[bytes], format: str | None = None,
         metadata: dict[str, str] | None = None) -> None:
    """Save ``obj`` to ``f`` in ``format`` (default: from the name, see the module docstring).

    ``obj``: a state dict, nested dicts/lists of tensors, arrays, numbers and strings, or a whole
    ``Module`` (deepling format: rebuilt from its recorded constructor arguments on load).
    ``metadata`` (str -> str) is stored in safetensors files. A path is written atomically: to a
    temporary file in the same directory, flushed to disk, then renamed over ``f``.
    """
    fmt = _format_for(f, format)
    if metadata is not None and fmt != "safetensors":
        raise ValueError(f"save: metadata is stored by the safetensors format only (format is {fmt!r})")
    if fmt == "safetensors":
        from deepling.nn.module import Module

        if isinstance(obj, Module):
            obj = obj.state_dict()
        data = safetensors_file.to_bytes(obj, metadata)
        atomic_write(f, lambda out: out.write(data))
    elif fmt == "torch":
        from deepling.nn.module import Module

        if isinstance(obj, Module):
            raise TypeError("save: the PyTorch format holds no deepling Module; save model.state_dict()")
        atomic_write(f, lambda out: torchzip.write(obj, out))
    else:
        atomic_write(f, lambda out: native.write(obj, out))


def detect_format(data: bytes, name: str = "<bytes>") -> str:
    """``'deepling'``, ``'torch'``, ``'torch-legacy'`` (before PyTorch 1.6) or ``'safetensors'``, from a
    file's first bytes and zip directory."""
    if data.startswith(b"PK"):
        with open_zip(io.BytesIO(data), name) as zf:
            names = zf.namelist()
        if native.MANIFEST + ".npy" in names:
            return "deepling"
        if torchzip.looks_like(names):
            return "torch"
        if any(n.endswith(".npy") for n in names):
            raise SerializationError(f"load: {name} is an .npz file but not a deepling checkpoint (no manifest)")
        raise SerializationError(f"load: {name} is a zip file but not a deepling checkpoint nor a PyTorch one")
    if safetensors_file.looks_like(data):
        return "safetensors"
    if torchzip.is_legacy(data):
        return "torch-legacy"
    raise SerializationError(f"load: {name} is not a deepling checkpoint, a safetensors file or a PyTorch "
                             "checkpoint")


def load(f: str | os.PathLike | IO[bytes], map_location: Any = None, weights_only: bool = True,
         format: str | None = None, **_: Any) -> Any:
    """Load a deepling checkpoint, a safetensors file or a PyTorch zip checkpoint; tensors come back as
    Tensors (deepling files also give back arrays, scalars and whole Modules).

    The format comes from the content (or ``format=``). Nothing is ever unpickled: PyTorch files go
    through deepling's own restricted pickle interpreter, which refuses any global but tensors,
    storages, dtypes and ordered dicts. Raises ``SerializationError`` (a ``ValueError``) for a file
    that is foreign, truncated, corrupted, oversized or refused; ``FileNotFoundError`` for a
    missing path. ``map_location`` and ``weights_only`` are accepted for PyTorch compatibility
    (everything is on the CPU, and nothing is ever unpickled).
    """
    name = source_name(f)
    data = read_all(f)
    fmt = _format_for("", format) if format is not None else detect_format(data, name)
    if fmt == "safetensors":
        return safetensors_file.read(data, name)
    if fmt == "torch":
        if torchzip.is_legacy(data):
            return torchzip.read_legacy(data, name)
        return torchzip.read(data, name)
    if fmt == "torch-legacy":
        return torchzip.read_legacy(data, name)
    if not data.startswith(b"PK"):
        raise SerializationError(f"load: {name} is not a deepling checkpoint (not a zip/npz file)")
    return native.read(data, name)


def load_metadata(f: str | os.PathLike | IO[bytes]) -> dict[str, str]:
    """The str -> str metadata of a safetensors file."""
    name = source_name(f)
    return safetensors_file.read_metadata(read_all(f), name)
