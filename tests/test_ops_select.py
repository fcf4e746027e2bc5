"""topk, sort, roll, narrow, scatter, take_along_dim and index-range errors, against PyTorch and
float64 finite differences."""

import functools

import numpy as np
import pytest
import torch

import deepling as dl
from oracle import check_grad, check_op

# distinct values, so the order of ties (unspecified in PyTorch) never matters
DISTINCT = np.random.default_rng(3).permutation(24).reshape(2, 3, 4).astype(np.float64) / 7 - 1.5

SELECT = {
    "topk": lambda m, x: m.topk(x, 2),
    "topk_dim0_smallest": lambda m, x: m.topk(x, 1, dim=0, largest=False),
    "topk_method_dim1": lambda m, x: x.topk(3, 1),
    "topk_all": lambda m, x: x.topk(4),
    "sort": lambda m, x: m.sort(x),
    "sort_desc_dim1": lambda m, x: x.sort(dim=1, descending=True),
    "argsort": lambda m, x: (x * m.argsort(x, dim=-1)),
    "roll": lambda m, x: m.roll(x, 2),
    "roll_dims": lambda m, x: x.roll((1, -1), (0, 2)),
    "roll_neg_dim": lambda m, x: x.roll(-5, -1),
    "narrow": lambda m, x: x.narrow(2, 1, 2),
    "narrow_neg_start": lambda m, x: m.narrow(x, -1, -3, 2),
    "take_along_dim": lambda m, x: m.take_along_dim(x, m.tensor([[[0, 3, 1]], [[2, 2, -1]]]), 2),
    "take_along_dim_broadcast": lambda m, x: m.take_along_dim(x, m.tensor([[[1], [0], [-2]]]), 1),
    "take_along_dim_flat": lambda m, x: m.take_along_dim(x, m.tensor([0, 23, 22, 5])),
    "take_along_dim_argsort": lambda m, x: m.take_along_dim(x, x.argsort(-1), -1),
    "scatter": lambda m, x: m.zeros(2, 3, 4, dtype=x.dtype).scatter(2, m.tensor([[[0, 3], [1, 2], [2, 1]], [[3, 0], [0, 1], [1, 0]]]), x[..., :2]),
    "scatter_into": lambda m, x: x.scatter(0, m.tensor([[[1, 0, 1, 0]]]), 5.0),
    "scatter_inplace": lambda m, x: (x * 1).scatter_(1, m.tensor([[[2]], [[0]]]), x[:, :1, :1] * 3),
    "scatter_add_inplace": lambda m, x: (x * 1).scatter_add_(2, m.tensor([[[0, 0, 1]]]), x[:1, :1, :3]),
    "select": lambda m, x: x.select(1, -1),
    "movedim": lambda m, x: m.movedim(x, 0, -1),
    "masked_select": lambda m, x: m.masked_select(x, x > 0),
}


@pytest.mark.parametrize("name", sorted(SELECT))
def test_select_parity(name):
    fn = SELECT[name]
    check_op(functools.partial(fn, torch), [DISTINCT], functools.partial(fn, dl), dtype=np.float64, arrays=[DISTINCT])


@pytest.mark.parametrize("name", sorted(SELECT))
def test_select_gradcheck(name):
    def run(x):
        out = SELECT[name](dl, x)
        return dl.cat([o.reshape(-1) for o in out if o.is_floating_point()]) if isinstance(out, tuple) else out

    check_grad(run, [DISTINCT], arrays=[DISTINCT])


def test_topk_returns_a_named_pair_with_lowest_index_first_on_ties():
    values, indices = dl.topk(dl.tensor([3.0, 1.0, 2.0, 3.0]), 2)
    assert values.tolist() == [3.0, 3.0] and indices.tolist() == [0, 3]
    r = dl.tensor([[1, 5, 2]]).topk(1, dim=1)
    assert r.values.tolist() == [[5]] and r.indices.tolist() == [[1]] and r.values.dtype == dl.int64
    assert dl.tensor(2.5).topk(1).values.item() == 2.5


