"""PyTorch's checkpoint format (``torch.save`` since 1.6), read without running its pickle, and written.

The file is a zip: ``<archive>/data.pkl`` is a pickle of the object in which every tensor is
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`` and every
storage a persistent id ``('storage', torch.FloatStorage, key, 'cpu', numel)`` naming the member
``<archive>/data/<key>`` that holds its raw little-endian bytes.

Reading runs that pickle through ``pickle_vm`` with stand-ins for the few globals a state dict or an
optimizer state needs; each storage is checked against its member's size and each view's offset,
size and strides against its storage before NumPy touches the bytes. ``bfloat16`` becomes
``float32`` (exactly). Writing emits the same layout (protocol 2, members stored, data aligned to 64
bytes) so ``torch.load(f, weights_only=True)`` reads it.
"""

from __future__ import annotations

import io
import math
import re
import struct
import zipfile
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from deepling.serialization.fileio import ZIP_ERRORS, SerializationError, open_zip
from deepling.serialization.pickle_vm import Global, Unpickler
from deepling.tensor import Tensor

__all__ = ["read", "read_legacy", "is_legacy", "write", "looks_like"]

# storage type -> NumPy dtype of its bytes ("bfloat16" is widened to float32 on load)
_STORAGES = {"FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
             "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
             "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool"}
