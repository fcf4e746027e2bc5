"""Reference models, and ``MODELS``: the registry the CLI reads ``--model`` choices from.

A registry entry maps a name to ``build(in_shape, num_classes, **options) -> Module``; to add a
model to ``deepling train --model NAME``, add one line here.
"""

from typing import Any, Callable

from deepling.models.gpt import GPT
from deepling.models.mlp import MLP


def _mlp(in_shape: tuple[int, ...], num_classes: int, hidden: Any = (256, 128), activation: str = "relu",
         dropout: float = 0.0, **_: Any) -> MLP:
    n = 1
    for s in in_shape:
        n *= s
    return MLP(n, hidden, num_classes, activation=activation, dropout=dropout)


MODELS: dict[str, Callable[..., Any]] = {
    "mlp": _mlp,
}

__all__ = ["MLP", "MODELS"]
__all__ += ["GPT"]
