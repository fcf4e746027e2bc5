"""``deepling lesson list`` and ``deepling lesson run NAME [--plot out.png] [--option value ...]``."""

from __future__ import annotations

import argparse
import ast
import time
from typing import Any

from deepling import lessons


def add_parser(sub: Any) -> None:
    p = sub.add_parser("lesson", help="list or run the curriculum's lessons (each claim as an experiment)",
                       description="Each lesson states one claim of the course, runs the experiment that shows it, "
                                   "prints the numbers and its verdict (the claim holds or does not hold) and can draw its figure.")
    lsub = p.add_subparsers(dest="lesson_command", metavar="ACTION")
    lsub.required = True
    lsub.add_parser("list", help="list the lessons with their claims")
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


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        items = [_fmt(x) for x in v[:12]]
        return "[" + ", ".join(items) + (", ..." if len(v) > 12 else "") + "]"
    return str(v)


def command(a: argparse.Namespace) -> int:
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
    rows = [(k, _fmt(v)) for k, v in result.items() if not k.startswith("_") and k != "verdict"]
    width = max((len(k) for k, _ in rows), default=0)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print(f"  ({seconds:.1f}s)")
    print("\n".join(lessons.format_verdict(result["verdict"])))
    if a.plot:
        lessons.plot(a.name, result, a.plot)
        print(f"wrote {a.plot}")
    return 0