_DTYPES = {"float32": "float32", "float": "float32", "float64": "float64", "double": "float64", "float16": "float16",
           "half": "float16", "bfloat16": "float32", "int64": "int64", "long": "int64", "int32": "int32",
           "int": "int32", "int16": "int16", "short": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool"}
_MAX_PICKLE = 256 << 20


def looks_like(names: list[str]) -> bool:
    return any(n.endswith("/data.pkl") and n.count("/") == 1 for n in names)


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name, self.dtype = name, _STORAGES[name]

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class _Storage:
    """One storage's bytes as a flat array of its dtype (bfloat16 already widened)."""

    def __init__(self, array: np.ndarray, torch_dtype: str) -> None:
        self.array, self.torch_dtype = array, torch_dtype


def _ints(name: str, value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                               for v in value):
        raise ValueError(f"{what} must be a tuple of non-negative ints, got {value!r}")
    return value


class _LegacyStorage:
    """A storage of a legacy file, whose bytes come after the object's pickle: filled in later.
    A view storage (``root`` set) is ``root``'s elements ``offset .. offset + numel``."""

    def __init__(self, stype: _StorageType, numel: int, root: _LegacyStorage | None = None, offset: int = 0) -> None:
        self.stype, self.numel, self.root, self.offset = stype, numel, root, offset
        self.array: np.ndarray | None = None


class _Pending:
    """A tensor of a legacy file waiting for its storage's bytes."""

    def __init__(self, storage: _LegacyStorage, view: tuple) -> None:
        self.storage, self.view, self.param = storage, view, None  # param: requires_grad if a Parameter


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> Any:
    """A copy of the view ``storage[offset:]`` with ``size`` and ``stride`` (all checked first)."""
    if not isinstance(storage, _Storage | _LegacyStorage):
        raise ValueError(f"expected a storage, got {type(storage).__name__}")
    size, stride = _ints("size", size, "size"), _ints("stride", stride, "stride")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0 or len(size) != len(stride):
        raise ValueError(f"bad view: offset {offset!r}, size {size}, stride {stride}")
    if isinstance(storage, _LegacyStorage):
        return _Pending(storage, (offset, size, stride))
    n = storage.array.size
    if math.prod(size) == 0:
        return Tensor._wrap(np.zeros(size, dtype=storage.array.dtype))
    last = offset + sum((s - 1) * st for s, st in zip(size, stride))
    if last >= n:
        raise ValueError(f"a tensor view (offset {offset}, size {size}, stride {stride}) reaches element "
                         f"{last} of a storage of {n} elements")
    if math.prod(size) > n:
        # Only overlapping (expanded, stride-0) views can be larger than their storage; copying one
        # could allocate without bound, and state dicts never hold them.
        raise ValueError(f"a tensor view of {math.prod(size)} elements (size {size}, stride {stride}) is larger than "
                         f"its storage of {n} elements (an expanded tensor): refused")
    item = storage.array.itemsize
    view = np.lib.stride_tricks.as_strided(storage.array[offset:], shape=size, strides=[s * item for s in stride],
                                           writeable=False)
    return Tensor._wrap(np.array(view, order="C"))


def _rebuild_parameter(data: Any, requires_grad: Any = True, *_: Any) -> Any:
    from deepling.nn.parameter import Parameter

    if isinstance(data, _Pending):
        data.param = bool(requires_grad)
        return data
    if not isinstance(data, Tensor):
        raise ValueError(f"expected a tensor, got {type(data).__name__}")
    return Parameter(data.array, requires_grad=bool(requires_grad))


def _odict(*args: Any) -> OrderedDict:
    if args and not (len(args) == 1 and isinstance(args[0], list)):
        raise ValueError("OrderedDict takes at most a list of pairs")
    return OrderedDict(args[0] if args else ())


def _ignore_state(obj: Any, state: Any) -> None:
    # state_dict()'s OrderedDict carries a ``_metadata`` attribute (module versions): not needed here.
    if not isinstance(state, dict):
        raise ValueError("OrderedDict state must be a dict")


def _globals() -> dict[str, Global]:
    g = {
        "collections.OrderedDict": Global("collections.OrderedDict", call=_odict, build=_ignore_state),
        "torch._utils._rebuild_tensor_v2": Global("torch._utils._rebuild_tensor_v2", call=_rebuild_tensor),
        "torch._utils._rebuild_tensor": Global("torch._utils._rebuild_tensor", call=_rebuild_tensor),
        "torch._utils._rebuild_parameter": Global("torch._utils._rebuild_parameter", call=_rebuild_parameter),
        "torch._utils._rebuild_parameter_with_state": Global("torch._utils._rebuild_parameter_with_state",
                                                             call=_rebuild_parameter),
        "torch.Size": Global("torch.Size", call=lambda t=(): tuple(_ints("Size", tuple(t), "torch.Size"))),
    }
    for name in _STORAGES:
        g[f"torch.{name}"] = Global(f"torch.{name}", value=_StorageType(name))
    for name, dt in _DTYPES.items():
        g[f"torch.{name}"] = Global(f"torch.{name}", value=np.dtype(dt))
    return g


class _Archive:
    def __init__(self, zf: zipfile.ZipFile, prefix: str, name: str) -> None:
        self.zf, self.prefix, self.name = zf, prefix, name
        self.storages: dict[str, _Storage] = {}
        self.big_endian = False

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise SerializationError(f"load: {self.name}: unknown persistent id {pid!r} (expected a storage)")
        _, stype, key, _location, numel = pid
        if not isinstance(stype, _StorageType):
            raise SerializationError(f"load: {self.name}: persistent id names {stype!r}, not a storage type")
        if not (isinstance(key, str) and re.fullmatch(r"[0-9A-Za-z_.-]{1,64}", key)):
            raise SerializationError(f"load: {self.name}: bad storage key {key!r}")
        if not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise SerializationError(f"load: {self.name}: storage {key} has a bad element count {numel!r}")
        if key in self.storages:
            if self.storages[key].torch_dtype != stype.dtype:
                raise SerializationError(f"load: {self.name}: storage {key} is named with two types")
            return self.storages[key]
        member = f"{self.prefix}/data/{key}"
        try:
            info = self.zf.getinfo(member)
        except KeyError:
            raise SerializationError(f"load: {self.name}: storage {key} has no member {member!r}") from None
        raw_dtype = np.dtype("<u2" if stype.dtype == "bfloat16" else stype.dtype)
        need = numel * raw_dtype.itemsize
        if info.file_size < need:
            raise SerializationError(f"load: {self.name}: storage {key} claims {numel} {stype.dtype} elements "
                                     f"({need} bytes) but its member holds {info.file_size} bytes")
        try:
            raw = self.zf.read(member)[:need]
        except ZIP_ERRORS as e:
            raise SerializationError(f"load: {self.name}: storage {key} is corrupted ({e})") from None
        order = ">" if self.big_endian else "<"
        if stype.dtype == "bfloat16":
            arr = (np.frombuffer(raw, dtype=order + "u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=raw_dtype.newbyteorder(order)).astype(raw_dtype.newbyteorder("="))
        self.storages[key] = _Storage(arr, stype.dtype)
        return self.storages[key]


def read(data: bytes, name: str) -> Any:
    """The object a ``torch.save`` zip file holds, tensors as deepling Tensors; nothing executed."""
    zf = open_zip(io.BytesIO(data), name)
    with zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise SerializationError(f"load: {name} is a zip file but not a PyTorch checkpoint (no single data.pkl)")
        prefix = pkl[0][: -len("/data.pkl")]
        if any(n.startswith(prefix + "/code/") for n in names):
            raise SerializationError(f"load: {name} is a TorchScript archive (torch.jit.save); deepling reads "
                                     "torch.save checkpoints of tensors and state dicts only")
        arch = _Archive(zf, prefix, name)
        if f"{prefix}/byteorder" in names:
            try:
                order = zf.read(f"{prefix}/byteorder").strip()
            except ZIP_ERRORS as e:
                raise SerializationError(f"load: {name}: the byteorder record is corrupted ({e})") from None
            if order not in (b"little", b"big"):
                raise SerializationError(f"load: {name}: unknown byte order {order!r}")
            arch.big_endian = order == b"big"
        info = zf.getinfo(pkl[0])
        if info.file_size > _MAX_PICKLE:
            raise SerializationError(f"load: {name}: data.pkl is {info.file_size} bytes (limit {_MAX_PICKLE})")
        try:
            stream = zf.read(pkl[0])
        except ZIP_ERRORS as e:
            raise SerializationError(f"load: {name}: data.pkl is corrupted ({e})") from None
        return Unpickler(stream, _globals(), arch.persistent_load, name).load()


# ---------------------------------------------------------------------------------------------- legacy files
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def is_legacy(data: bytes) -> bool:
    return data[:4] == b"\x80\x02\x8a\x0a" and int.from_bytes(data[4:14], "little") == _LEGACY_MAGIC


def read_legacy(data: bytes, name: str) -> Any:
    """A file of ``torch.save(..., _use_new_zipfile_serialization=False)`` (PyTorch's format before 1.6):
    pickles in a row (magic number, protocol 1001, system info, the object, its storage keys), then
    each storage as an int64 element count and its bytes."""
    g = _globals()

    def no_storage(pid: Any) -> Any:
        raise SerializationError(f"load: {name}: a storage where none belongs (in the file's header)")

    def header(pos: int) -> tuple[Any, int]:
        u = Unpickler(data, g, no_storage, name, start=pos)
        return u.load(), u.pos

    magic, pos = header(0)
    version, pos = header(pos)
    info, pos = header(pos)
    if magic != _LEGACY_MAGIC or version != 1001 or not isinstance(info, dict):
        raise SerializationError(f"load: {name} is not a legacy PyTorch file (magic {magic!r}, protocol {version!r})")
    little = bool(info.get("little_endian", True))
    roots: dict[str, _LegacyStorage] = {}

    def persistent_load(pid: Any) -> _LegacyStorage:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise SerializationError(f"load: {name}: unknown persistent id {pid!r} (expected a storage)")
        _, stype, key, _location, numel, view = pid
        if not isinstance(stype, _StorageType) or not isinstance(key, str):
            raise SerializationError(f"load: {name}: bad storage id {pid!r}")
        if not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise SerializationError(f"load: {name}: storage {key} has a bad element count {numel!r}")
        root = roots.setdefault(key, _LegacyStorage(stype, numel))
        if root.numel != numel or root.stype is not stype:
            raise SerializationError(f"load: {name}: storage {key} is described two different ways")
        if view is None:
            return root
        if not (isinstance(view, tuple) and len(view) == 3 and all(isinstance(v, int) and v >= 0 for v in view[1:])
                and view[1] + view[2] <= numel):
            raise SerializationError(f"load: {name}: storage view {view!r} lies outside storage {key} of {numel}")
        return _LegacyStorage(stype, view[2], root, view[1])

    u = Unpickler(data, g, persistent_load, name, start=pos)
    obj = u.load()
    ku = Unpickler(data, g, no_storage, name, start=u.pos)
    keys = ku.load()
    at = ku.pos
    if not isinstance(keys, list) or set(keys) != set(roots) or len(keys) != len(roots):
        raise SerializationError(f"load: {name}: the storage key list does not match the storages used")
    order = "<" if little else ">"
    for key in keys:
        st = roots[key]
        raw_dtype = np.dtype("u2" if st.stype.dtype == "bfloat16" else st.stype.dtype).newbyteorder(order)
        if at + 8 > len(data):
            raise SerializationError(f"load: {name} is truncated (storage {key} is missing)")
        count = int(np.frombuffer(data, dtype=order + "i8", count=1, offset=at)[0])
        need = st.numel * raw_dtype.itemsize
        if count != st.numel or at + 8 + need > len(data):
            raise SerializationError(f"load: {name}: storage {key} claims {st.numel} elements; the file holds "
                                     f"{count} and {len(data) - at - 8} bytes after it")
        raw = np.frombuffer(data, dtype=raw_dtype, count=st.numel, offset=at + 8)
        if st.stype.dtype == "bfloat16":
            st.array = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            st.array = raw.astype(raw_dtype.newbyteorder("="))
        at += 8 + need
    return _resolve(obj, name, {}, 0)


def _resolve(obj: Any, name: str, memo: dict[int, Any], depth: int) -> Any:
    """Replace every pending tensor in ``obj`` (dicts, lists, tuples) by the real one."""
    if depth > 200:
        raise SerializationError(f"load: {name}: the object is nested more than 200 levels deep")
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, _Pending):
        st = obj.storage
        base = st.root if st.root is not None else st
        array = base.array[st.offset:st.offset + st.numel]
        try:
            out = _rebuild_tensor(_Storage(array, base.stype.dtype), *obj.view)
            if obj.param is not None:
                out = _rebuild_parameter(out, obj.param)
        except ValueError as e:
            raise SerializationError(f"load: {name}: {e}") from None
    elif isinstance(obj, dict):
        out = type(obj)()
        memo[id(obj)] = out
        for k, v in obj.items():
            out[k] = _resolve(v, name, memo, depth + 1)
        return out
    elif isinstance(obj, list):
        out = []
        memo[id(obj)] = out
        out.extend(_resolve(v, name, memo, depth + 1) for v in obj)
        return out
    elif isinstance(obj, tuple):
        out = tuple(_resolve(v, name, memo, depth + 1) for v in obj)
    else:
        return obj
    memo[id(obj)] = out
    return out


# ---------------------------------------------------------------------------------------------- writing
_STORAGE_OF = {np.dtype(v): k for k, v in _STORAGES.items() if v != "bfloat16"}


class _Pickler:
    """Emits a protocol-2 pickle of dicts, lists, tuples, scalars, strings and tensors, PyTorch's way."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.storages: list[np.ndarray] = []
        self._storage_key: dict[int, tuple[str, np.ndarray]] = {}
        self._memo: dict[str, int] = {}

    def w(self, b: bytes) -> None:
        self.out.write(b)

    def glob(self, module: str, name: str) -> None:
        key = f"{module}\n{name}\n"
        if key in self._memo:
            i = self._memo[key]
            self.w(b"h" + struct.pack("<B", i) if i < 256 else b"j" + struct.pack("<I", i))
            return
        i = len(self._memo)
        self._memo[key] = i
        self.w(b"c" + key.encode())
        self.w(b"q" + struct.pack("<B", i) if i < 256 else b"r" + struct.pack("<I", i))

    def dump(self, obj: Any) -> bytes:
        self.w(b"\x80\x02")
        self.save(obj)
        self.w(b".")
        return self.out.getvalue()

    def save(self, obj: Any) -> None:
        from deepling.nn.parameter import Parameter

        if obj is None:
            self.w(b"N")
        elif obj is True or obj is False:
            self.w(b"\x88" if obj else b"\x89")
        elif isinstance(obj, int):
            if 0 <= obj < 256:
                self.w(b"K" + struct.pack("<B", obj))
            elif 0 <= obj < 65536:
                self.w(b"M" + struct.pack("<H", obj))
            elif -(1 << 31) <= obj < (1 << 31):
                self.w(b"J" + struct.pack("<i", obj))
            else:
                n = (obj.bit_length() + 8) // 8
                b = obj.to_bytes(n, "little", signed=True)
                if len(b) > 255:
                    raise TypeError(f"save: integer {obj} is too large for the PyTorch format")
                self.w(b"\x8a" + struct.pack("<B", len(b)) + b)
        elif isinstance(obj, float):
            self.w(b"G" + struct.pack(">d", obj))
        elif isinstance(obj, str):
            b = obj.encode("utf-8")
            self.w(b"X" + struct.pack("<I", len(b)) + b)
        elif isinstance(obj, np.generic):
            self.save(obj.item())
        elif isinstance(obj, tuple):
            if not obj:
                self.w(b")")
                return
            if len(obj) > 3:
                self.w(b"(")
            for v in obj:
                self.save(v)
            self.w({1: b"\x85", 2: b"\x86", 3: b"\x87"}.get(len(obj), b"t"))
        elif isinstance(obj, list):
            self.w(b"]")
            if obj:
                self.w(b"(")
                for v in obj:
                    self.save(v)
                self.w(b"e")
        elif isinstance(obj, dict):
            if isinstance(obj, OrderedDict):
                self.glob("collections", "OrderedDict")
                self.w(b")R")
            else:
                self.w(b"}")
            if obj:
                self.w(b"(")
                for k, v in obj.items():
                    if not (k is None or isinstance(k, int | float | str)):
                        raise TypeError(f"save: dict keys must be str, int, float, bool or None (got "
                                        f"{type(k).__name__})")
                    self.save(k)
                    self.save(v)
                self.w(b"u")
        elif isinstance(obj, Parameter):
            self.glob("torch._utils", "_rebuild_parameter")
            self.w(b"(")
            self.tensor(obj.array)
            self.save(bool(obj.requires_grad))
            self.glob("collections", "OrderedDict")
            self.w(b")Rt" + b"R")
        elif isinstance(obj, Tensor | np.ndarray):
            self.tensor(obj.array if isinstance(obj, Tensor) else obj)
        else:
            raise TypeError(f"save: cannot save objects of type {type(obj).__name__} in the PyTorch format "
                            "(supported: dicts, lists, tuples, Tensors, arrays, numbers, strings, bools, None)")

    def tensor(self, a: np.ndarray) -> None:
        if a.dtype not in _STORAGE_OF:
            raise TypeError(f"save: dtype {a.dtype} has no PyTorch storage type (supported: "
                            f"{sorted(str(d) for d in _STORAGE_OF)})")
        if id(a) in self._storage_key:  # the same array twice (tied weights): one storage, as PyTorch does
            key, _ = self._storage_key[id(a)]
        else:
            key = str(len(self.storages))
            self._storage_key[id(a)] = (key, a)
            self.storages.append(a)
        self.glob("torch._utils", "_rebuild_tensor_v2")
        self.w(b"((")
        self.save("storage")
        self.glob("torch", _STORAGE_OF[a.dtype])
        self.save(key)
        self.save("cpu")
        self.save(int(a.size))
        self.w(b"tQ")
        self.save(0)
        self.save(tuple(int(s) for s in a.shape))
        strides, acc = [], 1
        for s in reversed(a.shape):
            strides.append(acc)
            acc *= int(s)
        self.save(tuple(reversed(strides)))
        self.save(False)
        self.glob("collections", "OrderedDict")
        self.w(b")Rt" + b"R")


def _aligned(zf: zipfile.ZipFile, name: str, data: bytes, align: int = 64) -> None:
    """Write a stored member whose data starts on an ``align``-byte boundary (padding in the extra field)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    offset = zf.fp.tell() + 30 + len(name.encode())
    pad = (-(offset + 4)) % align
    info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    zf.writestr(info, data)


def write(obj: Any, f: IO[bytes], archive: str = "archive") -> None:
    p = _Pickler()
    pkl = p.dump(obj)
    buf = io.BytesIO()  # zipfile needs a seekable target; the caller's f may not be
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        _aligned(zf, f"{archive}/data.pkl", pkl)
        _aligned(zf, f"{archive}/.format_version", b"1")
        _aligned(zf, f"{archive}/.storage_alignment", b"64")
        _aligned(zf, f"{archive}/byteorder", b"little")
        for i, a in enumerate(p.storages):
            _aligned(zf, f"{archive}/data/{i}", np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())
        _aligned(zf, f"{archive}/version", b"3\n")
    f.write(buf.getvalue())
