"""Data sets bundled, downloadable and synthetic."""

from deepling.data.datasets import synthetic
from deepling.data.datasets.cifar import CIFAR10, CIFARError
from deepling.data.datasets.digits import Digits
from deepling.data.datasets.idx import IDXError, read_idx, write_idx
from deepling.data.datasets.mnist import MNIST, FashionMNIST
from deepling.data.datasets.synthetic import blobs, circles, moons, sin, spirals, xor
from deepling.data.datasets.text import CharCorpus, CharWindows
from deepling.data.location import default_data_dir

__all__ = ["CIFAR10", "CIFARError", "MNIST", "FashionMNIST", "Digits", "IDXError", "read_idx", "write_idx", "default_data_dir", "synthetic",
           "xor", "spirals", "moons", "circles", "blobs", "sin"]
__all__ += ["CharCorpus", "CharWindows"]
