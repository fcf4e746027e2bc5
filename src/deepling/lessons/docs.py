"""Write docs/lessons.md: every lesson run once, its numbers and its figure.

    python -m deepling.lessons.docs [DOCS_DIR]      (default: docs/ in the current directory)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from deepling import lessons
from deepling.lessons.formatting import format_value


def _rows(result: dict[str, Any]) -> list[str]:
    rows = []
    for k, v in result.items():
        if k.startswith("_"):
            continue
        rows.append(f"| `{k}` | {format_value(v)} |")
    return rows


def main(docs: str = "docs") -> int:
    out = Path(docs)
    figs = out / "lessons"
    figs.mkdir(parents=True, exist_ok=True)
    lines = [
        "# The lessons",
        "",
        "Each lesson states one claim of the course and runs the experiment that shows it. Numbers below come from",
        "one run of `python -m deepling.lessons.docs` with each lesson's default options (real MNIST from",
        "`../shared/data/mnist` where a lesson uses images and it is present; the tests pin the embedded 8x8",
        "digits). Run one yourself with `deepling lesson run NAME --plot out.png`; `tests/test_lessons*.py` assert",
        "every claim. Notes on how lessons 22-29 were tuned, and what did not reproduce as first stated, are in",
        "[lessons_22_29.md](lessons_22_29.md).",
        "",
    ]
    for i, name in enumerate(lessons.NAMES, 1):
        if name not in lessons.available():
            lines += [f"## {i}. `{name}`", "", "_not available in this install_", ""]
            continue
        t0 = time.perf_counter()
        result = lessons.run(name)
        seconds = time.perf_counter() - t0
        lessons.plot(name, result, str(figs / f"{name}.png"))
        doc = " ".join((lessons.load(name).__doc__ or "").split())
        lines += [f"## {i}. `{name}`", "", doc, "", f"`deepling lesson run {name} --plot {name}.png` ({seconds:.1f} s here)", "",
                  "| result | value |", "| --- | --- |", *_rows(result), "", f"![{name}](lessons/{name}.png)", ""]
        print(f"{name}: {seconds:.1f}s", flush=True)
    (out / "lessons.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
