"""``deepling.accelerator``: PyTorch's ``torch.accelerator`` on a machine without one.

deepling computes on the CPU only: ``is_available()`` is False, ``current_accelerator()`` is None
(so ``current_accelerator().type if is_available() else "cpu"`` picks the CPU) and asking for the
accelerator's device raises ``DeviceError``.
"""

from __future__ import annotations

from typing import Any

from deepling.devices import DeviceError, device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "synchronize"]


def is_available() -> bool:
    return False


def current_accelerator(check_available: bool = False) -> device | None:
    return None


def device_count() -> int:
    return 0


def _none(name: str) -> DeviceError:
    return DeviceError(f"deepling.accelerator.{name}: Cannot access accelerator device when none is available (deepling computes on the CPU only)")


def current_device_index() -> int:
    raise _none("current_device_index")


def synchronize(device: Any = None) -> None:
    raise _none("synchronize")
