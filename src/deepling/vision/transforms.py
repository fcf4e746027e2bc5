"""``deepling.vision.transforms``: torchvision's transform names over ``deepling.data.transforms``."""

from deepling.data.transforms import (
    CenterCrop,
    Compose,
    Flatten,
    InterpolationMode,
    Lambda,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    Resize,
    ToTensor,
)

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "CenterCrop", "RandomHorizontalFlip", "Resize",
           "Lambda", "Flatten", "InterpolationMode"]
