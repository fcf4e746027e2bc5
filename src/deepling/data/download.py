"""The one network call of the data sets: an https download into memory (checked before anything is written)."""

from __future__ import annotations

import urllib.request

__all__ = ["fetch"]


def fetch(url: str, timeout: float = 60.0) -> bytes:
    """The bytes at ``url``; only https is accepted, so nothing on the way can swap the file."""
    if not url.startswith("https://"):
        raise ValueError(f"download: refusing {url!r}: deepling downloads over https only")
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310  (https checked above)
        return r.read()
