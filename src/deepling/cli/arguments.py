"""What the command modules share: argument types (each rejects bad input with a clear argparse
error, exit code 2), the help formatter and the BLAS-thread limit."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

__all__ = ["positive_int", "nonneg_float", "positive_float", "fraction", "widths", "int_list", "HelpFormatter",
           "blas_threads"]


def positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def nonneg_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {s!r}")
    return v


def positive_float(s: str) -> float:
    v = nonneg_float(s)
    if v == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {s!r}")
    return v


def fraction(s: str) -> float:
    v = nonneg_float(s)
    if v >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {s!r}")
    return v


def widths(s: str) -> list[int]:
    try:
        w = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths like 256,128, got {s!r}") from None
    if not w or any(v <= 0 for v in w):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive widths like 256,128, got {s!r}")
    return w


def int_list(s: str) -> list[int]:
    try:
        return [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 0,1,2, got {s!r}") from None


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` except where the default is None (those help texts explain it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None:
            return action.help or ""
        return super()._get_help_string(action)


def blas_threads(n: int | None) -> Any:
    """A context limiting NumPy's BLAS to ``n`` threads (via threadpoolctl when installed)."""
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")
