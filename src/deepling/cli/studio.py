"""``deepling studio [--port P] [--host H] [--data-dir DIR] [--cache DIR]``: serve the studio until Ctrl-C."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "cmd_studio"]


def add_parser(sub: Any) -> None:
    """Add ``deepling studio`` to the subparsers ``sub``."""
    p = sub.add_parser("studio", help="a local web page where the real engine trains while you watch",
                       description="Serve deepling studio (playground, digit pad, lessons, autograd graph) on this "
                                   "machine and print its address; Ctrl-C stops it. Needs the studio extra: "
                                   "pip install 'deepling[studio]'.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--data-dir", default=None, help="directory with MNIST's IDX files for the digit pad "
                   "(default: deepling's data rule; without MNIST the pad learns the embedded digits)")
    p.add_argument("--cache", default=None, help="where the digit model is cached (default ~/.cache/deepling/studio)")


def cmd_studio(a: argparse.Namespace) -> int:
    if not 0 < a.port < 65536:
        raise ValueError(f"--port must be in 1..65535, got {a.port}")
    from deepling.studio.server import serve  # Starlette and uvicorn load only when serving

    serve(a.host, a.port, cache_dir=a.cache, data_dir=a.data_dir)
    return 0
