"""One global random generator, so that ``manual_seed(s)`` makes a whole run reproducible."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.devices import device as _device_type
from deepling.devices import resolve

__all__ = ["Generator", "manual_seed", "seed", "get_rng_state", "set_rng_state", "default_generator"]


class Generator:
    """A seeded source of randomness (NumPy's PCG64), like ``torch.Generator``."""

    def __init__(self, seed: Any = None, device: Any = None) -> None:
        if isinstance(seed, (str, _device_type)):  # torch.Generator("cpu"): the first argument is the device
            seed, device = None, seed
        self.device = resolve(device, "Generator")
        self.rng = np.random.default_rng(seed)

    def manual_seed(self, seed: int) -> Generator:
        self.rng = np.random.default_rng(int(seed))
        return self

    def get_state(self) -> dict[str, Any]:
        """The generator state as a JSON-able dict (for checkpoints)."""
        return self.rng.bit_generator.state

    def set_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the global generator used by ``rand``, ``randn``, init, dropout and shuffling."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the global generator from OS entropy and return the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    default_generator.manual_seed(s)
    return s


def get_rng_state() -> dict[str, Any]:
    return default_generator.get_state()


def set_rng_state(state: dict[str, Any]) -> None:
    default_generator.set_state(state)


def numpy_rng(generator: Generator | None = None) -> np.random.Generator:
    """The NumPy generator behind ``generator``, or behind the global one when None: every random
    draw in deepling (init, dropout, shuffling, sampling) goes through it."""
    return (generator or default_generator).rng
