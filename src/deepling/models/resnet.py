"""Residual networks (He et al., 2015): blocks learn a residual F(x) and output relu(F(x) + x).

The identity path lets gradients pass unchanged through deep stacks. Module names follow
torchvision (``conv1``, ``bn1``, ``layer1``..``layer4``, ``fc``, and ``downsample`` = 1x1 conv + BN
where a block changes shape), so torchvision state_dicts load. ``resnet20`` is the CIFAR-10 network
of the paper's section 4.2 (three stages of 16/32/64 channels on 32x32 inputs), with projection
(1x1 conv) shortcuts where the shape changes.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from deepling import nn
from deepling.autograd import no_grad
from deepling.tensor import Tensor

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "CifarResNet", "resnet18", "resnet34", "resnet50", "resnet20",
           "resnet32", "resnet44", "resnet56"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution that keeps the size (padding = dilation), no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution: mixes channels only."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers: out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). expansion = 1."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise ValueError("BasicBlock: dilation > 1 is not supported")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carries the stride, "ResNet v1.5"), 1x1 expand by 4, plus the shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1,
                 norm_layer: Callable[..., nn.Module] | None = None) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class _ResNetBase(nn.Module):
    """Stage building and He initialization shared by the ImageNet and CIFAR layouts."""

    def _setup(self, norm_layer: Callable[..., nn.Module] | None, groups: int, width_per_group: int,
               inplanes: int) -> None:
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes, self.dilation = inplanes, 1
        self.groups, self.base_width = groups, width_per_group

    def _make_layer(self, block: type, planes: int, blocks: int, stride: int = 1, dilate: bool = False) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            # The shortcut must match the block's output shape: a strided 1x1 conv + BN (projection).
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation,
                        norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def _init_weights(self, zero_init_residual: bool) -> None:
        """Convs: He normal, std = sqrt(2 / fan_out); norms: weight 1, bias 0 (torchvision's choice)."""
        with no_grad():
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    fan_out = m.weight.shape[0] * m.weight.shape[2] * m.weight.shape[3]
                    m.weight.normal_(0.0, math.sqrt(2.0 / fan_out))
                elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                    m.weight.fill_(1.0)
                    m.bias.fill_(0.0)
            if zero_init_residual:
                # Each residual branch then starts at zero and every block is the identity.
                for m in self.modules():
                    if isinstance(m, Bottleneck):
                        m.bn3.weight.fill_(0.0)
                    elif isinstance(m, BasicBlock):
                        m.bn2.weight.fill_(0.0)


class ResNet(_ResNetBase):
    """ImageNet ResNet: 7x7/2 conv, 3x3/2 max-pool, four stages (64, 128, 256, 512 planes), global
    average pool, ``fc``. Input (N, 3, H, W) (224x224 in the paper) -> logits (N, num_classes).
    """

    def __init__(self, block: type, layers: Sequence[int], num_classes: int = 1000, zero_init_residual: bool = False,
                 groups: int = 1, width_per_group: int = 64, replace_stride_with_dilation: Sequence[bool] | None = None,
                 norm_layer: Callable[..., nn.Module] | None = None, in_channels: int = 3) -> None:
        super().__init__()
        self._setup(norm_layer, groups, width_per_group, 64)
        dilate = list(replace_stride_with_dilation or [False, False, False])
        if len(dilate) != 3:
            raise ValueError(f"ResNet: replace_stride_with_dilation should be None or 3 booleans, got {dilate}")
        self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=dilate[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=dilate[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=dilate[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        self._init_weights(zero_init_residual)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


class CifarResNet(_ResNetBase):
    """CIFAR ResNet (He et al. 2015, sec. 4.2): 3x3 conv to 16 channels, three stages of 16/32/64
    planes (the last two stride 2), global average pool, ``fc``. Depth = 6 * blocks + 2.
    Input (N, 3, 32, 32) -> logits (N, num_classes).
    """

    def __init__(self, block: type, layers: Sequence[int], num_classes: int = 10, zero_init_residual: bool = False,
                 norm_layer: Callable[..., nn.Module] | None = None, in_channels: int = 3) -> None:
        super().__init__()
        self._setup(norm_layer, 1, 64, 16)
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = self._norm_layer(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, 16, layers[0])
        self.layer2 = self._make_layer(block, 32, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 64, layers[2], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64 * block.expansion, num_classes)
        self._init_weights(zero_init_residual)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(**kwargs: Any) -> ResNet:
    """ResNet-18: BasicBlock x [2, 2, 2, 2] (11.7M parameters)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)


def resnet34(**kwargs: Any) -> ResNet:
    """ResNet-34: BasicBlock x [3, 4, 6, 3] (21.8M parameters)."""
    return ResNet(BasicBlock, [3, 4, 6, 3], **kwargs)


def resnet50(**kwargs: Any) -> ResNet:
    """ResNet-50: Bottleneck x [3, 4, 6, 3] (25.6M parameters)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], **kwargs)


def resnet20(**kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-20: BasicBlock x [3, 3, 3] (0.27M parameters)."""
    return CifarResNet(BasicBlock, [3, 3, 3], **kwargs)


def resnet32(**kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-32: BasicBlock x [5, 5, 5]."""
    return CifarResNet(BasicBlock, [5, 5, 5], **kwargs)


def resnet44(**kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-44: BasicBlock x [7, 7, 7]."""
    return CifarResNet(BasicBlock, [7, 7, 7], **kwargs)


def resnet56(**kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-56: BasicBlock x [9, 9, 9]."""
    return CifarResNet(BasicBlock, [9, 9, 9], **kwargs)
