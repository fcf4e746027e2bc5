"""deepling.data: datasets, samplers, DataLoader batching/shuffling/collation, transforms, synthetic sets."""

from collections import namedtuple

import numpy as np
import pytest

import deepling as dl
from deepling.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
    transforms,
)
from deepling.data.datasets import Digits, blobs, circles, moons, sin, spirals, xor


class _Items(Dataset):
    """A map-style dataset returning (array, int, dict) per item, with no batch fast path."""

    def __init__(self, n):
        self.x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(i), {"sq": float(i * i), "name": f"s{i}"}


def _epoch(loader):
    return [tuple(np.asarray(t.array) for t in b) for b in loader]


def test_utils_data_alias():
    import deepling.utils.data as ud

    assert ud.DataLoader is DataLoader and ud.TensorDataset is TensorDataset


def test_tensor_dataset_items_and_errors():
    X, y = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32), np.arange(10)
    ds = TensorDataset(dl.tensor(X), dl.tensor(y))
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.array, X[3])
    assert int(yi.item()) == 3
    with pytest.raises(ValueError, match="first dimension"):
        TensorDataset(dl.zeros(3, 2), dl.zeros(4))


def test_loader_batches_cover_dataset_in_order():
    X = np.arange(23 * 2, dtype=np.float32).reshape(23, 2)
    ds = TensorDataset(X, np.arange(23))
    loader = DataLoader(ds, batch_size=5)
    batches = _epoch(loader)
    assert len(loader) == len(batches) == 5
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), X)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64


def test_drop_last():
    ds = TensorDataset(np.arange(23))
    loader = DataLoader(ds, batch_size=5, drop_last=True, shuffle=True)
    batches = _epoch(loader)
    assert len(loader) == len(batches) == 4
    assert all(len(b[0]) == 5 for b in batches)


def test_shuffle_is_a_permutation_and_seeded():
    ds = TensorDataset(np.arange(50))
    dl.manual_seed(7)
    a = np.concatenate([b[0] for b in _epoch(DataLoader(ds, batch_size=8, shuffle=True))])
    a2 = np.concatenate([b[0] for b in _epoch(DataLoader(ds, batch_size=8, shuffle=True))])
    dl.manual_seed(7)
    b = np.concatenate([b[0] for b in _epoch(DataLoader(ds, batch_size=8, shuffle=True))])
    np.testing.assert_array_equal(np.sort(a), np.arange(50))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, np.arange(50))
    assert not np.array_equal(a, a2)  # a new permutation each epoch


def test_shuffle_with_own_generator_ignores_global_rng():
    ds = TensorDataset(np.arange(40))
    order = []
    for _ in range(2):
        g = dl.Generator(3)
        dl.manual_seed(np.random.randint(1000))
        order.append(np.concatenate([b[0] for b in _epoch(DataLoader(ds, batch_size=6, shuffle=True, generator=g))]))
    np.testing.assert_array_equal(order[0], order[1])


def test_fast_path_equals_per_item_collate():
    X = np.random.default_rng(1).standard_normal((17, 3)).astype(np.float32)
    ds = TensorDataset(X, np.arange(17))
    fast = _epoch(DataLoader(ds, batch_size=4, shuffle=True, generator=dl.Generator(0)))
    slow = _epoch(DataLoader(ds, batch_size=4, shuffle=True, generator=dl.Generator(0), collate_fn=default_collate))
    for f, s in zip(fast, slow, strict=True):
        for a, b in zip(f, s):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype


def test_collate_tuples_dicts_and_strings():
    loader = DataLoader(_Items(7), batch_size=3)
    x, i, d = next(iter(loader))
    assert isinstance(x, dl.Tensor) and x.shape == (3, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(i.array, [0, 1, 2])
    assert i.dtype == np.int64
    np.testing.assert_allclose(d["sq"].array, [0.0, 1.0, 4.0])
    assert d["sq"].dtype == np.float32
    assert d["name"] == ["s0", "s1", "s2"]
    P = namedtuple("P", "a b")
    out = default_collate([P(1, np.ones(2)), P(2, np.zeros(2))])
    assert isinstance(out, P) and out.b.shape == (2, 2)
    bools = default_collate([True, False])
    assert bools.dtype == np.bool_
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])


def test_custom_collate_and_sampler_and_batch_size_none():
    ds = TensorDataset(np.arange(10))
    loader = DataLoader(ds, batch_size=4, sampler=[9, 8, 7, 1, 2], collate_fn=lambda items: [int(t[0].item()) for t in items])
    assert list(loader) == [[9, 8, 7, 1], [2]]
    single = list(DataLoader(_Items(3), batch_size=None))
    assert len(single) == 3 and single[1][1] == 1
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)


