"""Reductions against PyTorch (values, indices, dtypes, gradients) and float64 finite differences."""

import functools

import numpy as np
import pytest
import torch

import deepling as dl
from oracle import check_grad, check_op

S2, S3 = (3, 4), (2, 3, 4)

# name -> (fn(lib, x), shapes to run it on, differentiable)
REDUCE = {
    "sum_all": (lambda m, x: x.sum(), [S3, (5,), (), (1, 1)], True),
    "sum_dim": (lambda m, x: x.sum(0), [S3, (5,), ()], True),
    "sum_negdim": (lambda m, x: x.sum(-1), [S3, S2, ()], True),
    "sum_dims": (lambda m, x: x.sum((0, 2)), [S3, (1, 3, 1)], True),
    "sum_keepdim": (lambda m, x: m.sum(x, dim=-2, keepdim=True), [S3, S2], True),
    "mean_all": (lambda m, x: x.mean(), [S3, (5,), ()], True),
    "mean_dim": (lambda m, x: x.mean(1), [S3, S2], True),
    "mean_dims_keepdim": (lambda m, x: m.mean(x, (-1, 0), keepdim=True), [S3, S2], True),
    "mean_0d_dim": (lambda m, x: x.mean(-1), [()], True),
    "var_all": (lambda m, x: x.var(), [S3, (5,)], True),
    "var_dim": (lambda m, x: x.var(0), [S3, S2], True),
    "var_negdim_keepdim": (lambda m, x: x.var(-1, keepdim=True), [S3, S2], True),
    "var_biased": (lambda m, x: x.var(1, unbiased=False), [S3, S2, (4, 1)], True),
    "var_correction0": (lambda m, x: m.var(x, (0, 1), correction=0), [S3, S2], True),
    "var_correction2": (lambda m, x: x.var(dim=-1, correction=2), [S3, S2], True),
    "std_all": (lambda m, x: x.std(), [S3, (5,)], True),
    "std_dim": (lambda m, x: x.std(1), [S3, S2], True),
    "std_biased_keepdim": (lambda m, x: m.std(x, -1, unbiased=False, keepdim=True), [S3, S2], True),
    "std_correction": (lambda m, x: x.std((0, 2), correction=0), [S3], True),
    "max_all": (lambda m, x: x.max(), [S3, (5,), ()], True),
    "max_dim": (lambda m, x: x.max(0), [S3, S2, (5,), ()], True),
    "max_negdim_keepdim": (lambda m, x: m.max(x, -1, keepdim=True), [S3, S2], True),
    "max_fields": (lambda m, x: (x.max(1).values * 2, x.max(1).indices), [S3, S2], True),
    "min_all": (lambda m, x: x.min(), [S3, (5,), ()], True),
    "min_dim": (lambda m, x: x.min(1), [S3, S2], True),
    "min_dim0": (lambda m, x: x.min(0), [(5,), ()], True),
    "min_negdim_keepdim": (lambda m, x: m.min(x, dim=-2, keepdim=True), [S3, S2], True),
    "min_fields": (lambda m, x: (x.min(0).values, x.min(0).indices), [S3], True),
    "amax_all": (lambda m, x: x.amax(), [S3, (5,), ()], True),
    "amax_dim": (lambda m, x: x.amax(-1), [S3, S2], True),
    "amax_dims_keepdim": (lambda m, x: m.amax(x, (0, 2), keepdim=True), [S3], True),
    "amin_all": (lambda m, x: x.amin(), [S3, ()], True),
    "amin_dim": (lambda m, x: m.amin(x, 0), [S3, S2], True),
    "amin_dims": (lambda m, x: x.amin((-1, -2)), [S3], True),
    "argmax_all": (lambda m, x: x.argmax(), [S3, (5,), ()], False),
    "argmax_dim": (lambda m, x: x.argmax(1), [S3, S2], False),
    "argmax_negdim_keepdim": (lambda m, x: m.argmax(x, -1, keepdim=True), [S3, S2], False),
    "argmin_all": (lambda m, x: x.argmin(), [S3, ()], False),
    "argmin_dim": (lambda m, x: m.argmin(x, dim=0), [S3, S2], False),
    "argmin_keepdim": (lambda m, x: x.argmin(-2, keepdim=True), [S3], False),
    "logsumexp_dim": (lambda m, x: x.logsumexp(0), [S3, (5,), ()], True),
    "logsumexp_negdim_keepdim": (lambda m, x: m.logsumexp(x, -1, keepdim=True), [S3, S2], True),
    "logsumexp_dims": (lambda m, x: x.logsumexp((0, 1)), [S3, S2], True),
    "norm_fro": (lambda m, x: x.norm(), [S3, (5,), ()], True),
    "norm_2_dim": (lambda m, x: m.norm(x, 2, dim=1), [S3, S2], True),
    "norm_1": (lambda m, x: x.norm(1), [S3, S2], True),
    "norm_inf": (lambda m, x: x.norm(float("inf")), [S3, S2], True),
    "norm_ninf_dim": (lambda m, x: x.norm(float("-inf"), dim=0), [S3, S2], True),
    "norm_3_keepdim": (lambda m, x: x.norm(3, dim=-1, keepdim=True), [S3, S2], True),
    "norm_dims": (lambda m, x: x.norm(dim=(0, 1)), [S3], True),
    "sum_empty_dims": (lambda m, x: x.sum(()), [S3, ()], True),
    "mean_list_dims": (lambda m, x: x.mean([0, -1]), [S3], True),
    "var_list_dims": (lambda m, x: x.var([0, 2]), [S3], True),
    "amax_empty_dims": (lambda m, x: x.amax(()), [S2], True),
    "amin_list_dims": (lambda m, x: x.amin([]), [S2], True),
    "prod_all": (lambda m, x: x.prod(), [S3, (5,), ()], True),
    "prod_dim": (lambda m, x: x.prod(1), [S3, S2], True),
    "prod_negdim_keepdim": (lambda m, x: m.prod(x, -1, keepdim=True), [S3, (4,)], True),
}

