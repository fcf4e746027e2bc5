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
from deepling.models.mlp import MLP
from deepling.models.rbm import RBM  # autoenc


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
__all__ += ["Autoencoder", "DenoisingAutoencoder", "SparseAutoencoder", "ContractiveAutoencoder", "VAE",  # autoenc
            "dense_autoencoder", "conv_autoencoder", "RBM"]
