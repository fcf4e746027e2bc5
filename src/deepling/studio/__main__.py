"""``python -m deepling.studio [--port P] [--host H]``: the same as ``deepling studio``."""

from __future__ import annotations

import argparse

from deepling.studio.cli import add_arguments, command


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m deepling.studio",
                                description="deepling studio: a local web page where the real engine trains while you watch")
    add_arguments(p)
    return command(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
