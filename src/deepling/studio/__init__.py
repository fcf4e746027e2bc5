"""deepling studio: a local web page where the real engine trains while you watch.

``deepling studio`` (or ``python -m deepling studio``) serves four views on 127.0.0.1: the
playground (TensorFlow Playground's experiment on deepling), a digit pad (a CNN classifies what you
draw), the lessons (each claim of the course, run from a form) and the autograd graph (stepped
backward node by node). Needs the ``studio`` extra (Starlette, uvicorn).
"""

from __future__ import annotations

__all__ = ["create_app", "serve"]


def create_app(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - see deepling.studio.server.create_app
    from deepling.studio.server import create_app as _create

    return _create(*args, **kwargs)


def serve(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - see deepling.studio.server.serve
    from deepling.studio.server import serve as _serve

    return _serve(*args, **kwargs)
