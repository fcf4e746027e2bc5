"""``deepling lesson list``, ``deepling lesson show NAME`` and ``deepling lesson run NAME [--plot out.png] [--set KEY=VALUE ...]``."""

from __future__ import annotations

import argparse
import ast
import os
import time
from typing import Any

__all__ = ["add_parser", "cmd_lesson"]


def add_parser(sub: Any) -> None:
    """Add ``deepling lesson`` to the subparsers ``sub``."""
    p = sub.add_parser("lesson", help="list or run the curriculum's lessons (each claim as an experiment)",
                       description="Each lesson states one claim of the course, runs the experiment that shows it, "
                                   "prints the numbers and its verdict (the claim holds or does not hold) and can draw its figure.")
    lsub = p.add_subparsers(dest="lesson_command", metavar="ACTION")
    lsub.required = True
    lsub.add_parser("list", help="list the lessons with their claims")
    sh = lsub.add_parser("show", help="show one lesson's claim and its options with their defaults")
    sh.add_argument("name", help="lesson name (see 'deepling lesson list')")
    r = lsub.add_parser("run", help="run one lesson and print its numbers and verdict")
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
    if a.lesson_command == "show":
        print(f"{a.name}: {lessons.summary(a.name)}")
        opts = lessons.options(a.name)
        width = max((len(k) for k in opts), default=0)
        print("options (deepling lesson run NAME --set KEY=VALUE):" if opts else "options: none")
        for k, v in opts.items():
            print(f"  {k:<{width}}  {v!r}")
        return 0
    if a.plot:  # fail now, not after the whole lesson ran
        folder = os.path.dirname(os.path.abspath(a.plot))
        if not os.path.isdir(folder):
            raise ValueError(f"--plot {a.plot}: the folder {folder} does not exist")
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
    rows = [(k, format_value(v)) for k, v in result.items() if not k.startswith("_") and k != "verdict"]
    width = max((len(k) for k, _ in rows), default=0)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print(f"  ({seconds:.1f}s)")
    print("\n".join(lessons.format_verdict(result["verdict"])))
    if a.plot:
        lessons.plot(a.name, result, a.plot)
        print(f"wrote {a.plot}")
    return 0
