"""``deepling.cuda``: PyTorch's ``torch.cuda`` as it behaves on a machine without CUDA.

deepling has no GPU backend, so ``is_available()`` is False and ``device_count()`` is 0. Seeding is
a silent no-op (PyTorch's seeding functions are too, when CUDA is absent), so scripts that seed every
generator run unchanged; anything that needs a GPU raises ``DeviceError`` saying deepling has none.
"""

from __future__ import annotations

from typing import Any

from deepling.devices import DeviceError

__all__ = [
    "is_available", "device_count", "manual_seed", "manual_seed_all", "seed", "seed_all",
    "is_bf16_supported", "empty_cache", "synchronize", "current_device", "get_device_name",
    "memory_allocated", "max_memory_allocated", "memory_reserved", "is_initialized",
]


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def manual_seed(seed: int) -> None:
    """No-op: there is no CUDA generator to seed (``deepling.manual_seed`` seeds the CPU one)."""


def manual_seed_all(seed: int) -> None:
    """No-op, as ``manual_seed``."""


def seed() -> None:
    """No-op, as ``manual_seed``."""


def seed_all() -> None:
    """No-op, as ``manual_seed``."""


def empty_cache() -> None:
    """No-op: no CUDA memory is cached."""


def memory_allocated(device: Any = None) -> int:
    return 0


def max_memory_allocated(device: Any = None) -> int:
    return 0


def memory_reserved(device: Any = None) -> int:
    return 0


def _no_cuda(name: str) -> DeviceError:
    return DeviceError(f"deepling.cuda.{name}: deepling has no CUDA (deepling.cuda.is_available() is False)")


def synchronize(device: Any = None) -> None:
    raise _no_cuda("synchronize")


def current_device() -> int:
    raise _no_cuda("current_device")


def get_device_name(device: Any = None) -> str:
    raise _no_cuda("get_device_name")
