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
