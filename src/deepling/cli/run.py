"""``deepling run -n N -- COMMAND``: the launcher, torchrun's role (``deepling.distributed.run``; it
parses its own options: ``deepling run --help``)."""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["add_parser", "cmd_run"]


def add_parser(sub: Any) -> None:
    """List ``run`` in ``deepling --help`` (``main`` hands its arguments to the launcher unparsed)."""
    sub.add_parser("run", add_help=False, help="start a command on N ranks, torchrun's role: deepling run -n 2 -- "
                                               "python train.py ('deepling run --help')")


def cmd_run(argv: Sequence[str]) -> int:
    from deepling.distributed.run import main as run_main

    return run_main(list(argv))