def test_narrow_matches_torch_for_every_start():
    for start in range(-5, 6):
        for length in range(0, 6):
            t = d = None
            try:
                t = torch.narrow(torch.arange(5), 0, start, length)
            except (IndexError, RuntimeError):
                with pytest.raises((IndexError, ValueError)):
                    dl.narrow(dl.arange(5), 0, start, length)
                continue
            d = dl.arange(5).narrow(0, start, length)
            assert d.tolist() == t.tolist(), (start, length)
    assert dl.narrow(dl.arange(5), 0, -2, 2).tolist() == [3, 4]
    assert dl.narrow(dl.arange(5), 0, dl.tensor(1), 2).tolist() == [1, 2]


IDX_ERRORS = {
    "gather_negative": lambda m, x: m.gather(x, 0, m.tensor([[-1, 0, 0]])),
    "gather_too_big": lambda m, x: m.gather(x, 1, m.tensor([[3]])),
    "scatter_negative": lambda m, x: m.zeros(2, 3).scatter(0, m.tensor([[-1, 0, 0]]), x),
    "scatter_add_too_big": lambda m, x: m.zeros(2, 3).scatter_add(0, m.tensor([[2, 0, 0]]), x),
    "index_select_negative": lambda m, x: m.index_select(x, 0, m.tensor([-1])),
    "index_select_too_big": lambda m, x: m.index_select(x, 1, m.tensor([0, 3])),
    "index_select_float": lambda m, x: m.index_select(x, 0, m.tensor([0.0])),
    "take_along_dim_flat_negative": lambda m, x: m.take_along_dim(x, m.tensor([-1])),
    "topk_k_too_big": lambda m, x: m.topk(x, 4),
    "roll_unaligned": lambda m, x: m.roll(x, (1, 1), 0),
}


@pytest.mark.parametrize("name", sorted(IDX_ERRORS))
def test_index_range_errors_like_torch(name):
    fn = IDX_ERRORS[name]
    with pytest.raises((RuntimeError, IndexError)):
        fn(torch, torch.arange(6.0).reshape(2, 3))
    with pytest.raises((IndexError, ValueError, TypeError)) as e:
        fn(dl, dl.arange(6.0).reshape(2, 3))
    assert name.split("_")[0] in str(e.value)  # the message names the op


def test_take_along_dim_out_of_range_is_an_error():
    # PyTorch reads out of bounds without a check here (undefined values); deepling refuses.
    with pytest.raises(IndexError, match="take_along_dim: index 2 is out of bounds"):
        dl.take_along_dim(dl.arange(6.0).reshape(2, 3), dl.tensor([[2, 0, 0]]), 0)
    with pytest.raises(IndexError, match="take_along_dim: index -3 is out of bounds"):
        dl.take_along_dim(dl.arange(6.0).reshape(2, 3), dl.tensor([[-3, 0, 0]]), 0)


def test_in_range_indices_still_work_and_int32_is_accepted():
    x = dl.arange(6.0).reshape(2, 3)
    assert dl.gather(x, 0, dl.tensor([[1, 0, 1]], dtype=dl.int32)).tolist() == [[3.0, 1.0, 5.0]]
    assert dl.index_select(x, 1, dl.tensor([2, 0])).tolist() == [[2.0, 0.0], [5.0, 3.0]]
    assert dl.zeros(2, 3).scatter_(1, dl.tensor([[0], [2]]), value=1.0).tolist() == [[1, 0, 0], [0, 0, 1]]


