"""``deepling.backends.mps``: Apple's Metal backend is neither built nor available in deepling."""

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
