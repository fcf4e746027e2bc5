"""PyTorch's indexing rules, fuzzed against PyTorch: every mix of ints, slices, None, Ellipsis,
Python bools, bool masks, integer index tensors and lists, for getitem, setitem and gradients.

The rule that differs from NumPy's: an int is a basic index (applied first, as slice-and-squeeze),
so ``x[0, :, [1, 0]]`` keeps the indexed dim in place instead of moving it first.
"""

import numpy as np
import pytest
import torch

import deepling as dl

CASES = 400


def _spec(rng: np.random.Generator, shape: tuple[int, ...]) -> list:
    """A random index as a list of (kind, payload) items that fit ``shape``."""
    items, dim, ellipsis = [], 0, False
    n_items = rng.integers(1, len(shape) + 3)
    for _ in range(n_items):
        left = len(shape) - dim
        kind = rng.choice(["int", "slice", "none", "ellipsis", "pybool", "mask", "tensor", "list", "int0d"])
        if kind in ("int", "slice", "tensor", "list", "int0d", "mask") and left == 0:
            kind = "none"
        if kind == "ellipsis" and ellipsis:
            kind = "none"
        if kind == "int" or kind == "int0d":
            n = shape[dim]
            if n == 0:
                kind = "slice"
            else:
                items.append((kind, int(rng.integers(-n, n))))
                dim += 1
                continue
        if kind == "slice":
            n = shape[dim]
            start = None if rng.random() < 0.3 else int(rng.integers(-n - 1, n + 2))
            stop = None if rng.random() < 0.3 else int(rng.integers(-n - 1, n + 2))
            step = None if rng.random() < 0.5 else int(rng.integers(1, 3))
            items.append(("slice", slice(start, stop, step)))
            dim += 1
        elif kind == "none":
            items.append(("none", None))
        elif kind == "ellipsis":
            items.append(("ellipsis", Ellipsis))
            ellipsis = True
            dim += int(rng.integers(0, left + 1))  # the dims it is meant to cover (later items may cover fewer)
        elif kind == "pybool":
            items.append(("pybool", bool(rng.random() < 0.7)))
        elif kind == "mask":
            k = int(rng.integers(1, min(left, 2) + 1))
            items.append(("mask", rng.random(shape[dim:dim + k]) < 0.5))
            dim += k
        else:  # tensor or list of indices; a small shape so several broadcast together
            n = shape[dim]
            ishape = (2,) if kind == "list" else [(2,), (3,), (2, 1), (1, 2), ()][rng.integers(5)]
            if kind == "tensor" and ishape == ():
                ishape = (1,)
            vals = rng.integers(-n, n, size=ishape) if n else np.zeros(ishape, dtype=np.int64)
            items.append((kind, vals.tolist() if kind == "list" else vals))
            dim += 1
    return items


def _render(spec: list, lib) -> tuple:
    out = []
    for kind, v in spec:
        if kind in ("mask",):
            out.append(lib.tensor(v))
        elif kind == "tensor":
            out.append(lib.tensor(np.asarray(v, dtype=np.int64)))
        elif kind == "int0d":
            out.append(lib.tensor(v))
        else:
            out.append(v)
    return tuple(out)


def _shape(rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(s) for s in rng.integers(1, 4, size=rng.integers(1, 5)))


def _torch_or_error(t, spec):
    try:
        out = t[_render(spec, torch)]
    except (IndexError, ValueError, RuntimeError, TypeError) as e:
        return None, e
    return out, None


