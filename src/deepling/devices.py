"""``deepling.devices``: where a tensor's memory lives, in PyTorch's vocabulary (``device('cpu')``, ``'cuda:0'``).

deepling computes with NumPy, so the only device it has is the CPU. ``device`` objects parse and
compare like ``torch.device``; asking to put data on any other device raises a clear
``RuntimeError`` that says so. This module is the one place that knows which devices exist: a GPU
backend (an array module with NumPy's interface, such as CuPy) would register here, in
``_ARRAY_MODULES``, and ``array_module(device)`` would hand it to the code that allocates arrays.

(The class is ``deepling.device``, as ``torch.device``; this module is named in the plural so the two
never shadow each other.) ``to_args(args, kwargs)`` parses the arguments of ``Tensor.to`` / ``Module.to`` once, for both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["device", "cpu_device", "resolve", "array_module", "to_args", "DeviceError"]

# Device types PyTorch's parser knows (the order of its error message). Only "cpu" has an array module.
_KNOWN_TYPES = (
    "cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
    "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone",
)
_ARRAY_MODULES: dict[str, Any] = {"cpu": np}


class DeviceError(RuntimeError):
    """Raised when data is asked to live on a device deepling does not have."""


class device:  # noqa: N801  (PyTorch's name)
    """A device type and optional index: ``device('cpu')``, ``device('cuda:1')``, ``device('cuda', 1)``.

    Making one never fails for a device type PyTorch knows (scripts build ``device('cuda')`` before
    checking availability); putting a tensor there does, unless deepling has that device.
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device: an index cannot be given together with a device object")
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            raise DeviceError(f"device({type}): an integer names an accelerator device, and deepling has none")
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string or a device, got {type.__class__.__name__}")
        name, sep, idx = type.partition(":")
        if name not in _KNOWN_TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(_KNOWN_TYPES)} device type at start of device string: {type}"
            )
        if sep:
            if index is not None or not idx.isdigit() or (len(idx) > 1 and idx[0] == "0"):
                raise RuntimeError(f"Invalid device string: {type!r}")
            index = int(idx)
        if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
            raise RuntimeError(f"Device index must not be negative (got {index!r})")
        self.type, self.index = name, index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type={self.type!r})"
        return f"device(type={self.type!r}, index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, device):
            return False  # as in PyTorch, device('cpu') != 'cpu'
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    # ``with deepling.device('cpu'):`` sets the default device in PyTorch; the CPU is the only one.
    def __enter__(self) -> device:
        resolve(self)
        return self

    def __exit__(self, *exc: object) -> None:
        return None


cpu_device = device("cpu")


def resolve(dev: Any, op: str = "to") -> device:
    """The device ``dev`` names (None means the CPU), or a ``DeviceError`` if deepling lacks it."""
    if dev is None:
        return cpu_device
    d = dev if isinstance(dev, device) else device(dev)
    if d.type not in _ARRAY_MODULES:
        hint = " (deepling has no CUDA; check deepling.cuda.is_available() first)" if d.type == "cuda" else ""
        raise DeviceError(f"{op}: deepling computes on the CPU only, device {str(d)!r} is not available{hint}")
    return d


def array_module(dev: Any = None) -> Any:
    """The NumPy-like module that allocates and computes arrays on ``dev``."""
    return _ARRAY_MODULES[resolve(dev).type]


def _is_device(arg: Any) -> bool:
    if isinstance(arg, device):
        return True
    if isinstance(arg, str):
        return arg.partition(":")[0] in _KNOWN_TYPES
    return isinstance(arg, int) and not isinstance(arg, bool)


def to_args(op: str, args: tuple, kwargs: dict) -> tuple[device | None, Any, bool]:
    """Parse ``to(device=None, dtype=None, non_blocking=False, copy=False)`` or ``to(tensor, ...)``.

    Returns ``(device or None, dtype or None, copy)``; ``non_blocking`` has no meaning on the CPU.
    A device is validated here, so ``to('cuda')`` raises before anything changes.
    """
    from deepling.tensor import Tensor  # the tensor module imports this one

    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{op}: unexpected keyword argument(s) {sorted(unknown)}")
    dev, dtype = kwargs.get("device"), kwargs.get("dtype")
    flags = []
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = cpu_device, a.dtype
        elif isinstance(a, bool):
            flags.append(a)  # non_blocking, copy (positional, after the device/dtype/tensor)
        elif dev is None and dtype is None and _is_device(a):
            dev = a
        elif dtype is None and not _is_device(a):
            dtype = a
        else:
            raise TypeError(f"{op}: cannot interpret argument {a!r} (expected a device, a dtype or a tensor)")
    copy = bool(kwargs.get("copy", flags[1] if len(flags) > 1 else False))
    return (None if dev is None else resolve(dev, op)), dtype, copy
