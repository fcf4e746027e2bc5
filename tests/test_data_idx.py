"""IDX reader and MNIST/FashionMNIST loading on small files the tests write (no network)."""

import gzip
import hashlib
import struct

import numpy as np
import pytest

from deepling.data import DataLoader, transforms
from deepling.data.datasets import MNIST, FashionMNIST, IDXError, read_idx, write_idx
from deepling.data.datasets import mnist as mnist_module


def _fake_mnist(root, prefix="train", n=12, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    ext = ".gz" if gz else ""
    write_idx(root / f"{prefix}-images-idx3-ubyte{ext}", images)
    write_idx(root / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, gz, dtype):
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == np.uint8:
        a = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, a)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_idx_header_layout_is_big_endian(tmp_path):
    path = tmp_path / "labels"
    write_idx(path, np.array([3, 1, 4], np.uint8))
    raw = path.read_bytes()
    assert struct.unpack(">II", raw[:8]) == (2049, 3) and raw[8:] == bytes([3, 1, 4])
    write_idx(path, np.zeros((2, 28, 28), np.uint8))
    assert struct.unpack(">IIII", path.read_bytes()[:16]) == (2051, 2, 28, 28)


def test_idx_wrong_magic(tmp_path):
    p = tmp_path / "x"
    write_idx(p, np.zeros(4, np.uint8))
    with pytest.raises(IDXError, match="wrong magic number 0x00000801"):
        read_idx(p, expected_magic=2051)
    p.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(IDXError, match="not an IDX file"):
        read_idx(p)
    p.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00")  # 0x07 is no IDX type
    with pytest.raises(IDXError, match="not an IDX file"):
        read_idx(p)


def test_idx_truncated_and_oversized(tmp_path):
    p = tmp_path / "x"
    write_idx(p, np.zeros((3, 4, 4), np.uint8))
    full = p.read_bytes()
    p.write_bytes(full[:-5])
    with pytest.raises(IDXError, match="truncated"):
        read_idx(p)
    p.write_bytes(full[:10])
    with pytest.raises(IDXError, match="truncated header"):
        read_idx(p)
    p.write_bytes(full[:2])
    with pytest.raises(IDXError, match="too short"):
        read_idx(p)
    p.write_bytes(full + b"\x00")
    with pytest.raises(IDXError, match="trailing bytes"):
        read_idx(p)


