"""``deepling.vision.datasets``: MNIST, FashionMNIST and CIFAR10 as torchvision shapes them.

The readers are ``deepling.data.datasets``' (IDX files, CIFAR's binary batches); these classes give
them torchvision's attributes: ``MNIST.data`` is a uint8 Tensor ``(N, 28, 28)`` and ``.targets`` an
int64 Tensor, ``CIFAR10.data`` a uint8 ndarray ``(N, 32, 32, 3)`` and ``.targets`` a list of ints,
``classes`` and ``class_to_idx`` everywhere. An item is ``(image, target)``; with no transform the
image is a uint8 ndarray in PIL's layout (``(28, 28)``, ``(32, 32, 3)``), which
``transforms.ToTensor`` turns into a float Tensor ``(C, H, W)`` in [0, 1].

Files are found in ``root`` as torchvision lays them out (``root/MNIST/raw/train-images-idx3-ubyte``
raw or ``.gz``; ``root/cifar-10-batches-bin``: deepling reads CIFAR's binary version, never the
pickled one) and also directly in ``root``; ``root=None`` follows ``deepling.data.location``.
``download=True`` writes MNIST to ``root/<Class>/raw`` as torchvision does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from deepling.data import transforms as _t
from deepling.data.datasets import cifar as _cifar
from deepling.data.datasets import mnist as _mnist
from deepling.tensor import Tensor, default_dtype

__all__ = ["MNIST", "FashionMNIST", "CIFAR10"]


def _batched(transform: Any, images: np.ndarray) -> Tensor | None:
    """``transform`` applied to a whole batch of images at once, when it is made of ToTensor/Normalize only."""
    steps = transform.transforms if isinstance(transform, _t.Compose) else [transform]
    if not steps or type(steps[0]) is not _t.ToTensor:
        return None
    if any(type(s) is not _t.Normalize for s in steps[1:]):
        return None
    a = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
    out = a.astype(default_dtype)
    if images.dtype == np.uint8:
        out /= 255.0
    x: Tensor = Tensor._wrap(np.ascontiguousarray(out))
    for s in steps[1:]:
        x = s(x)  # Normalize broadcasts over the leading batch dimension
    return x


class _VisionDataset:
    """torchvision's item and batch behaviour over an ``ImageLabelDataset`` reader."""

    data: Any
    targets: Any
    classes: list[str]
    transform: Callable | None
    target_transform: Callable | None

    def _images(self) -> np.ndarray:
        return self.data.array if isinstance(self.data, Tensor) else self.data

    def _labels(self) -> np.ndarray:
        t = self.targets
        return t.array if isinstance(t, Tensor) else np.asarray(t, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._images())

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self._images()[index].copy(), int(self._labels()[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def _batch_fetcher(self) -> Callable[[np.ndarray], tuple[Tensor, Tensor]] | None:
        """Whole batches for the DataLoader: no transform, or one made only of ToTensor and Normalize."""
        if self.target_transform is not None:
            return None
        images, labels = self._images(), self._labels()
        if self.transform is None:
            return lambda idx: (Tensor._wrap(images[idx]), Tensor._wrap(labels[idx]))
        if _batched(self.transform, images[:1]) is None:
            return None
        return lambda idx: (_batched(self.transform, images[idx]), Tensor._wrap(labels[idx]))

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {'Train' if self.train else 'Test'}"]  # type: ignore[attr-defined]
        if self.transform is not None:
            lines.append(f"    StandardTransform\nTransform: {self.transform!r}")
        return "\n".join(lines)


class MNIST(_VisionDataset, _mnist.MNIST):
    """MNIST (torchvision's ``datasets.MNIST(root, train=True, transform=None, target_transform=None, download=False)``)."""

    classes = _mnist.MNIST.classes

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, train=train, transform=transform, target_transform=target_transform, download=download)
        self.data = Tensor._wrap(self.data)
        self.targets = Tensor._wrap(self.targets)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    def _download_dir(self) -> Path:
        return Path(self.raw_folder)

    # torchvision's older names
    @property
    def train_labels(self) -> Tensor:
        return self.targets

    @property
    def test_labels(self) -> Tensor:
        return self.targets

    @property
    def train_data(self) -> Tensor:
        return self.data

    @property
    def test_data(self) -> Tensor:
        return self.data


class FashionMNIST(MNIST):
    """Fashion-MNIST in MNIST's format, its ten clothing classes."""

    dataset_name = _mnist.FashionMNIST.dataset_name
    mirrors = _mnist.FashionMNIST.mirrors
    resources = _mnist.FashionMNIST.resources
    classes = _mnist.FashionMNIST.classes


class CIFAR10(_VisionDataset, _cifar.CIFAR10):
    """CIFAR-10 (torchvision's ``datasets.CIFAR10``): ``data`` uint8 ndarray (N, 32, 32, 3), ``targets`` a list."""

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        pickled = Path(root) / "cifar-10-batches-py" if root is not None else None
        try:
            super().__init__(root, train=train, transform=transform, target_transform=target_transform,
                             download=download)
        except FileNotFoundError as e:
            if pickled is not None and pickled.is_dir():
                raise FileNotFoundError(
                    f"{e} ({pickled} holds the pickled Python version, which deepling never unpickles: "
                    "use the binary version, cifar-10-binary.tar.gz)") from None
            raise
        self.targets = self.targets.tolist()
