"""``deepling.amp``: PyTorch's automatic mixed precision, which deepling does not have.

deepling computes in the dtype of its tensors (float32 by default). ``autocast(..., enabled=False)``
is accepted and does nothing, so scripts that switch AMP off run unchanged; ``autocast`` enabled
raises a clear error instead of silently computing in float32. ``GradScaler`` behaves as PyTorch's
does when its device is unavailable: it disables itself (with one warning if asked to be enabled),
``scale(loss)`` returns the loss and ``step(optimizer)`` just steps.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

__all__ = ["autocast", "GradScaler", "is_autocast_available"]


def is_autocast_available(device_type: str) -> bool:
    return False


class autocast:  # noqa: N801  (PyTorch's name)
    """Mixed-precision region: only ``enabled=False`` is supported (a no-op)."""

    def __init__(self, device_type: str = "cpu", dtype: Any = None, enabled: bool = True, cache_enabled: Any = None) -> None:
        if enabled:
            raise RuntimeError(
                f"autocast: deepling has no mixed precision (device_type={device_type!r}); "
                "it computes in the tensors' own dtype. Pass enabled=False or remove the autocast block."
            )
        self.device_type, self.enabled = device_type, False

    def __enter__(self) -> autocast:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        return wrapper


class GradScaler:
    """Loss scaling for float16 training; always disabled in deepling (no mixed precision)."""

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        if enabled:
            warnings.warn("GradScaler: deepling has no mixed precision; the scaler is disabled", UserWarning, stacklevel=2)
        self._enabled = False

    def is_enabled(self) -> bool:
        return self._enabled

    def scale(self, outputs: Any) -> Any:
        return outputs

    def unscale_(self, optimizer: Any) -> None:
        return None

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: Any = None) -> None:
        return None

    def get_scale(self) -> float:
        return 1.0

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        return None