V = np.array([0.5, -1.25, 2.0, 0.75], dtype=np.float64)
M = DISTINCT[0]  # (3, 4)
COMPOSITES = {
    "addcmul": (lambda m, x, a, b: x.addcmul(a, b, value=0.5), [M, M * 2, M - 1]),
    "addcdiv": (lambda m, x, a, b: m.addcdiv(x, a, b + 3, value=-0.25), [M, M * 2, M - 1]),
    "lerp": (lambda m, x, e: x.lerp(e, 0.3), [M, M * 2]),
    "addmm": (lambda m, x, a, b: m.addmm(x, a, b.t(), beta=0.5, alpha=2.0), [M[:, :3], M, M[:3] + 1]),
    "mv": (lambda m, a, v: a.mv(v), [M, V]),
    "outer": (lambda m, a, b: m.outer(a, b), [V, V[:3]]),
    "trace": (lambda m, a: a.trace(), [M]),
    "diag_vec": (lambda m, v: m.diag(v, 1), [V]),
    "diag_vec_neg": (lambda m, v: v.diag(-2), [V]),
    "diag_mat": (lambda m, a: a.diag(), [M]),
    "diag_mat_offset": (lambda m, a: a.diag(1) * 2 + a.diag(-1).sum(), [M]),
    "repeat_interleave": (lambda m, a: a.repeat_interleave(2, dim=1), [M]),
    "repeat_interleave_flat": (lambda m, a: m.repeat_interleave(a, 3), [M]),
    "repeat_interleave_tensor": (lambda m, a: a.repeat_interleave(m.tensor([1, 0, 2]), dim=0), [M]),
    "take": (lambda m, a: a.take(m.tensor([[0, -1], [5, 5]])), [M]),
    "index_add": (lambda m, a, s: a.index_add(1, m.tensor([0, 2, 0]), s, alpha=2.0), [M, M[:, :3]]),
    "index_add_inplace": (lambda m, a, s: (a * 1).index_add_(0, m.tensor([2, 2]), s), [M, M[:2]]),
    "index_copy": (lambda m, a, s: a.index_copy(1, m.tensor([3, 0]), s), [M, M[:, :2]]),
    "index_fill": (lambda m, a: a.index_fill(0, m.tensor([1]), -2.0), [M]),
    "trunc_frac": (lambda m, a: a.trunc() + a.frac() * 3 + m.fix(a), [M * 3]),
    "log2_log10": (lambda m, a: a.log2() + m.log10(a), [np.abs(M) + 0.1]),
    "tan": (lambda m, a: a.tan(), [M]),
    "fliplr_flipud": (lambda m, a: a.fliplr() * 2 + m.flipud(a), [M]),
    "sum_to_size": (lambda m, a: a.sum_to_size(1, 4) + a.sum_to_size(3, 1).sum(), [M]),
    "split_with_sizes": (lambda m, a: a.split_with_sizes([1, 3], 1), [M]),
    "aminmax": (lambda m, a: m.aminmax(a, dim=1), [M]),
    "inplace_addcmul_lerp": (lambda m, x, a: (x * 1).addcmul_(a, a, value=2).lerp_(a, 0.5).addcdiv_(a, a * a + 1), [M, M + 1]),
}


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composite_parity(name):
    fn, arrays = COMPOSITES[name]
    check_op(functools.partial(fn, torch), [], functools.partial(fn, dl), arrays=arrays)


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composite_gradcheck(name):
    fn, arrays = COMPOSITES[name]

    def run(*xs):
        out = fn(dl, *xs)
        return dl.cat([o.reshape(-1) for o in out]) if isinstance(out, tuple) else out

    check_grad(run, [], arrays=arrays)


def test_unique_and_predicates_match_torch():
    a = np.array([[3, 1, 2], [1, 3, 3]])
    for kwargs in ({}, {"return_inverse": True}, {"return_counts": True}, {"return_inverse": True, "return_counts": True}, {"dim": 0}):
        t, d = torch.unique(torch.tensor(a), **kwargs), dl.unique(dl.tensor(a), **kwargs)
        for x, y in zip(d if isinstance(d, tuple) else (d,), t if isinstance(t, tuple) else (t,)):
            np.testing.assert_array_equal(x.array, y.numpy())
    f = np.array([-0.0, 1.0, -np.inf, np.inf, -2.0])
    for name in ("signbit", "isposinf", "isneginf", "sgn"):
        np.testing.assert_array_equal(getattr(dl, name)(dl.tensor(f)).array, getattr(torch, name)(torch.tensor(f)).numpy())
    x = dl.zeros(3, 4, dtype=dl.int64).random_(5)
    assert x.dtype == dl.int64 and 0 <= x.array.min() and x.array.max() < 5
    assert dl.ones(2).new(3, 2).shape == (3, 2) and dl.ones(2, dtype=dl.int64).new([1, 2]).dtype == dl.int64
    assert dl.tensor([1.5]).is_nonzero() and not dl.tensor([0.0]).is_nonzero()
