"""deepling's own format: a NumPy ``.npz`` (a zip of ``.npy`` arrays) plus a JSON manifest, never pickle.

The member ``__deepling__.npy`` holds the manifest: a magic string, a format version and the
structure of the saved object (dicts, lists, tuples, numbers, strings, None, bools inline; every
array replaced by the name of its member). Loading never unpickles (``allow_pickle=False``).

A whole ``Module`` is saved as its class (``module:qualname``), the constructor arguments it was
built with (recorded by ``Module.__init_subclass__``; plain data, other modules, Module classes)
and its ``state_dict``. Loading rebuilds it only from classes already imported: nothing is imported
and no other callable runs; a missing class is an error naming it. (Rebuilding does run those
classes' constructors with the recorded arguments, so a hostile file can ask for a huge layer: load
whole-Module files from sources you trust with your memory, or load state dicts instead.)
"""

from __future__ import annotations

import io
import json
import sys
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from deepling.serialization.fileio import ZIP_ERRORS, SerializationError, open_zip
from deepling.tensor import Tensor

__all__ = ["write", "read", "MAGIC", "VERSION", "MANIFEST"]

MAGIC = "deepling-checkpoint"
VERSION = 2  # 2 added module and class nodes; files without them are still written as version 1
MANIFEST = "__deepling__"


def _encode_key(k: Any) -> list:
    if isinstance(k, bool) or k is None or isinstance(k, int | float | str):
        return [type(k).__name__ if k is not None else "none", k]
    raise TypeError(f"save: dict keys must be str, int, float, bool or None (got {type(k).__name__})")


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _resolve_class(name: str, where: str) -> type:
    """The class ``module:qualname`` if its module is already imported; never imports anything."""
    from deepling.nn.module import Module

    mod_name, _, qual = name.partition(":")
    mod = sys.modules.get(mod_name)
    obj: Any = mod
    for part in qual.split(".") if mod is not None else []:
        obj = getattr(obj, part, None)
    if mod is None or obj is None:
        raise SerializationError(f"load: {where} needs class {qual} from module {mod_name}, which is not imported; "
                                 f"import {mod_name} (or define {qual}) and load again")
    if not (isinstance(obj, type) and issubclass(obj, Module)):
        raise SerializationError(f"load: {where}: {name} is not a deepling Module class; refusing to call it")
    return obj


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.modules: dict[int, int] = {}  # id(module) -> index: a module used twice is rebuilt once
        self.classes = False

    def encode(self, obj: Any, top: bool = False) -> Any:
        """Turn ``obj`` into JSON-able nodes, moving arrays into ``self.arrays``."""
        from deepling.nn.module import Module

        if obj is None or isinstance(obj, bool | str):
            return obj
        if isinstance(obj, int | float):  # JSON keeps big ints exact (RNG states) and nan/inf as literals
            return obj
        if isinstance(obj, Tensor | np.ndarray | np.generic):
            kind = "tensor" if isinstance(obj, Tensor) else ("ndarray" if isinstance(obj, np.ndarray) else "scalar")
            a = np.asarray(obj.array if isinstance(obj, Tensor) else obj)
            if a.dtype.hasobject:
                raise TypeError("save: arrays of Python objects cannot be saved (only numeric and bool dtypes)")
            name = f"a{len(self.arrays)}"
            self.arrays[name] = a if a.flags.c_contiguous else a.copy(order="C")
            return {"$": kind, "name": name}
        if isinstance(obj, Module):
            return self.module(obj, top)
        if isinstance(obj, type) and issubclass(obj, Module):
            self.classes = True
            return {"$": "class", "name": _class_name(obj)}
        if isinstance(obj, dict):
            kind = "odict" if isinstance(obj, OrderedDict) else "dict"
            return {"$": kind, "items": [[_encode_key(k), self.encode(v)] for k, v in obj.items()]}
        if isinstance(obj, list | tuple):
            return {"$": "tuple" if isinstance(obj, tuple) else "list", "items": [self.encode(v) for v in obj]}
        raise TypeError(f"save: cannot save objects of type {type(obj).__name__} (supported: dicts, lists, tuples, "
                        "Tensors, arrays, numbers, strings, bools, None, Modules)")

    def module(self, m: Any, top: bool) -> dict:
        if id(m) in self.modules:
            return {"$": "ref", "index": self.modules[id(m)]}
        from deepling.nn.module import Module

        recorded = m.__dict__.get("_init_args")
        if recorded is None and type(m).__init__ is Module.__init__:
            recorded = ((), {})  # a layer without a constructor of its own (e.g. Sigmoid) takes no arguments
        cls_name = _class_name(type(m))
        if recorded is None:
            raise TypeError(f"save: cannot save the module {cls_name}: its constructor arguments were not recorded; "
                            "save its state_dict() instead")
        args, kwargs = recorded
        try:
            enc_args = [self.encode(a) for a in args]
            enc_kwargs = [[k, self.encode(v)] for k, v in kwargs.items()]
        except TypeError as e:
            if str(e).startswith("save: cannot save the module"):
                raise
            raise TypeError(f"save: cannot save the module {cls_name}: a constructor argument is not plain data "
                            f"({e}); save its state_dict() instead") from None
        self.modules[id(m)] = len(self.modules)
        node = {"$": "module", "class": cls_name, "index": self.modules[id(m)], "args": enc_args,
                "kwargs": enc_kwargs, "training": bool(m.training)}
        if top:  # submodules get their weights from the top module's state_dict
            node["state"] = self.encode(m.state_dict())
        return node