@pytest.mark.parametrize("chunk", range(4))
def test_getitem_and_its_gradient_match_torch(chunk):
    for seed in range(chunk * CASES // 4, (chunk + 1) * CASES // 4):
        rng = np.random.default_rng(seed)
        shape = _shape(rng)
        a = rng.standard_normal(shape)
        spec = _spec(rng, shape)
        tx = torch.tensor(a, requires_grad=True)
        want, err = _torch_or_error(tx, spec)
        dx = dl.tensor(a, dtype=dl.float64, requires_grad=True)
        if err is not None:
            with pytest.raises((IndexError, ValueError, RuntimeError, TypeError)):
                dx[_render(spec, dl)]
            continue
        if want.numel() == 0:
            try:
                got = dx[_render(spec, dl)]
            except IndexError:
                continue  # torch does not check index bounds when the result is empty; deepling does
        else:
            got = dx[_render(spec, dl)]
        msg = f"seed {seed}: shape {shape} index {spec}"
        assert got.shape == tuple(want.shape), msg
        np.testing.assert_array_equal(got.array, want.detach().numpy(), err_msg=msg)
        w = rng.standard_normal(tuple(want.shape))
        (want * torch.tensor(w)).sum().backward()
        (got * dl.tensor(w, dtype=dl.float64)).sum().backward()
        np.testing.assert_allclose(dx.grad.array, tx.grad.numpy(), err_msg=msg)
        # without a graph the same index takes the no-grad path
        np.testing.assert_array_equal(dl.tensor(a, dtype=dl.float64)[_render(spec, dl)].array, want.detach().numpy(), err_msg=msg)


def _has_duplicates(shape: tuple[int, ...], spec: list) -> bool:
    pos = torch.arange(int(np.prod(shape))).reshape(shape)[_render(spec, torch)]
    return pos.numel() != pos.unique().numel()


@pytest.mark.parametrize("chunk", range(4))
def test_setitem_and_its_gradients_match_torch(chunk):
    for seed in range(10_000 + chunk * CASES // 4, 10_000 + (chunk + 1) * CASES // 4):
        rng = np.random.default_rng(seed)
        shape = _shape(rng)
        a = rng.standard_normal(shape)
        spec = _spec(rng, shape)
        target, err = _torch_or_error(torch.tensor(a), spec)
        if err is not None:
            with pytest.raises((IndexError, ValueError, RuntimeError, TypeError)):
                dl.tensor(a, dtype=dl.float64)[_render(spec, dl)] = 1.0
            continue
        msg = f"seed {seed}: shape {shape} index {spec}"
        if target.numel() == 0:
            continue  # nothing to assign (and torch skips the bounds check, see above)
        if _has_duplicates(shape, spec):  # which write wins is unspecified: assign one value
            t, d = torch.tensor(a), dl.tensor(a, dtype=dl.float64)
            t[_render(spec, torch)] = 7.0
            d[_render(spec, dl)] = 7.0
            np.testing.assert_array_equal(d.array, t.numpy(), err_msg=msg)
            continue
        # the value broadcasts: drop a random number of its leading dims
        vshape = tuple(target.shape)[rng.integers(0, len(target.shape) + 1):]
        v = rng.standard_normal(vshape)
        tx, tv = torch.tensor(a, requires_grad=True), torch.tensor(v, requires_grad=True)
        dx, dv = dl.tensor(a, dtype=dl.float64, requires_grad=True), dl.tensor(v, dtype=dl.float64, requires_grad=True)
        ty, dy = tx * 1, dx * 1
        ty[_render(spec, torch)] = tv
        dy[_render(spec, dl)] = dv
        np.testing.assert_array_equal(dy.array, ty.detach().numpy(), err_msg=msg)
        w = rng.standard_normal(shape)
        (ty * torch.tensor(w)).sum().backward()
        (dy * dl.tensor(w, dtype=dl.float64)).sum().backward()
        np.testing.assert_allclose(dx.grad.array, tx.grad.numpy(), err_msg=msg)
        np.testing.assert_allclose(dv.grad.array, tv.grad.numpy(), err_msg=msg)
        # in place without a graph
        plain = dl.tensor(a, dtype=dl.float64)
        plain[_render(spec, dl)] = dl.tensor(v, dtype=dl.float64)
        np.testing.assert_array_equal(plain.array, ty.detach().numpy(), err_msg=msg)


def test_the_issue_example():
    x = dl.arange(8.0).reshape(2, 2, 2)
    assert x[0, :, [1, 0]].tolist() == [[1.0, 0.0], [3.0, 2.0]]
    assert x[dl.tensor(0), :, [1, 0]].tolist() == [[1.0, 0.0], [3.0, 2.0]]


@pytest.mark.parametrize("index", [slice(None, None, -1), dl.tensor([0.5]), 5, [5], (0, 0, 0, 0), "a", 1.5])
def test_bad_indices_raise_like_torch(index):
    x = dl.arange(8.0).reshape(2, 2, 2)
    t = torch.arange(8.0).reshape(2, 2, 2)
    tindex = torch.tensor([0.5]) if isinstance(index, dl.Tensor) else index
    with pytest.raises((IndexError, ValueError, TypeError)) as want:
        t[tindex]
    with pytest.raises(want.type):
        x[index]


def test_two_ellipses_are_a_clear_error():
    # PyTorch accepts x[..., 0, ...] with an ad hoc meaning; deepling refuses it, as NumPy does.
    with pytest.raises(IndexError, match="single ellipsis"):
        dl.zeros(2, 3)[..., 0, ...]


@pytest.mark.parametrize("index", [
    (range(3), [1, 3, 0]), range(1, 3), ((0, 2),), (slice(None), (3, 0)), ((0, 1), 1), (0, range(2)),
])
def test_ranges_and_inner_tuples_are_index_tensors_as_in_torch(index):
    t, d = torch.arange(12.0).reshape(3, 4), dl.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(d[index].array, t[index].numpy())
    t[index] = -1.0
    d[index] = -1.0
    np.testing.assert_array_equal(d.array, t.numpy())
