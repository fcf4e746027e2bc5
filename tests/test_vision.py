"""deepling.vision: torchvision's data sets, transforms, models and image utilities."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct

import numpy as np
import pytest
import torch

import deepling as dl
import deepling.vision as torchvision
from deepling.data import DataLoader
from deepling.data.datasets import mnist as mnist_module
from deepling.data.datasets.idx import write_idx
from deepling.vision import transforms

PIL = pytest.importorskip("PIL.Image")  # Pillow comes with matplotlib (the test extra): it reads our PNGs

MNIST_CLASSES = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
                 "8 - eight", "9 - nine"]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _mnist_files(folder, n_train=12, n_test=4, seed=0):
    """Tiny IDX files in torchvision's layout; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
        out[prefix] = (images, labels)
    return out


def test_mnist_has_torchvisions_attributes(tmp_path):
    arrays = _mnist_files(tmp_path / "MNIST" / "raw")
    ds = torchvision.datasets.MNIST(str(tmp_path), train=True)
    assert isinstance(ds.data, dl.Tensor) and ds.data.dtype == np.uint8 and ds.data.shape == (12, 28, 28)
    assert isinstance(ds.targets, dl.Tensor) and ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.data.array, arrays["train"][0])
    np.testing.assert_array_equal(ds.targets.array, arrays["train"][1])
    assert ds.classes == MNIST_CLASSES and ds.class_to_idx["3 - three"] == 3 and len(ds) == 12
    assert ds.train_labels is ds.targets and ds.raw_folder.endswith("MNIST/raw")
    img, target = ds[5]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape == (28, 28)
    assert isinstance(target, int) and target == arrays["train"][1][5]
    test = torchvision.datasets.MNIST(tmp_path, train=False)
    assert len(test) == 4 and "Split: Test" in repr(test)
    fashion = _mnist_files(tmp_path / "FashionMNIST" / "raw", seed=1)
    fm = torchvision.datasets.FashionMNIST(tmp_path)
    np.testing.assert_array_equal(fm.data.array, fashion["train"][0])
    assert fm.classes[0] == "T-shirt/top"


def test_mnist_with_transforms_and_the_batched_path(tmp_path):
    arrays = _mnist_files(tmp_path / "MNIST" / "raw")
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = torchvision.datasets.MNIST(tmp_path, transform=tf, target_transform=None)
    x, y = ds[0]
    assert isinstance(x, dl.Tensor) and x.shape == (1, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x.array[0], (arrays["train"][0][0] / 255.0 - 0.1307) / 0.3081, rtol=1e-5, atol=1e-6)
    (bx, by), = [next(iter(DataLoader(ds, batch_size=5)))]
    items = [ds[i] for i in range(5)]
    np.testing.assert_allclose(bx.array, np.stack([it[0].array for it in items]), rtol=1e-6)
    assert by.array.tolist() == [it[1] for it in items] and bx.shape == (5, 1, 28, 28)
    # a transform outside ToTensor/Normalize: item by item, same batches
    lam = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda t: t * 2)])
    ds2 = torchvision.datasets.MNIST(tmp_path, transform=lam, target_transform=lambda t: t + 100)
    bx2, by2 = next(iter(DataLoader(ds2, batch_size=3)))
    np.testing.assert_allclose(bx2.array, np.stack([ds2[i][0].array for i in range(3)]))
    assert by2.array.tolist() == [int(v) + 100 for v in arrays["train"][1][:3]]