def test_subset_concat_random_split():
    ds = TensorDataset(np.arange(10) * 10)
    sub = Subset(ds, [4, 2])
    assert len(sub) == 2 and int(sub[0][0].item()) == 40
    batch = next(iter(DataLoader(sub, batch_size=2)))
    np.testing.assert_array_equal(batch[0].array, [40, 20])
    cat = ConcatDataset([ds, Subset(ds, [1])])
    assert len(cat) == 11 and int(cat[10][0].item()) == 10 and int(cat[-1][0].item()) == 10
    with pytest.raises(IndexError):
        cat[11]
    parts = random_split(ds, [7, 3], generator=dl.Generator(0))
    idx = sorted(parts[0].indices + parts[1].indices)
    assert idx == list(range(10)) and len(parts[0]) == 7
    parts2 = random_split(ds, [7, 3], generator=dl.Generator(0))
    assert parts2[0].indices == parts[0].indices
    fr = random_split(ds, [0.5, 0.5], generator=dl.Generator(1))
    assert [len(p) for p in fr] == [5, 5]
    with pytest.raises(ValueError, match="sum of input lengths"):
        random_split(ds, [3, 3])


def test_transforms():
    img = (np.arange(16, dtype=np.uint8) * 16).reshape(4, 4)
    t = transforms.ToTensor()(img)
    assert t.shape == (1, 4, 4) and t.dtype == np.float32
    np.testing.assert_allclose(t.array[0], img / 255.0, rtol=1e-6)
    rgb = np.zeros((4, 5, 3), np.uint8)
    assert transforms.ToTensor()(rgb).shape == (3, 4, 5)
    n = transforms.Normalize((0.5,), (0.25,))(t)
    np.testing.assert_allclose(n.array, (t.array - 0.5) / 0.25, rtol=1e-6)
    with pytest.raises(ValueError, match="std"):
        transforms.Normalize(0.0, 0.0)
    pipe = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.1307], [0.3081]), transforms.Flatten()])
    assert pipe(img).shape == (16,)
    x = dl.tensor(np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4))
    dl.manual_seed(0)
    crops = [transforms.RandomCrop(4, padding=1)(x).array for _ in range(20)]
    assert all(c.shape == (2, 4, 4) for c in crops)
    assert any(not np.array_equal(c, x.array) for c in crops)  # some crops shifted
    for c in crops:  # every crop is a window of the zero-padded image
        padded = np.pad(x.array, ((0, 0), (1, 1), (1, 1)))
        assert any(np.array_equal(c, padded[:, i : i + 4, j : j + 4]) for i in range(3) for j in range(3))
    flipped = transforms.RandomHorizontalFlip(p=1.0)(x)
    np.testing.assert_array_equal(flipped.array, x.array[..., ::-1])
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(p=0.0)(x).array, x.array)
    with pytest.raises(ValueError, match="larger"):
        transforms.RandomCrop(9)(x)


def test_synthetic_sets_are_seeded_and_shaped():
    for fn in (xor, spirals, moons, circles, blobs):
        X, y = fn(n_samples=101, seed=3)
        X2, y2 = fn(n_samples=101, seed=3)
        X3, _ = fn(n_samples=101, seed=4)
        assert X.shape == (101, 2) and X.dtype == np.float32 and y.shape == (101,) and y.dtype == np.int64
        np.testing.assert_array_equal(X.array, X2.array)
        np.testing.assert_array_equal(y.array, y2.array)
        assert not np.array_equal(X.array, X3.array)
    _, y = spirals(n_samples=90, n_classes=3)
    assert np.bincount(y.array).tolist() == [30, 30, 30]
    X, y = xor(n_samples=400, noise=0.0)
    np.testing.assert_array_equal(y.array, (np.sign(X.array[:, 0]) != np.sign(X.array[:, 1])).astype(np.int64))
    x, t = sin(n_samples=50, noise=0.0)
    assert x.shape == (50, 1) and t.dtype == np.float32
    np.testing.assert_allclose(t.array, np.sin(x.array), atol=1e-6)


def test_digits_split_is_fixed_and_disjoint():
    tr, te = Digits(train=True), Digits(train=False)
    assert len(tr) + len(te) == 1797
    assert 0.18 < len(te) / 1797 < 0.22
    x, y = tr[0]
    assert x.shape == (64,) and x.dtype == np.float32 and 0 <= x.array.min() and x.array.max() <= 1
    assert set(np.unique(te.targets)) == set(range(10))
    np.testing.assert_array_equal(Digits(train=False).targets, te.targets)
    train_rows = {r.tobytes() for r in tr.data}
    overlap = sum(r.tobytes() in train_rows for r in te.data)
    assert overlap < 5  # the raw set has a few exact duplicate images, no more
    xb, yb = next(iter(DataLoader(Digits(train=False, flatten=False), batch_size=8)))
    assert xb.shape == (8, 1, 8, 8) and yb.dtype == np.int64
