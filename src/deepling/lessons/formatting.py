"""How lesson results print: one short string per value (the CLI's table and docs/lessons.md)."""

from __future__ import annotations

from typing import Any

__all__ = ["format_value"]


def format_value(v: Any) -> str:
    """Floats to 6 significant digits; lists and tuples to their first 12 items."""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        items = [format_value(x) for x in v[:12]]
        return "[" + ", ".join(items) + (", ..." if len(v) > 12 else "") + "]"
    return str(v)
