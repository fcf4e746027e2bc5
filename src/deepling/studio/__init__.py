"""deepling studio: a local web page where the real engine trains while you watch.

``deepling studio`` (or ``python -m deepling studio``) serves four views on 127.0.0.1: the
playground (TensorFlow Playground's experiment on deepling), a digit pad (a CNN classifies what you
draw), the lessons (each claim of the course, run from a form) and the autograd graph (stepped
backward node by node). Needs the ``studio`` extra (Starlette, uvicorn); importing this package
does not (the server loads them).
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """The studio as an ASGI app: see ``deepling.studio.server.create_app``."""
    from deepling.studio.server import create_app as _create

    return _create(*args, **kwargs)


def serve(*args: Any, **kwargs: Any) -> None:
    """Serve the studio until Ctrl-C: see ``deepling.studio.server.serve``."""
    from deepling.studio.server import serve as _serve

    _serve(*args, **kwargs)
