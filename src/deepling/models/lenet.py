"""LeNet-5 (LeCun et al., 1998) for 1x28x28 digits: two conv/pool stages, then three fully connected layers.

    (N, 1, 28, 28) -conv 5x5 pad 2-> (N, 6, 28, 28) -pool-> (N, 6, 14, 14)
                   -conv 5x5------> (N, 16, 10, 10) -pool-> (N, 16, 5, 5) -> 400 -> 120 -> 84 -> classes

The convolutions share one small kernel across all positions (weight sharing), so the first layer has
6*1*5*5 + 6 = 156 parameters however large the image.
"""

from __future__ import annotations

from deepling import nn
from deepling.tensor import Tensor

__all__ = ["LeNet5"]


class LeNet5(nn.Module):
    """LeNet-5 with a choice of activation (any name of ``nn.ACTIVATIONS``: 'relu', the original 'tanh', ...) and pooling ('max' or 'avg').

    Input (N, in_channels, 28, 28) (32x32 also works with ``padding=0`` on the first conv, as in the
    paper); output logits (N, num_classes). Modules: ``features`` (convs, activations, pools) and
    ``classifier`` (Flatten and three Linear layers).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, activation: str = "relu", pool: str = "max",
                 padding: int = 2) -> None:
        super().__init__()
        pools = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
        nn.activation_by_name(activation)  # an unknown name fails here, before any layer is built
        if pool not in pools:
            raise ValueError(f"LeNet5: pool must be one of {list(pools)}, got {pool!r}")

        def act() -> nn.Module:
            return nn.activation_by_name(activation)

        pl = pools[pool]
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding), act(), pl(2),
            nn.Conv2d(6, 16, kernel_size=5), act(), pl(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), act(),
            nn.Linear(120, 84), act(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
