"""Reference models, and ``MODELS``: the registry the CLI reads ``--model`` choices from.

A registry entry maps a name to ``build(in_shape, num_classes, **options) -> Module``; to add a
model to ``deepling train --model NAME``, add one line here.
"""

from typing import Any, Callable

from deepling.models.autoencoder import (  # autoenc
    VAE,
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
    conv_autoencoder,
    dense_autoencoder,
)
from deepling.models.char_rnn import CharRNN
from deepling.models.gpt import GPT
from deepling.models.mlp import MLP
from deepling.models.rbm import RBM  # autoenc


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


LANGUAGE_MODELS: dict[str, Callable[..., Any]] = {
    "char-rnn": _char_rnn("rnn"),
    "char-gru": _char_rnn("gru"),
    "char-lstm": _char_rnn("lstm"),
}

__all__ = ["MLP", "MODELS", "CharRNN", "LANGUAGE_MODELS", "GPT"]
__all__ += ["Autoencoder", "DenoisingAutoencoder", "SparseAutoencoder", "ContractiveAutoencoder", "VAE",  # autoenc
            "dense_autoencoder", "conv_autoencoder", "RBM"]
