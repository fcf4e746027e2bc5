"""``deepling bench``: the benchmark suite vs PyTorch in the checkout's ``benchmarks/`` (it parses its
own options: ``deepling bench --help``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

__all__ = ["add_parser", "cmd_bench"]


def add_parser(sub: Any) -> None:
    """List ``bench`` in ``deepling --help`` (``main`` hands its arguments to the suite unparsed)."""
    sub.add_parser("bench", add_help=False, help="the benchmark suite vs PyTorch (from a checkout; 'deepling bench --help')")


def cmd_bench(argv: Sequence[str]) -> int:
    """Run ``benchmarks.suite.main(argv)`` from the checkout this package lives in (it needs torch)."""
    root = Path(__file__).resolve().parents[3]  # src/deepling/cli/bench.py -> the checkout
    if (root / "benchmarks" / "suite.py").exists() and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from benchmarks.suite import main as bench_main
    except ImportError as err:
        print(f"deepling bench: error: the benchmark suite needs a deepling checkout and torch ({err})", file=sys.stderr)
        return 1
    return bench_main(list(argv))