def test_mnist_download_goes_to_root_mnist_raw(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    files, resources = {}, {}
    for name, a in {"train-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
                    "train-labels-idx1-ubyte": rng.integers(0, 10, 3).astype(np.uint8)}.items():
        raw = struct.pack(">HBB", 0, 8, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
        files[name + ".gz"] = gzip.compress(raw)
        resources[name] = (hashlib.md5(raw).hexdigest(), "")
    monkeypatch.setattr(torchvision.datasets.MNIST, "resources", resources)
    monkeypatch.setattr(mnist_module, "_fetch", lambda url, timeout=30.0: files[url.rsplit("/", 1)[1]])
    ds = torchvision.datasets.MNIST(tmp_path, download=True)
    assert len(ds) == 3 and (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()


def test_mnist_missing_files_say_where(tmp_path):
    with pytest.raises(FileNotFoundError, match="MNIST: missing"):
        torchvision.datasets.MNIST(tmp_path)


def _cifar_files(folder, n=6, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    records = np.concatenate([labels[:, None], images.transpose(0, 3, 1, 2).reshape(n, -1)], axis=1)
    (folder / "test_batch.bin").write_bytes(records.astype(np.uint8).tobytes())
    return images, labels


def test_cifar10_has_torchvisions_attributes(tmp_path):
    images, labels = _cifar_files(tmp_path / "cifar-10-batches-bin")
    ds = torchvision.datasets.CIFAR10(root=tmp_path, train=False)
    assert isinstance(ds.data, np.ndarray) and ds.data.shape == (6, 32, 32, 3) and ds.data.dtype == np.uint8
    assert isinstance(ds.targets, list) and ds.targets == labels.tolist()
    np.testing.assert_array_equal(ds.data, images)
    assert ds.classes == CIFAR_CLASSES and ds.class_to_idx["cat"] == 3
    img, target = ds[2]
    assert isinstance(img, np.ndarray) and img.shape == (32, 32, 3) and target == labels[2]
    tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    aug = torchvision.datasets.CIFAR10(tmp_path, train=False, transform=tf)
    x, _ = aug[0]
    assert x.shape == (3, 32, 32)
    bx, by = next(iter(DataLoader(aug, batch_size=4, shuffle=True)))
    assert bx.shape == (4, 3, 32, 32) and by.dtype == np.int64


def test_cifar10_pickled_folder_is_explained(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(FileNotFoundError, match="never unpickles"):
        torchvision.datasets.CIFAR10(tmp_path)


# ---------------------------------------------------------------------------------------------- transforms
@pytest.mark.parametrize("size,out", [((8, 10), (4, 5)), ((8, 10), (16, 13)), ((7, 9), (3, 11)), ((32, 32), (7, 9)),
                                      ((5, 6), (5, 6))])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_matches_torch_interpolate(size, out, antialias):
    # (torch 2.13's antialiased path is wrong for an output dimension of 1, so sizes here are >= 2)
    rng = np.random.default_rng(0)
    x = rng.random((3,) + size).astype(np.float32)
    ours = transforms.Resize(out, antialias=antialias)(dl.tensor(x))
    ref = torch.nn.functional.interpolate(torch.tensor(x)[None], size=out, mode="bilinear", align_corners=False,
                                          antialias=antialias)[0]
    assert isinstance(ours, dl.Tensor) and ours.shape == (3,) + out
    np.testing.assert_allclose(ours.array, ref.numpy(), rtol=1e-5, atol=2e-6)
    near = transforms.Resize(out, interpolation=transforms.InterpolationMode.NEAREST)(dl.tensor(x))
    np.testing.assert_array_equal(near.array, torch.nn.functional.interpolate(torch.tensor(x)[None], size=out)[0])


def test_resize_size_rules_and_image_kinds():
    img = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)  # PIL layout (H, W, C)
    small = transforms.Resize(10)(img)
    assert isinstance(small, np.ndarray) and small.shape == (10, 15, 3) and small.dtype == np.uint8
    ref = torch.nn.functional.interpolate(torch.tensor(img.transpose(2, 0, 1).astype(np.float32))[None], size=(10, 15),
                                          mode="bilinear", antialias=True)[0].numpy()
    assert np.abs(small.transpose(2, 0, 1).astype(np.float64) - ref).max() <= 0.5 + 1e-3  # rounded to uint8
    assert transforms.Resize(10, max_size=12)(img).shape == (8, 12, 3)
    assert transforms.Resize([10])(dl.zeros(1, 30, 20)).shape == (1, 15, 10)
    with pytest.raises(ValueError, match="not implemented"):
        transforms.Resize(4, interpolation=transforms.InterpolationMode.BICUBIC)
    with pytest.raises(ValueError, match="max_size"):
        transforms.Resize(10, max_size=10)(img)


def test_crops_and_flip_keep_the_image_kind():
    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    c = transforms.CenterCrop(2)(img)
    assert isinstance(c, np.ndarray) and c.shape == (2, 2, 3)
    np.testing.assert_array_equal(c, img[1:3, 2:4])
    crop = transforms.RandomCrop(4, padding=2)(img)
    assert isinstance(crop, np.ndarray) and crop.shape == (4, 4, 3)
    padded = np.pad(img, ((2, 2), (2, 2), (0, 0)))
    assert any(np.array_equal(crop, padded[i : i + 4, j : j + 4]) for i in range(5) for j in range(6))
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(p=1.0)(img), img[:, ::-1])
    big = transforms.RandomCrop(6, pad_if_needed=True, padding_mode="edge")(dl.tensor(img.transpose(2, 0, 1)))
    assert isinstance(big, dl.Tensor) and big.shape == (3, 6, 6)
    assert transforms.CenterCrop((6, 7))(img).shape == (6, 7, 3)


# ---------------------------------------------------------------------------------------------- models
def test_models_build_without_weights(monkeypatch):
    m = torchvision.models.resnet18(weights=None, num_classes=10)
    assert m.fc.out_features == 10 and isinstance(m, torchvision.models.ResNet)
    assert m(dl.randn(2, 3, 32, 32)).shape == (2, 10)
    a = torchvision.models.alexnet(weights=None, num_classes=7, small=True)  # deepling's CIFAR size: quick to build
    assert a.classifier[6].out_features == 7
    # resnet34/50 are the deepling.models builders (tested there); building 20M+ parameters here is slow
    import deepling.vision.models as vm

    seen = []
    monkeypatch.setattr(vm, "_resnet34", lambda **kw: seen.append(("34", kw)))
    monkeypatch.setattr(vm, "_resnet50", lambda **kw: seen.append(("50", kw)))
    torchvision.models.resnet34(weights=None, num_classes=5)
    torchvision.models.resnet50(num_classes=3, zero_init_residual=True)
    assert seen == [("34", {"num_classes": 5}), ("50", {"num_classes": 3, "zero_init_residual": True})]
    for build in (torchvision.models.resnet18, torchvision.models.resnet34, torchvision.models.alexnet):
        with pytest.raises(ValueError, match="no pretrained weights and downloads none"):
            build(weights="IMAGENET1K_V1")
    with pytest.raises(ValueError, match="pretrained=True"):
        torchvision.models.resnet50(pretrained=True)


# ---------------------------------------------------------------------------------------------- utils
def test_make_grid_by_hand():
    imgs = np.arange(3 * 1 * 2 * 2, dtype=np.float32).reshape(3, 1, 2, 2)
    grid = torchvision.utils.make_grid(dl.tensor(imgs), nrow=2, padding=1, pad_value=-1.0).array
    # 2 columns, 2 rows of 3x3 cells (1 pad + 2 pixels) plus 1 pad: (3, 7, 7); grey -> 3 equal channels
    expected = np.full((7, 7), -1.0, np.float32)
    expected[1:3, 1:3] = imgs[0, 0]
    expected[1:3, 4:6] = imgs[1, 0]
    expected[4:6, 1:3] = imgs[2, 0]
    assert grid.shape == (3, 7, 7)
    for ch in grid:
        np.testing.assert_array_equal(ch, expected)
    # list input, default nrow=8 (one row), padding 2
    row = torchvision.utils.make_grid([dl.tensor(imgs[0]), dl.tensor(imgs[1])]).array
    assert row.shape == (3, 6, 10)
    np.testing.assert_array_equal(row[0, 2:4, 6:8], imgs[1, 0])
    # one image: returned as (3, H, W) without padding
    assert torchvision.utils.make_grid(dl.tensor(imgs[0])).shape == (3, 2, 2)


def test_make_grid_normalize():
    imgs = np.stack([np.full((1, 2, 2), 2.0), np.array([[[0.0, 4.0], [6.0, 8.0]]])]).astype(np.float32)
    g = torchvision.utils.make_grid(dl.tensor(imgs), padding=0, normalize=True).array[0]
    np.testing.assert_allclose(g, np.concatenate([imgs[0, 0], imgs[1, 0]], axis=1) / 8.0)
    g = torchvision.utils.make_grid(dl.tensor(imgs), padding=0, normalize=True, value_range=(2.0, 6.0)).array[0]
    np.testing.assert_allclose(g, np.array([[0, 0, 0, 0.5], [0, 0, 1, 1]]))
    g = torchvision.utils.make_grid(dl.tensor(imgs), padding=0, normalize=True, scale_each=True).array[0]
    np.testing.assert_allclose(g, np.array([[0, 0, 0, 0.5], [0, 0, 0.75, 1]]), atol=1e-6)  # constant image: 0
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        torchvision.utils.make_grid(dl.tensor(imgs), normalize=True, value_range=[0, 1])


def test_save_image_writes_a_png_pillow_reads(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.random((5, 3, 4, 6)).astype(np.float32)
    path = tmp_path / "grid.png"
    torchvision.utils.save_image(dl.tensor(imgs), path, nrow=3, padding=1, pad_value=1.0)
    grid = torchvision.utils.make_grid(dl.tensor(imgs), nrow=3, padding=1, pad_value=1.0).array
    expected = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    with PIL.open(path) as im:
        assert im.mode == "RGB" and im.size == (expected.shape[1], expected.shape[0])
        np.testing.assert_array_equal(np.asarray(im), expected)
    buf = io.BytesIO()
    torchvision.utils.save_image(dl.tensor(imgs[0, :1]), buf)
    with PIL.open(io.BytesIO(buf.getvalue())) as im:
        assert im.size == (6, 4)
    with pytest.raises(ValueError, match="PNG files only"):
        torchvision.utils.save_image(dl.tensor(imgs), tmp_path / "grid.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_png_writer_grey_and_rgba(tmp_path):
    from deepling.vision.png import write_png

    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    rgba = np.random.default_rng(1).integers(0, 256, (2, 3, 4), dtype=np.uint8)
    for name, a, mode in (("g.png", grey, "L"), ("a.png", rgba, "RGBA")):
        write_png(a, tmp_path / name)
        with PIL.open(tmp_path / name) as im:
            assert im.mode == mode
            np.testing.assert_array_equal(np.asarray(im), a)
    with pytest.raises(TypeError, match="uint8"):
        write_png(grey.astype(np.float32), tmp_path / "x.png")


def test_random_crop_equals_a_window_of_the_padded_image():
    """RandomCrop pastes onto a filled canvas instead of padding: the same result as np.pad then crop."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(1, 8, 2))
        pad = tuple(int(v) for v in rng.integers(0, 4, 4))
        th, tw = int(rng.integers(1, h + pad[1] + pad[3] + 1)), int(rng.integers(1, w + pad[0] + pad[2] + 1))
        a = rng.integers(1, 255, (3, h, w)).astype(np.uint8)
        seed = int(rng.integers(1 << 30))
        ours = transforms.RandomCrop((th, tw), padding=pad, fill=7, generator=dl.Generator(seed))(dl.tensor(a)).array
        g = dl.Generator(seed).rng
        padded = np.pad(a, ((0, 0), (pad[1], pad[3]), (pad[0], pad[2])), constant_values=7)
        i, j = int(g.integers(0, padded.shape[1] - th + 1)), int(g.integers(0, padded.shape[2] - tw + 1))
        np.testing.assert_array_equal(ours, padded[:, i : i + th, j : j + tw])