CASES = [(name, shape) for name, (_, shapes, _) in REDUCE.items() for shape in shapes]


@pytest.mark.parametrize("name,shape", CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_reduce_parity(name, shape):
    fn, _, _ = REDUCE[name]
    check_op(functools.partial(fn, torch), [shape], functools.partial(fn, dl))


@pytest.mark.parametrize("name,shape", [c for c in CASES if REDUCE[c[0]][2]], ids=str)
def test_reduce_gradcheck(name, shape):
    fn, _, _ = REDUCE[name]
    check_grad(functools.partial(_values, fn, dl), [shape])


def _values(fn, m, x):
    """The differentiable output of ``fn`` (the values of a ``(values, indices)`` pair)."""
    out = fn(m, x)
    return out[0] if isinstance(out, tuple) else out


TIES = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5], [-1.0, -1.0, 2.0, -1.0]], dtype=np.float32)

TIE_CASES = {
    "max_all": lambda x: x.max(),
    "min_all": lambda x: x.min(),
    "amax_dim": lambda x: x.amax(1),
    "amin_dim": lambda x: x.amin(-1),
    "amax_all": lambda x: x.amax(),
    "max_dim": lambda x: x.max(1),
    "min_dim": lambda x: x.min(-1),
    "argmax": lambda x: x.argmax(1),
    "argmin": lambda x: x.argmin(1),
    "argmax_all": lambda x: x.argmax(),
    "norm_inf": lambda x: x.norm(float("inf"), dim=1),
}


@pytest.mark.parametrize("name", list(TIE_CASES))
def test_reduce_ties_match_torch(name):
    # Gradients at ties: max()/amax share evenly, max(dim) gives it all to the returned index.
    check_op(TIE_CASES[name], None, arrays=[TIES])


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
def test_var_with_too_few_elements_is_nan_like_torch():
    check_op(lambda x: x.var(0), [(1, 4)])


def test_std_of_constant_has_zero_gradient():
    x = np.array([[0.7, 0.7, 0.7], [1.0, 2.0, 0.5]], dtype=np.float32)
    check_op(lambda x: x.std(1), None, arrays=[x])
    check_op(lambda x: x.std(), None, arrays=[x[:1]])
    check_op(lambda x: x.std(correction=0), None, arrays=[np.array(0.7, dtype=np.float32)])


