"""Reference models, and ``MODELS``: the registry the CLI reads ``--model`` choices from.

A registry entry maps a name to ``build(in_shape, num_classes, **options) -> Module``; to add a
model to ``deepling train --model NAME``, add one line here.
"""

from typing import Any, Callable

from deepling.models.alexnet import AlexNet, alexnet
from deepling.models.autoencoder import (
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
from deepling.models.lenet import LeNet5
from deepling.models.mlp import MLP
from deepling.models.rbm import RBM
from deepling.models.resnet import (
    BasicBlock,
    Bottleneck,
    CifarResNet,
    ResNet,
    resnet18,
    resnet20,
    resnet32,
    resnet34,
    resnet44,
    resnet50,
    resnet56,
)


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


def _lenet(in_shape: tuple[int, ...], num_classes: int, **_: Any) -> LeNet5:
    if tuple(in_shape[1:]) not in ((28, 28), (32, 32)):
        raise ValueError(f"lenet: expects 28x28 or 32x32 images, got input shape {tuple(in_shape)}")
    return LeNet5(num_classes, in_channels=in_shape[0], padding=2 if in_shape[1] == 28 else 0)


def _alexnet(in_shape: tuple[int, ...], num_classes: int, dropout: float = 0.5, **_: Any) -> AlexNet:
    return AlexNet(num_classes, dropout=dropout, small=min(in_shape[1:]) < 64, in_channels=in_shape[0])


def _resnet20(in_shape: tuple[int, ...], num_classes: int, **_: Any) -> CifarResNet:
    return resnet20(num_classes=num_classes, in_channels=in_shape[0])


MODELS: dict[str, Callable[..., Any]] = {
    "mlp": _mlp,
    "lenet": _lenet,
    "alexnet": _alexnet,
    "resnet20": _resnet20,
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


def _gpt(
    vocab_size: int, context: int, embed: int = 128, num_layers: int = 4, dropout: float = 0.0, heads: int = 4, **_: Any
) -> GPT:
    return GPT(vocab_size, context, d_model=embed, n_heads=heads, n_layers=num_layers, dropout=dropout)


LANGUAGE_MODELS: dict[str, Callable[..., Any]] = {
    "char-rnn": _char_rnn("rnn"),
    "char-gru": _char_rnn("gru"),
    "char-lstm": _char_rnn("lstm"),
    "gpt": _gpt,
}

__all__ = [
    "MLP",
    "MODELS",
    "CharRNN",
    "LANGUAGE_MODELS",
    "GPT",
    "LeNet5",
    "AlexNet",
    "alexnet",
    "ResNet",
    "CifarResNet",
    "BasicBlock",
    "Bottleneck",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "Autoencoder",
    "DenoisingAutoencoder",
    "SparseAutoencoder",
    "ContractiveAutoencoder",
    "VAE",
    "dense_autoencoder",
    "conv_autoencoder",
    "RBM",
]
