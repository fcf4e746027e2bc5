"""The library's registries and the one data-location rule: every caller reads the same table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deepling as dl
from deepling import nn, optim
from deepling.data import DATASETS, dataset_dir, location
from deepling.models import MLP, LeNet5
from deepling.models.autoencoder import dense_autoencoder
from deepling.pretrain import StackedAutoencoder


# ---------------------------------------------------------------------------------------- activations
def test_activation_registry_builds_modules_case_insensitively():
    assert {"relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu", "silu", "identity"} <= set(nn.ACTIVATIONS)
    for name, cls in nn.ACTIVATIONS.items():
        m = nn.activation_by_name(name.upper())
        assert type(m) is cls and m is not nn.activation_by_name(name)  # a new module each time


@pytest.mark.parametrize("build", [
    lambda a: nn.activation_by_name(a),
    lambda a: MLP(4, [3], 2, activation=a),
    lambda a: dense_autoencoder([4, 3, 2], activation=a),
    lambda a: LeNet5(activation=a),
    lambda a: nn.TransformerEncoderLayer(8, 2, dim_feedforward=8, activation=a),
    lambda a: StackedAutoencoder([4, 3], activation=a),
], ids=["registry", "mlp", "autoencoder", "lenet", "transformer", "stacked"])
def test_every_caller_accepts_the_same_names_and_raises_the_same_error(build):
    for name in nn.ACTIVATIONS:
        build(name)
    with pytest.raises(nn.UnknownActivationError, match=r"unknown activation 'swish': choose from elu, gelu"):
        build("swish")


def test_unknown_activation_is_a_value_error_and_pytorchs_runtime_error():
    with pytest.raises(ValueError):
        MLP(2, [2], 2, activation="nope")
    with pytest.raises(RuntimeError):  # what torch.nn.TransformerEncoderLayer raises
        nn.TransformerEncoderLayer(8, 2, activation="nope")


# ---------------------------------------------------------------------------------------- optimizers
def test_make_optimizer_passes_each_optimizer_its_options():
    w = nn.Parameter(dl.ones(3))
    sgd = optim.make_optimizer("sgd", [w], lr=0.1, momentum=0.5, weight_decay=0.01)
    assert isinstance(sgd, optim.SGD) and sgd.param_groups[0]["momentum"] == 0.5
    adam = optim.make_optimizer("adam", [w], lr=0.1, momentum=0.5)  # Adam has no momentum option
    assert isinstance(adam, optim.Adam) and adam.param_groups[0]["lr"] == 0.1
    assert set(optim.OPTIMIZERS) == {"sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam",
                                   "radam"}
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        optim.make_optimizer("lbfgs", [w], lr=0.1)


# ---------------------------------------------------------------------------------------- data location
@pytest.fixture
def no_shared(monkeypatch, tmp_path):
    """A machine without ../shared/data and with its home (the cache) in tmp_path."""
    monkeypatch.delenv(location.DATA_ENV, raising=False)
    monkeypatch.setattr(location, "shared_data_dirs", lambda: [])
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    return tmp_path


def test_without_anything_data_goes_to_the_cache(no_shared):
    assert dataset_dir("mnist") == no_shared / "home" / ".cache" / "deepling" / "mnist"
    assert dataset_dir("cifar10") == no_shared / "home" / ".cache" / "deepling" / "cifar10"
    assert dl.data.datasets.default_data_dir() == no_shared / "home" / ".cache" / "deepling"


def test_the_environment_variable_wins_and_is_the_only_place(no_shared, monkeypatch):
    shared = no_shared / "shared" / "data"
    (shared / "mnist").mkdir(parents=True)
    monkeypatch.setattr(location, "shared_data_dirs", lambda: [shared])
    assert dataset_dir("mnist") == shared / "mnist"
    monkeypatch.setenv(location.DATA_ENV, str(no_shared / "mine"))
    assert dataset_dir("mnist") == no_shared / "mine" / "mnist"  # even though the shared copy exists
    (no_shared / "mine" / "cifar10-subset").mkdir(parents=True)
    assert dataset_dir("cifar10") == no_shared / "mine" / "cifar10-subset"


def test_shared_data_is_found_beside_the_working_directory(no_shared, monkeypatch):
    monkeypatch.undo()  # the real shared_data_dirs, with the working directory in tmp_path
    monkeypatch.delenv(location.DATA_ENV, raising=False)
    (no_shared / "shared" / "data" / "fashion-mnist").mkdir(parents=True)
    (no_shared / "work").mkdir()
    monkeypatch.chdir(no_shared / "work")
    assert location.shared_data_dirs()[0] == no_shared / "shared" / "data"
    assert dataset_dir("fashion-mnist") == no_shared / "shared" / "data" / "fashion-mnist"


def test_mnist_without_root_reads_the_located_directory(no_shared, monkeypatch):
    from deepling.data.datasets import MNIST, idx

    monkeypatch.setenv(location.DATA_ENV, str(no_shared / "d"))
    root = no_shared / "d" / "mnist"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    idx.write_idx(root / "t10k-images-idx3-ubyte", rng.integers(0, 256, (5, 28, 28), dtype=np.uint8))
    idx.write_idx(root / "t10k-labels-idx1-ubyte", np.arange(5, dtype=np.uint8))
    ds = MNIST(train=False)
    assert ds.root == root and len(ds) == 5
    X, y, classes = DATASETS["mnist"](None, False)
    assert X.shape == (5, 1, 28, 28) and X.dtype == np.float32 and X.max() <= 1 and list(y) == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------------------------------- one split everywhere
def test_lesson_images_come_from_the_registered_splits():
    from deepling.data.datasets import Digits
    from deepling.lessons.data import images

    data = images(50, 40, "digits", seed=3)
    train, test = Digits(train=True), Digits(train=False)
    assert data["source"] == "digits" and data["side"] == 8
    assert data["x_train"].shape == (50, 64) and data["x_test"].shape == (40, 64)

    def rows_in(x, pool):
        return all((np.abs(pool - r).sum(1) == 0).any() for r in x)

    assert rows_in(data["x_train"], train.data.reshape(len(train), -1))
    assert rows_in(data["x_test"], test.data.reshape(len(test), -1))
    everything = images(10_000, 10_000, "digits")  # more than a split holds: all of it
    assert len(everything["y_train"]) == len(train) and len(everything["y_test"]) == len(test)
    with pytest.raises(ValueError, match="unknown image source"):
        images(1, 1, "imagenet")
