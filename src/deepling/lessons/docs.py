"""Write docs/lessons.md: every lesson run once, its verdict, its numbers and its figure.

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
        if k.startswith("_") or k == "verdict":
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
        "Each lesson states one claim of the course, runs the experiment that decides it and prints its verdict:",
        "the claim, the numbers that decide it, and whether it holds. Numbers below come from",
        "one run of `python -m deepling.lessons.docs` with each lesson's default options (real MNIST from",
        "`../shared/data/mnist` where a lesson uses images and it is present; the tests pin the embedded 8x8",
        "digits). Run one yourself with `deepling lesson run NAME --plot out.png`; `tests/test_lessons*.py` assert",
        "every verdict. Notes on how lessons 22-29 were tuned, and what did not reproduce as first stated, are in",
        "[lessons_22_29.md](lessons_22_29.md).",
        "",
    ]
    header = len(lines)
    verdicts: list[tuple[int, str, bool]] = []
    for i, name in enumerate(lessons.NAMES, 1):
        if name not in lessons.available():
            lines += [f"## {i}. `{name}`", "", "_not available in this install_", ""]
            continue
        t0 = time.perf_counter()
        result = lessons.run(name)
        seconds = time.perf_counter() - t0
        lessons.plot(name, result, str(figs / f"{name}.png"))
        doc = " ".join((lessons.load(name).__doc__ or "").split())
        v = result["verdict"]
        lines += [f"## {i}. `{name}`", "", doc, "", f"`deepling lesson run {name} --plot {name}.png` ({seconds:.1f} s here)", "",
                  f"**Verdict: {'holds' if v['holds'] else 'does not hold'}.** {v['claim']}", "",
                  *[f"- {'holds' if e['holds'] else '**fails**'}: {e['check']}" for e in v["evidence"]], "",
                  "| result | value |", "| --- | --- |", *_rows(result), "", f"![{name}](lessons/{name}.png)", ""]
        verdicts.append((i, name, v["holds"]))
        print(f"{name}: {seconds:.1f}s, {'holds' if v['holds'] else 'does not hold'}", flush=True)
    held = sum(h for _, _, h in verdicts)
    table = [f"**{held} of {len(verdicts)} claims hold** on this run.", "", "| lesson | verdict |", "| --- | --- |",
             *[f"| {i}. [`{n}`](#{i}-{n}) | {'holds' if h else '**does not hold**'} |" for i, n, h in verdicts], ""]
    lines[header:header] = table
    (out / "lessons.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
