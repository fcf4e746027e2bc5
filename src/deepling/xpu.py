"""``deepling.xpu``: PyTorch's ``torch.xpu`` (Intel GPUs) as it reads without one: never available."""

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all"]


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """No-op: there is no XPU generator to seed."""


def manual_seed_all(seed: int) -> None:
    """No-op, as ``manual_seed``."""
