"""What every studio module shares: one lock around the engine, request validation, array packing.

deepling's grad mode and random generator are process-wide, and the studio serves several views
from threads at once; every use of the engine takes ``ENGINE`` so a playground step, a digit
prediction and a background training batch never interleave.
"""

from __future__ import annotations

import base64
import contextlib
import threading
from typing import Any, Iterator

import numpy as np

import deepling as dl

ENGINE = threading.RLock()


class BadRequest(ValueError):
    """A request the studio refuses, with the message the page shows (HTTP 400)."""

    status = 400


class NotFound(BadRequest):
    status = 404


class TooLarge(BadRequest):
    status = 413


class Busy(BadRequest):
    status = 409


class Stopping(BadRequest):
    status = 503


@contextlib.contextmanager
def engine(rng_state: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Hold the engine (NumPy's floating-point warnings off); with ``rng_state``, run on that random state and hand back the new one in the
    yielded dict's ``"rng"`` key (so each session draws from its own stream and replays exactly)."""
    # Overflow in a diverging run is reported by the page ("the loss diverged"), not as warnings.
    with ENGINE, np.errstate(all="ignore"):
        saved = dl.get_rng_state()
        box: dict[str, Any] = {}
        try:
            if rng_state is not None:
                dl.set_rng_state(rng_state)
            yield box
            box["rng"] = dl.get_rng_state()
        finally:
            dl.set_rng_state(saved)


def pack(a: np.ndarray, lo: float = -1.0, hi: float = 1.0) -> str:
    """An array quantized to bytes over ``[lo, hi]`` and base64-encoded (how grids travel to the page)."""
    a = np.nan_to_num(np.asarray(a, dtype=np.float64), nan=(lo + hi) / 2, posinf=hi, neginf=lo)
    q = np.clip((a - lo) / (hi - lo), 0.0, 1.0)
    return base64.b64encode(np.round(q * 255).astype(np.uint8).tobytes()).decode("ascii")


# --------------------------------------------------------------------------- validation

def get(obj: dict[str, Any], key: str, default: Any = None) -> Any:
    return obj[key] if key in obj else default


def as_int(v: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(v, bool):
        raise BadRequest(f"{name} must be an integer, got {v!r}")
    if isinstance(v, str):
        try:
            v = int(v)
        except ValueError:
            raise BadRequest(f"{name} must be an integer, got {v!r}") from None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int):
        raise BadRequest(f"{name} must be an integer, got {v!r}")
    if not lo <= v <= hi:
        raise BadRequest(f"{name} must be in [{lo}, {hi}], got {v}")
    return v


def as_float(v: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(v, bool):
        raise BadRequest(f"{name} must be a number, got {v!r}")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be a number, got {v!r}") from None
    if not np.isfinite(f) or not lo <= f <= hi:
        raise BadRequest(f"{name} must be in [{lo:g}, {hi:g}], got {v!r}")
    return f


def as_choice(v: Any, name: str, choices: Any) -> str:
    if not isinstance(v, str) or v not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}; got {v!r}")
    return v