def test_prod_with_zeros():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5], [1.0, -2.0, 0.5]], dtype=np.float32)
    check_op(lambda x: x.prod(1), None, arrays=[x])
    check_op(lambda x: x.prod(0, keepdim=True), None, arrays=[x])
    check_grad(lambda x: x.prod(1), None, arrays=[x.astype(np.float64)])
    check_op(lambda x: (x > 0).prod(), [(3, 4)], grad=False)


def test_norm_of_zero_has_zero_gradient():
    check_op(lambda x: x.norm(), None, arrays=[np.zeros((2, 3), dtype=np.float32)])
    check_op(lambda x: x.norm(dim=1), None, arrays=[np.array([[0.0, 0.0], [3.0, 4.0]], dtype=np.float32)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_logsumexp_extremes():
    x = np.array([[-100.0, 100.0, 0.0], [-np.inf, 1.0, 2.0], [1000.0, 1000.0, -1000.0]], dtype=np.float32)
    check_op(lambda x: x.logsumexp(1), None, arrays=[x])
    check_grad(lambda x: x.logsumexp(1), None, arrays=[x[:, :].astype(np.float64)[[0, 2]]])


def test_max_returns_named_pair():
    x = dl.tensor([[1.0, 5.0], [7.0, 2.0]])
    out = x.max(1)
    values, indices = out
    assert out.values is values and out.indices is indices
    np.testing.assert_array_equal(values.array, [5.0, 7.0])
    np.testing.assert_array_equal(indices.array, [1, 0])
    assert indices.dtype == np.int64
    out = dl.min(x, dim=0)
    np.testing.assert_array_equal(out.values.array, [1.0, 2.0])
    np.testing.assert_array_equal(out.indices.array, [0, 1])


def test_max_of_two_tensors_is_elementwise():
    check_op(lambda a, b: torch.max(a, b), [(3, 4), (4,)], lambda a, b: dl.max(a, b))
    check_op(lambda a, b: torch.min(a, b), [(3, 4), (3, 1)], lambda a, b: dl.min(a, b))


@pytest.mark.parametrize(
    "fn",
    [lambda x: x.sum(3), lambda x: x.mean(-4), lambda x: x.max(5), lambda x: x.var(3), lambda x: x.argmax(-4),
     lambda x: x.logsumexp(3), lambda x: x.amax(3)],
    ids=["sum", "mean", "max", "var", "argmax", "logsumexp", "amax"],
)
def test_dim_out_of_range_raises_index_error(fn):
    with pytest.raises(IndexError):
        fn(torch.ones(2, 3, 4))
    with pytest.raises(IndexError):
        fn(dl.ones(2, 3, 4))


def test_reduce_dtypes():
    for fn in (lambda m: m.tensor([[1, 2], [3, 4]]).sum(0), lambda m: m.tensor([True, True]).sum(),
               lambda m: m.ones(2, 2, dtype=m.float64).mean(1), lambda m: m.tensor([[1, 2], [3, 4]]).max(1).values,
               lambda m: m.tensor([1.0, 2.0]).argmax(), lambda m: m.tensor([1, 2]).sum(dtype=m.float32)):
        t, d = fn(torch), fn(dl)
        assert str(t.dtype).replace("torch.", "") == d.dtype.name
        np.testing.assert_allclose(d.array, t.numpy())


def test_mean_of_int_raises_like_torch():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).mean()
    with pytest.raises((TypeError, RuntimeError)):
        dl.tensor([1, 2]).mean()


def test_max_of_empty_raises():
    with pytest.raises(RuntimeError):
        dl.zeros(0).max()


OPS_COVERED = ["sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "logsumexp", "norm",
               "prod"]
NO_GRAD_OPS = ["argmax", "argmin"]


def test_ops_covered_are_in_the_table():
    for op in OPS_COVERED:
        assert any(name.split("_")[0] == op for name in REDUCE), op
