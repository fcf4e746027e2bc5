"""AlexNet (Krizhevsky, Sutskever, Hinton 2012) in torchvision's single-tower layout.

Five convolutions (ReLU; max-pooling after the 1st, 2nd and 5th) extract features; an adaptive
average pool fixes the spatial size; three fully connected layers with dropout classify.
Module names and indices match torchvision (``features.0`` ... ``features.10``, ``classifier.1``,
``classifier.4``, ``classifier.6``), so its state_dicts load.
"""

from __future__ import annotations

from deepling import nn
from deepling.tensor import Tensor

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """AlexNet. Input (N, 3, 224, 224) -> logits (N, num_classes).

    ``small=True`` sizes it for (N, 3, 32, 32) CIFAR images with the same layer layout: a 3x3 stride-2
    first conv, 3x3 convs, 2x2 max-pools, a 2x2 adaptive pool and 1024-unit hidden layers
    (about 4.4M parameters instead of 61M). ``in_channels`` (default 3) allows grayscale input.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, small: bool = False, in_channels: int = 3) -> None:
        super().__init__()
        if small:
            k1, s1, p1, k2, p2, pool, grid, hidden = 3, 2, 1, 3, 1, (2, 2), 2, 1024
        else:
            k1, s1, p1, k2, p2, pool, grid, hidden = 11, 4, 2, 5, 2, (3, 2), 6, 4096
        self.small = small
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=k1, stride=s1, padding=p1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=pool[0], stride=pool[1]),
            nn.Conv2d(64, 192, kernel_size=k2, padding=p2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=pool[0], stride=pool[1]),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=pool[0], stride=pool[1]),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((grid, grid))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * grid * grid, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(num_classes: int = 1000, **kwargs: object) -> AlexNet:
    """AlexNet with torchvision's layout (no pretrained weights: load a state_dict to use them)."""
    return AlexNet(num_classes=num_classes, **kwargs)  # type: ignore[arg-type]
