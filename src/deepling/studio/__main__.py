"""``python -m deepling.studio [--port P] [--host H]``: the same as ``deepling studio``."""

from __future__ import annotations

import argparse

from deepling.studio.server import serve


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m deepling.studio", description="deepling studio: a local web page "
                                "where the real engine trains while you watch")
    add_arguments(p)
    a = p.parse_args(argv)
    run(a)
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--data", default=None, help="directory with MNIST's IDX files for the digit pad (default: "
                   "$DEEPLING_MNIST or ../shared/data/mnist; else the embedded digits)")
    p.add_argument("--cache", default=None, help="where the digit model is cached (default ~/.cache/deepling/studio)")


def run(a: argparse.Namespace) -> None:
    if not 0 < a.port < 65536:
        raise ValueError(f"--port must be in 1..65535, got {a.port}")
    serve(a.host, a.port, cache_dir=a.cache, data_dir=a.data)


if __name__ == "__main__":
    raise SystemExit(main())
