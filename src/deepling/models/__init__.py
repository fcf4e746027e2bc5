"""Reference models, and ``MODELS``: the registry the CLI reads ``--model`` choices from.

A registry entry maps a name to ``build(in_shape, num_classes, **options) -> Module``; to add a
model to ``deepling train --model NAME``, add one line here.
"""

from typing import Any, Callable

from deepling.models.char_rnn import CharRNN
from deepling.models.gpt import GPT
from deepling.models.mlp import MLP


def _mlp(
    in_shape: tuple[int, ...],
    num_classes: int,
    hidden: Any = (256, 128),
    activation: str = "relu",
    dropout: float = 0.0,
    **_: Any,
) -> MLP:
    n = 1
    for s in in_shape:
        n *= s
    return MLP(n, hidden, num_classes, activation=activation, dropout=dropout)


MODELS: dict[str, Callable[..., Any]] = {
    "mlp": _mlp,
}


def _char_rnn(cell: str) -> Callable[..., Any]:
    def build(
        vocab_size: int,
        context: int,
        embed: int = 64,
        hidden: int = 256,
        num_layers: int = 1,
        dropout: float = 0.0,
        **_: Any,
    ) -> CharRNN:
        return CharRNN(vocab_size, embed, hidden, num_layers, cell=cell, dropout=dropout)

    return build


def _gpt(vocab_size: int, context: int, embed: int = 128, num_layers: int = 4, dropout: float = 0.0, heads: int = 4,
         **_: Any) -> GPT:
    return GPT(vocab_size, context, d_model=embed, n_heads=heads, n_layers=num_layers, dropout=dropout)


LANGUAGE_MODELS: dict[str, Callable[..., Any]] = {
    "char-rnn": _char_rnn("rnn"),
    "char-gru": _char_rnn("gru"),
    "char-lstm": _char_rnn("lstm"),
    "gpt": _gpt,
}

__all__ = ["MLP", "MODELS", "CharRNN", "LANGUAGE_MODELS", "GPT"]
