"""``deepling lesson list`` and ``deepling lesson run NAME [--plot out.png] [--set KEY=VALUE ...]``."""

from __future__ import annotations

import argparse
import ast
import time
from typing import Any

__all__ = ["add_parser", "cmd_lesson"]


def add_parser(sub: Any) -> None:
    """Add ``deepling lesson`` to the subparsers ``sub``."""
    p = sub.add_parser("lesson", help="list or run the curriculum's lessons (each claim as an experiment)",
                       description="Each lesson states one claim of the course, runs the experiment that shows it, "
                                   "prints the numbers and can draw its figure.")
    lsub = p.add_subparsers(dest="lesson_command", metavar="ACTION")
    lsub.required = True
    lsub.add_parser("list", help="list the lessons with their claims")
    r = lsub.add_parser("run", help="run one lesson and print its numbers")
    r.add_argument("name", help="lesson name (see 'deepling lesson list')")
    r.add_argument("--plot", metavar="PNG", default=None, help="write the lesson's figure to this file")
    r.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="override a run() option, e.g. --set epochs=5 --set source=digits (repeatable)")


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def cmd_lesson(a: argparse.Namespace) -> int:
    from deepling import lessons
    from deepling.lessons.formatting import format_value

    if a.lesson_command == "list":
        names = lessons.available()
        width = max(len(n) for n in names)
        for i, name in enumerate(lessons.NAMES, 1):
            if name in names:
                print(f"{i:2d}. {name:<{width}}  {lessons.summary(name)}")
        return 0
    options = {}
    for item in a.set:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        options[key.replace("-", "_")] = _value(value)
    t0 = time.perf_counter()
    result = lessons.run(a.name, **options)
    seconds = time.perf_counter() - t0
    print(f"{a.name}: {lessons.summary(a.name)}")
    rows = [(k, format_value(v)) for k, v in result.items() if not k.startswith("_")]
    width = max((len(k) for k, _ in rows), default=0)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print(f"  ({seconds:.1f}s)")
    if a.plot:
        lessons.plot(a.name, result, a.plot)
        print(f"wrote {a.plot}")
    return 0