def test_idx_corrupted_gzip(tmp_path):
    p = tmp_path / "x.gz"
    write_idx(p, np.arange(200, dtype=np.uint8).reshape(10, 20))
    blob = bytearray(p.read_bytes())
    p.write_bytes(bytes(blob[: len(blob) // 2]))
    with pytest.raises(IDXError, match="gzip"):
        read_idx(p)
    blob[-6] ^= 0xFF  # flip a byte of the CRC/size trailer
    p.write_bytes(bytes(blob))
    with pytest.raises(IDXError, match="gzip"):
        read_idx(p)


@pytest.mark.parametrize("layout", ["root", "torchvision", "raw-files"])
def test_mnist_loads_from_root(tmp_path, layout):
    root = tmp_path
    where = {"root": root, "torchvision": root / "MNIST" / "raw", "raw-files": root}[layout]
    where.mkdir(parents=True, exist_ok=True)
    images, labels = _fake_mnist(where, "train", gz=layout != "raw-files")
    _fake_mnist(where, "t10k", n=5, seed=1, gz=layout != "raw-files")
    ds = MNIST(root, train=True)
    assert len(ds) == 12 and len(MNIST(root, train=False)) == 5
    img, y = ds[3]
    np.testing.assert_array_equal(img, images[3])
    assert y == int(labels[3])
    pipe = transforms.Compose([transforms.ToTensor(), transforms.Flatten()])
    x, y = next(iter(DataLoader(MNIST(root, transform=pipe), batch_size=4)))
    assert x.shape == (4, 784) and x.dtype == np.float32
    np.testing.assert_allclose(x.array, images[:4].reshape(4, -1) / 255.0, rtol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))  # batch fast path without transform
    np.testing.assert_array_equal(xb.array, images[:4])
    np.testing.assert_array_equal(yb.array, labels[:4])


def test_mnist_mismatched_counts(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(IDXError, match="do not match"):
        MNIST(tmp_path)


def test_mnist_swapped_files_give_magic_error(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros(3, np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(IDXError, match="wrong magic"):
        MNIST(tmp_path)


def test_mnist_missing_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)) as e:
        MNIST(tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(e.value) and "download=True" in str(e.value)


def test_mnist_download_offline_gives_clear_message(tmp_path, monkeypatch):
    calls = []

    def offline(url, timeout=30.0):
        calls.append(url)
        raise OSError("network is unreachable")

    monkeypatch.setattr(mnist_module, "_fetch", offline)
    with pytest.raises(RuntimeError) as e:
        FashionMNIST(tmp_path / "cache", download=True)
    msg = str(e.value)
    assert "could not download" in msg and str(tmp_path / "cache") in msg and "network is unreachable" in msg
    assert calls and all(u.startswith("http") for u in calls)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def _serve(files):
    """A fake fetch serving gzipped bytes by file name."""
    def fetch(url, timeout=30.0):
        name = url.rsplit("/", 1)[1]
        if name not in files:
            raise OSError(f"404 {url}")
        return files[name]
    return fetch


def _fake_resources(monkeypatch, cls, arrays):
    files, resources = {}, {}
    for name, a in arrays.items():
        raw = struct.pack(">HBB", 0, 8, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
        files[name + ".gz"] = gzip.compress(raw)
        resources[name] = (hashlib.md5(raw).hexdigest(), "")
    monkeypatch.setattr(cls, "resources", resources)
    return files


def test_mnist_download_verifies_and_stores(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 6).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 2).astype(np.uint8),
    }
    files = _fake_resources(monkeypatch, MNIST, arrays)
    monkeypatch.setattr(mnist_module, "_fetch", _serve(files))
    ds = MNIST(tmp_path / "c", download=True)
    np.testing.assert_array_equal(ds.data, arrays["train-images-idx3-ubyte"])
    assert (tmp_path / "c" / "train-labels-idx1-ubyte.gz").is_file()
    monkeypatch.setattr(mnist_module, "_fetch", _serve({}))  # now offline: the cached files are used
    assert len(MNIST(tmp_path / "c", download=True)) == 6


def test_mnist_download_checksum_mismatch(tmp_path, monkeypatch):
    arrays = {"train-images-idx3-ubyte": np.zeros((2, 28, 28), np.uint8), "train-labels-idx1-ubyte": np.zeros(2, np.uint8)}
    files = _fake_resources(monkeypatch, MNIST, arrays)
    tampered = gzip.decompress(files["train-labels-idx1-ubyte.gz"])[:-1] + b"\x07"
    files["train-labels-idx1-ubyte.gz"] = gzip.compress(tampered)
    monkeypatch.setattr(mnist_module, "_fetch", _serve(files))
    with pytest.raises(RuntimeError, match="checksum mismatch") as e:
        MNIST(tmp_path, download=True)
    assert str(tmp_path) in str(e.value)
    assert not (tmp_path / "train-labels-idx1-ubyte.gz").exists()



def _shared_mnist():
    """Real MNIST where deepling looks for it (``deepling.data.dataset_dir``), if present."""
    from deepling.data import dataset_dir

    root = dataset_dir("mnist")
    return root if (root / "t10k-labels-idx1-ubyte.gz").is_file() else None


@pytest.mark.skipif(_shared_mnist() is None, reason="real MNIST (../shared/data/mnist) not present")
def test_real_mnist_test_set_if_present():
    root = _shared_mnist()
    ds = MNIST(root, train=False)
    assert ds.data.shape == (10000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    raw = gzip.decompress((root / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert hashlib.md5(raw).hexdigest() == MNIST.resources["t10k-labels-idx1-ubyte"][0]


def test_header_dimensions_past_2_63_are_an_idx_error(tmp_path):
    # dims whose product overflows int64 used to wrap to 0, pass the size check and fail in reshape
    import struct

    from deepling.data.datasets.idx import IDXError, parse_idx

    header = struct.pack(">HBB", 0, 0x08, 4) + struct.pack(">4I", 2**32 - 1, 2**32 - 1, 2**32 - 1, 2**16)
    with pytest.raises(IDXError, match="header says dims"):
        parse_idx(header, "big.idx")


def test_a_gzip_bomb_is_refused_before_it_fills_memory(tmp_path):
    import gzip as _gzip

    from deepling.data.datasets import idx as idx_module

    path = tmp_path / "bomb-idx3-ubyte.gz"
    path.write_bytes(_gzip.compress(b"\0" * (8 << 20)))  # 8 MiB of zeros in a few KiB
    with pytest.raises(idx_module.IDXError, match="gzip bomb"):
        idx_module._read_bytes(path, limit=1 << 20)
    truncated = tmp_path / "t-idx1-ubyte.gz"
    truncated.write_bytes(_gzip.compress(b"\0" * 1000)[:-12])
    with pytest.raises(idx_module.IDXError, match="corrupted or truncated"):
        idx_module._read_bytes(truncated)
