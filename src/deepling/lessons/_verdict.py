"""A lesson's verdict: its claim, the numbers that decide it, and whether it holds.

Every lesson's ``run`` returns ``result["verdict"] = verdict(__doc__, [(evidence, ok), ...])``: one
line of evidence per check, each line naming the measured numbers and the condition they must meet.
The claim holds when every check does.
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["claim_of", "verdict", "format_verdict"]


def claim_of(doc: str | None) -> str:
    """The claim: the first sentence of a lesson's docstring (its first paragraph up to '. ')."""
    para = " ".join((doc or "").strip().split("\n\n")[0].split())
    end = para.find(". ")
    return para if end < 0 else para[: end + 1]


def verdict(doc_or_claim: str | None, checks: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """``{"claim", "evidence": [{"check", "holds"}, ...], "holds"}``; the claim is the docstring's first sentence."""
    if not checks:
        raise ValueError("verdict: a claim needs at least one check that decides it")
    evidence = [{"check": str(text), "holds": bool(ok)} for text, ok in checks]
    return {"claim": claim_of(doc_or_claim), "evidence": evidence, "holds": all(e["holds"] for e in evidence)}


def format_verdict(v: dict[str, Any]) -> list[str]:
    """Printable lines: the verdict word, the claim, and one marked line per check."""
    lines = [f"verdict: {'holds' if v['holds'] else 'does not hold'}", f"  claim: {v['claim']}"]
    for e in v["evidence"]:
        lines.append(f"  [{'ok' if e['holds'] else 'FAILS'}] {e['check']}")
    return lines