class _Decoder:
    def __init__(self, npz: Any, where: str) -> None:
        self.npz, self.where = npz, where
        self.modules: dict[int, Any] = {}

    def decode(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        kind = node.get("$")
        if kind in ("tensor", "ndarray", "scalar"):
            return self.array(node, kind)
        if kind in ("dict", "odict"):
            out = OrderedDict() if kind == "odict" else {}
            for k, v in node["items"]:
                out[k[1]] = self.decode(v)
            return out
        if kind in ("list", "tuple"):
            items = [self.decode(v) for v in node["items"]]
            return tuple(items) if kind == "tuple" else items
        if kind == "class":
            return _resolve_class(node["name"], self.where)
        if kind == "ref":
            if node.get("index") not in self.modules:
                raise SerializationError(f"load: {self.where}: module reference {node.get('index')!r} comes before "
                                         "its module")
            return self.modules[node["index"]]
        if kind == "module":
            return self.module(node)
        raise SerializationError(f"load: {self.where}: unknown node type {kind!r} in the manifest")

    def array(self, node: dict, kind: str) -> Any:
        name = node.get("name")
        if name not in self.npz.files:
            raise SerializationError(f"load: {self.where}: array {name!r} listed in the manifest is missing")
        try:
            a = self.npz[name]
        except ZIP_ERRORS as e:
            raise SerializationError(f"load: {self.where}: array {name!r} is corrupted ({e})") from None
        if kind == "tensor":
            return Tensor._wrap(a)
        return a if kind == "ndarray" else a[()]

    def module(self, node: dict) -> Any:
        cls = _resolve_class(str(node.get("class")), self.where)
        args = [self.decode(a) for a in node["args"]]
        kwargs = {str(k): self.decode(v) for k, v in node["kwargs"]}
        try:
            m = cls(*args, **kwargs)
        except (TypeError, ValueError, RuntimeError, KeyError, IndexError) as e:
            raise SerializationError(f"load: {self.where}: rebuilding {node['class']} from its recorded arguments "
                                     f"failed ({e})") from None
        self.modules[node["index"]] = m
        if "state" in node:
            try:
                m.load_state_dict(self.decode(node["state"]))
            except RuntimeError as e:
                raise SerializationError(f"load: {self.where}: the saved weights do not fit a freshly built "
                                         f"{node['class']} (was it changed after construction?): {e}") from None
        m.train(bool(node.get("training", True)))
        return m


def write(obj: Any, f: IO[bytes]) -> None:
    enc = _Encoder()
    tree = enc.encode(obj, top=True)
    version = VERSION if enc.modules or enc.classes else 1
    manifest = json.dumps({"magic": MAGIC, "version": version, "tree": tree})
    np.savez(f, **{MANIFEST: np.frombuffer(manifest.encode(), dtype=np.uint8)}, **enc.arrays)


def read(data: bytes, name: str) -> Any:
    """Decode a deepling checkpoint from its bytes (``SerializationError`` when it is not one)."""
    open_zip(io.BytesIO(data), name).close()  # zip-bomb limits before NumPy inflates anything
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except ZIP_ERRORS as e:
        raise SerializationError(f"load: {name} is truncated or corrupted ({e})") from None
    with npz:
        if MANIFEST not in npz.files:
            raise SerializationError(f"load: {name} is an .npz file but not a deepling checkpoint (no manifest)")
        try:
            manifest = json.loads(npz[MANIFEST].tobytes().decode())
        except ZIP_ERRORS as e:
            raise SerializationError(f"load: {name}: the manifest is corrupted ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("magic") != MAGIC:
            raise SerializationError(f"load: {name} is not a deepling checkpoint (bad magic)")
        if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
            raise SerializationError(f"load: {name} has format version {manifest.get('version')!r}; "
                                     f"this deepling reads versions up to {VERSION}")
        return _Decoder(npz, name).decode(manifest["tree"])
