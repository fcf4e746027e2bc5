"""``deepling.vision``: torchvision's layout, so ``import deepling.vision as torchvision`` ports a script.

``datasets`` (MNIST, FashionMNIST, CIFAR10 with torchvision's ``data`` / ``targets`` / ``classes``),
``transforms`` (Compose, ToTensor, Normalize, RandomCrop, RandomHorizontalFlip, Resize, ...),
``models`` (resnet18/34/50, alexnet; no pretrained weights), ``utils`` (make_grid, save_image).

Without PIL, an image is a NumPy ``uint8`` array in PIL's layout, ``(H, W)`` or ``(H, W, C)``:
what a data set item holds before its transform, and what ``transforms.ToTensor`` accepts.
"""

from deepling.vision import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
