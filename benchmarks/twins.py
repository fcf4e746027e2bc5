"""PyTorch twins of the suite's deepling models, with the same parameter names (state_dicts transfer).

Imported only when a workload builds its PyTorch side, so that a deepling-only process (the peak-RSS
child of ``benchmarks.suite``) never loads torch. The GPT and char-LSTM twins live next to their own
benchmarks (``benchmarks.gpt``, ``benchmarks.lstm``) and are re-exported here.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.gpt import TorchGPT
from benchmarks.lstm import TorchCharLSTM

__all__ = ["mlp", "autoencoder", "dense_autoencoder", "conv_autoencoder", "lenet", "cnn_bn", "resnet20", "resnet18",
           "alexnet_small", "TorchGPT", "TorchCharLSTM"]


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def autoencoder(sizes: list[int]) -> nn.Sequential:
    """ReLU between the layers, sigmoid on the reconstruction (same layout as the deepling build)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        layers.append(nn.ReLU() if i < len(sizes) - 2 else nn.Sigmoid())
    return nn.Sequential(*layers)


class _LeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                        nn.Linear(84, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def lenet() -> nn.Module:
    return _LeNet()


def cnn_bn() -> nn.Sequential:
    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

    return nn.Sequential(*block(3, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 64),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4096, 10))


class _Basic(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class _CifarResNet(nn.Module):
    def __init__(self, blocks: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        stages, c_in = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            layers = [_Basic(c_in, planes, stride)] + [_Basic(planes, planes, 1) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*layers))
            c_in = planes
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def resnet20() -> nn.Module:
    return _CifarResNet(3)


class _ImageNetResNet18(nn.Module):
    """torchvision's resnet18 layout (7x7/2 stem, 3x3/2 max-pool, four stages of two BasicBlocks)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c_in = 64
        for i, (planes, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2))):
            setattr(self, f"layer{i + 1}", nn.Sequential(_Basic(c_in, planes, stride), _Basic(planes, planes, 1)))
            c_in = planes
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes: int = 1000) -> nn.Module:
    return _ImageNetResNet18(num_classes)


class _AlexNetSmall(nn.Module):
    """``deepling.models.AlexNet(small=True)``: torchvision's layer indices, sized for 32x32 inputs."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2, 1), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2, 2), nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(1024, 1024), nn.ReLU(), nn.Dropout(),
                                        nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def alexnet_small(num_classes: int = 10) -> nn.Module:
    return _AlexNetSmall(num_classes)


class _EncoderDecoder(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def dense_autoencoder(sizes: list[int]) -> nn.Module:
    """``deepling.models.dense_autoencoder(sizes, out_activation='sigmoid')``: ReLU inside, sigmoid output."""
    enc: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        enc += [nn.Linear(a, b), nn.ReLU()]
    back = sizes[::-1]
    dec: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
        dec += [nn.Linear(a, b), nn.Sigmoid() if i == len(back) - 2 else nn.ReLU()]
    return _EncoderDecoder(nn.Sequential(*enc), nn.Sequential(*dec))


def conv_autoencoder(channels: tuple[int, ...] = (16, 32), in_channels: int = 1) -> nn.Module:
    """``deepling.models.conv_autoencoder``: stride-2 convs down, transposed convs up, sigmoid output."""
    chans = [in_channels, *channels]
    enc: list[nn.Module] = []
    for a, b in zip(chans[:-1], chans[1:]):
        enc += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.ReLU()]
    back = chans[::-1]
    dec: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
        dec += [nn.ConvTranspose2d(a, b, 3, stride=2, padding=1, output_padding=1),
                nn.Sigmoid() if i == len(back) - 2 else nn.ReLU()]
    return _EncoderDecoder(nn.Sequential(*enc), nn.Sequential(*dec))
