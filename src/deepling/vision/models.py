"""``deepling.vision.models``: torchvision's model builders over ``deepling.models``.

``resnet18(weights=None, num_classes=10)`` builds the network with torchvision's layout and
``state_dict`` keys. deepling downloads no weights: any ``weights`` other than ``None`` is an error
that says how to load a saved ``state_dict`` instead.
"""

from __future__ import annotations

from typing import Any

from deepling.models.alexnet import AlexNet
from deepling.models.resnet import ResNet
from deepling.models.resnet import resnet18 as _resnet18
from deepling.models.resnet import resnet34 as _resnet34
from deepling.models.resnet import resnet50 as _resnet50

__all__ = ["resnet18", "resnet34", "resnet50", "alexnet", "ResNet", "AlexNet"]


def _no_weights(name: str, weights: Any, kwargs: dict[str, Any]) -> None:
    if kwargs.pop("pretrained", False):
        weights = "pretrained=True"
    if weights is not None:
        raise ValueError(
            f"{name}: deepling has no pretrained weights and downloads none (got weights={weights!r}). Build it "
            f"with weights=None and load a saved state_dict: model.load_state_dict(deepling.load(path))"
        )


def resnet18(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-18 (torchvision's ``resnet18``): ``num_classes`` (default 1000) and ResNet's options."""
    _no_weights("resnet18", weights, kwargs)
    return _resnet18(**kwargs)


def resnet34(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-34 (torchvision's ``resnet34``)."""
    _no_weights("resnet34", weights, kwargs)
    return _resnet34(**kwargs)


def resnet50(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-50 (torchvision's ``resnet50``)."""
    _no_weights("resnet50", weights, kwargs)
    return _resnet50(**kwargs)


def alexnet(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> AlexNet:
    """AlexNet (torchvision's ``alexnet``): ``num_classes`` (default 1000), ``dropout`` (0.5)."""
    _no_weights("alexnet", weights, kwargs)
    return AlexNet(**kwargs)
