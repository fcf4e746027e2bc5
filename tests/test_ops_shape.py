"""Shape and indexing ops against PyTorch (values, dtypes, gradients) and float64 finite differences."""

import functools

import numpy as np
import pytest
import torch

import deepling as dl
from oracle import check_grad, check_op

S3 = [(2, 3, 4)]


def _set(m, x, v):
    y = x * 1  # assign into a non-leaf copy so the graph goes through both x and v
    y[1:, ::2] = v * 2
    return y


def _set_mask(m, x, v):
    y = x + 0
    y[x > 0] = 0.0
    y[0] = v
    return y


def _set_index(m, x, v):
    y = x.clone()
    y[m.tensor([0, 2]), 1:3] = v
    return y


# name -> (fn(lib, *inputs), list of input-shape lists, differentiable)
SHAPE = {
    "reshape": (lambda m, x: x.reshape(4, 6), [S3], True),
    "reshape_infer": (lambda m, x: x.reshape((-1, 2)), [S3, [(4, 1)]], True),
    "reshape_fn": (lambda m, x: m.reshape(x, (3, 8)), [S3], True),
    "reshape_0d": (lambda m, x: x.reshape(1, 1), [[()]], True),
    "reshape_to_0d": (lambda m, x: x.reshape(()), [[(1, 1)]], True),
    "view": (lambda m, x: x.view(24), [S3], True),
    "view_infer": (lambda m, x: x.view(-1, 3, 2), [S3], True),
    "view_as": (lambda m, x, y: x.view_as(y) * y, [[(2, 6), (3, 4)]], True),
    "flatten": (lambda m, x: x.flatten(), [S3, [()], [(5,)]], True),
    "flatten_start": (lambda m, x: x.flatten(1), S3 and [S3, [(2, 3)]], True),
    "flatten_range": (lambda m, x: m.flatten(x, 0, -2), [S3, [(2, 3, 4, 1)]], True),
    "flatten_negstart": (lambda m, x: x.flatten(start_dim=-2), [S3], True),
    "transpose": (lambda m, x: x.transpose(0, 1), [S3, [(3, 4)]], True),
    "transpose_neg": (lambda m, x: m.transpose(x, -1, -3), [S3], True),
    "T": (lambda m, x: x.T, [[(3, 4)]], True),
    "t": (lambda m, x: x.t(), [[(3, 4)]], True),
    "mT": (lambda m, x: x.mT, [S3], True),
    "permute": (lambda m, x: x.permute(2, 0, 1), [S3], True),
    "permute_neg": (lambda m, x: m.permute(x, (-1, 0, 1)), [S3], True),
    "squeeze": (lambda m, x: x.squeeze(), [[(1, 3, 1, 4)], [(1,)], [()]], True),
    "squeeze_dim": (lambda m, x: x.squeeze(0), [[(1, 3, 1, 4)], [(2, 3)]], True),
    "squeeze_negdim": (lambda m, x: m.squeeze(x, -2), [[(1, 3, 1, 4)]], True),
    "squeeze_dims": (lambda m, x: x.squeeze((0, 2)), [[(1, 3, 1, 4)]], True),
    "squeeze_0d": (lambda m, x: x.squeeze(0), [[()]], True),
    "unsqueeze": (lambda m, x: x.unsqueeze(0), [S3, [()]], True),
    "unsqueeze_neg": (lambda m, x: m.unsqueeze(x, -1), [S3, [()]], True),
    "unsqueeze_mid": (lambda m, x: x.unsqueeze(2), [S3], True),
    "expand": (lambda m, x: x.expand(3, 4), [[(3, 1)], [(4,)], [()]], True),
    "expand_lead": (lambda m, x: x.expand(2, 3, 4), [[(3, 1)], [(1, 1, 4)]], True),
    "expand_keep": (lambda m, x: x.expand(-1, 5), [[(3, 1)]], True),
    "expand_as": (lambda m, x, y: x.expand_as(y) * y, [[(3, 1), (2, 3, 4)]], True),
    "repeat": (lambda m, x: x.repeat(2, 3), [[(3, 4)], [(1, 2)], [()]], True),
    "repeat_newdims": (lambda m, x: x.repeat(2, 1, 2), [[(3, 4)], [(4,)]], True),
    "cat": (lambda m, a, b: m.cat([a, b]), [[(2, 3), (4, 3)], [(1,), (5,)]], True),
    "cat_neg": (lambda m, a, b, c: m.cat((a, b, c), dim=-1), [[(2, 3), (2, 1), (2, 2)]], True),
    "cat_mid": (lambda m, a, b: m.cat([a, b], 1), [[(2, 3, 4), (2, 1, 4)]], True),
    "stack": (lambda m, a, b: m.stack([a, b]), [[(2, 3), (2, 3)], [(), ()]], True),
    "stack_neg": (lambda m, a, b, c: m.stack((a, b, c), dim=-1), [[(2, 3), (2, 3), (2, 3)]], True),
    "stack_mid": (lambda m, a, b: m.stack([a, b], 1), [[(2, 3), (2, 3)]], True),
    "split": (lambda m, x: x.split(2), [[(5, 3)], [(4,)], [(1, 2)]], True),
    "split_bigger_than_dim": (lambda m, x: x.split(5, 1), [[(3, 2)]], True),
    "chunk_more_than_size": (lambda m, x: x.chunk(5), [[(3, 2)], [(6,)]], True),
    "unflatten": (lambda m, x: x.unflatten(1, (2, 3)), [[(2, 6)]], True),
    "unflatten_infer": (lambda m, x: x.unflatten(-1, (-1, 3)), [[(2, 6)]], True),
    "cat_skips_empty_1d": (lambda m, x: m.cat([m.tensor([]), x.reshape(-1)]), [[(2, 3)]], True),
    "flip_dims": (lambda m, x: x.flip((0, -1)), [S3], True),
    "split_sizes": (lambda m, x: x.split([1, 3], dim=-1), [S3], True),
    "split_fn": (lambda m, x: m.split(x, 2, dim=1), [S3], True),
    "chunk": (lambda m, x: x.chunk(2, 1), [S3], True),
    "chunk_uneven": (lambda m, x: x.chunk(3), [[(5, 2)], [(7,)]], True),
    "chunk_fn": (lambda m, x: m.chunk(x, 2, -1), [S3], True),
    "getitem_int": (lambda m, x: x[1], S3 and [S3, [(4,)]], True),
    "getitem_negint": (lambda m, x: x[-1, 0], [S3], True),
    "getitem_slice": (lambda m, x: x[1:3], [[(4, 3)], [(5,)]], True),
    "getitem_step": (lambda m, x: x[::2, 1::2], [[(5, 6)]], True),
    "getitem_multi": (lambda m, x: x[:, 1:, :-1], [S3], True),
    "getitem_ellipsis": (lambda m, x: x[..., 0], [S3], True),
    "getitem_none": (lambda m, x: x[None, :, None], [[(3, 4)], [(3,)]], True),
    "getitem_mixed": (lambda m, x: x[1, ..., None, 1:3], [S3], True),
    "getitem_0d_none": (lambda m, x: x[None], [[()]], True),
    "getitem_0d_ellipsis": (lambda m, x: x[...], [[()]], True),
    "getitem_list": (lambda m, x: x[[0, 2, 0]], [[(3, 4)]], True),
    "getitem_tensor_repeat": (lambda m, x: x[m.tensor([1, 1, 0, 1])], [[(3, 4)], [(3,)]], True),
    "getitem_tensor_2d": (lambda m, x: x[m.tensor([[0, 2], [2, 2]])], [[(3, 4)]], True),
    "getitem_tensor_dim1": (lambda m, x: x[:, m.tensor([2, 0, 2])], [S3], True),
    "getitem_two_tensors": (lambda m, x: x[m.tensor([0, 1, 1]), m.tensor([2, 2, 0])], [[(3, 4)], S3[0:1]], True),
    "getitem_mask": (lambda m, x: x[x > 0], [[(3, 4)], [(6,)]], True),
    "getitem_mask_rows": (lambda m, x: x[m.tensor([True, False, True])], [[(3, 4)]], True),
    "getitem_mask_dim1": (lambda m, x: x[:, m.tensor([True, False, True])], [S3], True),
    "getitem_neg_tensor": (lambda m, x: x[m.tensor([-1, 0, -2])], [[(4, 3)]], True),
    "getitem_split_tensors": (lambda m, x: x[m.tensor([0, 1]), :, m.tensor([1, 2])], [S3], True),
    "getitem_int_and_tensor": (lambda m, x: x[1, m.tensor([0, 2])], [S3], True),
    "getitem_ellipsis_tensor": (lambda m, x: x[..., m.tensor([0, 3, 3])], [S3], True),
    "getitem_bool_list": (lambda m, x: x[[True, False, True]], [[(3, 2)]], True),
    "getitem_mask_2d_on_3d": (lambda m, x: x[x.sum(-1) > 0], [S3], True),
    "gather": (lambda m, x: x.gather(1, m.tensor([[0, 0], [2, 1], [1, 1]])), [[(3, 3)]], True),
    "gather_dim0": (lambda m, x: m.gather(x, 0, m.tensor([[2, 0, 2, 2]])), [[(3, 4)]], True),
    "gather_neg": (lambda m, x: x.gather(-1, m.tensor([[[0], [3], [3]], [[1], [1], [2]]])), [S3], True),
    "gather_small_index": (lambda m, x: x.gather(1, m.tensor([[0, 0]])), [[(3, 4)]], True),
    "scatter_add": (lambda m, x, s: x.scatter_add(0, m.tensor([[0, 1, 0], [0, 0, 2]]), s), [[(3, 3), (2, 3)]], True),
    "scatter_add_dim1": (lambda m, x, s: m.scatter_add(x, 1, m.tensor([[1, 1], [0, 2]]), s), [[(2, 3), (2, 2)]], True),
    "index_select": (lambda m, x: x.index_select(0, m.tensor([2, 0, 2])), [[(3, 4)]], True),
    "index_select_neg": (lambda m, x: m.index_select(x, -1, m.tensor([1, 1, 3])), [S3], True),
    "index_select_0d_index": (lambda m, x: x.index_select(1, m.tensor(2)), [[(3, 4)]], True),
    "masked_fill": (lambda m, x: x.masked_fill(x > 0.5, -1.0), [[(3, 4)], [()]], True),
    "masked_fill_broadcast": (lambda m, x: m.masked_fill(x, m.tensor([True, False, False, True]), 2.5), [S3], True),
    "masked_fill_tensor_value": (lambda m, x: x.masked_fill(x < 0, m.tensor(0.25)), [[(3, 4)]], True),
    "tril": (lambda m, x: x.tril(), [[(4, 4)], [(3, 5)], S3[0:1]], True),
    "tril_diag": (lambda m, x: m.tril(x, -1), [[(4, 4)], [(5, 3)]], True),
    "triu": (lambda m, x: x.triu(), [[(4, 4)], S3[0:1]], True),
    "triu_diag": (lambda m, x: m.triu(x, diagonal=2), [[(4, 4)], [(3, 5)]], True),
    "flip": (lambda m, x: x.flip(0), [S3], True),
    "setitem": (_set, [[(3, 4), (2, 2)], [(3, 4), ()]], True),
    "setitem_mask": (_set_mask, [[(3, 4), (4,)]], True),
    "setitem_index": (_set_index, [[(3, 4), (2, 2)]], True),
    "one_hot": (lambda m, x: m.nn.functional.one_hot((x > 0).long() + (x > 1).long()), [[(5,)], [(2, 3)]], False),
    "one_hot_classes": (lambda m, x: m.nn.functional.one_hot((x > 0).long(), num_classes=4), [[(3, 2)], [()]], False),
}

CASES = [(name, shapes) for name, (_, table, _) in SHAPE.items() for shapes in table]
IDS = [f"{n}-{s}" for n, s in CASES]


@pytest.mark.parametrize("name,shapes", CASES, ids=IDS)
def test_shape_parity(name, shapes):
    fn, _, _ = SHAPE[name]
    check_op(functools.partial(fn, torch), shapes, functools.partial(fn, dl))


def _sum_outputs(fn, m, *xs):
    """Tuple outputs (split, chunk) become one tensor so gradcheck sees every piece."""
    out = fn(m, *xs)
    if isinstance(out, tuple):
        return m.cat([o.reshape(-1) for o in out])
    return out


@pytest.mark.parametrize("name,shapes", [c for c in CASES if SHAPE[c[0]][2]], ids=[i for c, i in zip(CASES, IDS) if SHAPE[c[0]][2]])
def test_shape_gradcheck(name, shapes):
    fn, _, _ = SHAPE[name]
    check_grad(functools.partial(_sum_outputs, fn, dl), shapes)


def test_getitem_repeated_indices_accumulate():
    x = dl.ones(3, requires_grad=True)
    x[dl.tensor([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.array, [3.0, 0.0, 1.0])


def test_cat_promotes_dtypes_like_torch():
    for fn in (lambda m: m.cat([m.ones(2), m.ones(2, dtype=m.float64)]),
               lambda m: m.cat([m.tensor([1, 2]), m.tensor([0.5])]),
               lambda m: m.stack([m.tensor([1, 2]), m.tensor([True, False])])):
        t, d = fn(torch), fn(dl)
        assert str(t.dtype).replace("torch.", "") == d.dtype.name
        np.testing.assert_array_equal(d.array, t.numpy())


def test_views_share_no_state_with_the_graph():
    # reshape of an unchanged shape returns the input itself; still differentiable
    x = dl.randn(2, 3, requires_grad=True)
    y = x.reshape(2, 3)
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.array, np.full((2, 3), 2.0))


# ---------------------------------------------------------------------------- errors
SHAPE_ERRORS = [
    ("reshape", lambda: dl.ones(2, 3).reshape(4, 2), r"reshape.*\(4, 2\).*\(2, 3\)"),
    ("view", lambda: dl.ones(2, 3).view(5), r"reshape.*\(5,\).*\(2, 3\)"),
    ("cat", lambda: dl.cat([dl.ones(2, 3), dl.ones(2, 4)]), r"cat.*\(2, 3\).*\(2, 4\)"),
    ("cat_ndim", lambda: dl.cat([dl.ones(2, 3), dl.ones(3)]), r"cat.*\(2, 3\).*\(3,\)"),
    ("stack", lambda: dl.stack([dl.ones(2, 3), dl.ones(3, 2)]), r"stack.*\(2, 3\).*\(3, 2\)"),
    ("expand", lambda: dl.ones(2, 3).expand(4, 3), r"expand.*\(2, 3\).*\(4, 3\)"),
    ("split", lambda: dl.ones(5).split([2, 2]), r"split.*\[2, 2\].*\(5,\)"),
    ("masked_fill", lambda: dl.ones(2, 3).masked_fill(dl.ones(3, 2) > 0, 0.0), r"masked_fill.*\(3, 2\).*\(2, 3\)"),
    ("gather", lambda: dl.ones(2, 3).gather(1, dl.tensor([0, 1])), r"gather.*\(2,\).*\(2, 3\)"),
    ("repeat", lambda: dl.ones(2, 3).repeat(2), r"repeat.*\(2, 3\)"),
    ("permute", lambda: dl.ones(2, 3).permute(0, 0), r"permute.*\(2, 3\)"),
    ("tril", lambda: dl.ones(3).tril(), r"tril.*\(3,\)"),
]


@pytest.mark.parametrize("name,call,pattern", SHAPE_ERRORS, ids=[e[0] for e in SHAPE_ERRORS])
def test_shape_errors_name_op_and_shapes(name, call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


@pytest.mark.parametrize(
    "call",
    [lambda: dl.cat([dl.ones(2), [1.0, 2.0]]), lambda: dl.ones(3).gather(0, dl.tensor([0.5])),
     lambda: dl.ones(3).index_select(0, dl.tensor([1.0])), lambda: dl.ones(3).masked_fill(dl.tensor([1, 0, 1]), 0.0),
     lambda: dl.nn.functional.one_hot(dl.tensor([0.0, 1.0]))],
    ids=["cat_list", "gather_float_index", "index_select_float", "masked_fill_int_mask", "one_hot_float"],
)
def test_wrong_types_raise_type_error(call):
    with pytest.raises(TypeError):
        call()


@pytest.mark.parametrize(
    "fn", [lambda x: x.transpose(0, 3), lambda x: x.unsqueeze(4), lambda x: x.squeeze(-4), lambda x: x.flatten(3),
           lambda x: x.permute(0, 1, 3)],
    ids=["transpose", "unsqueeze", "squeeze", "flatten", "permute"],
)
def test_dim_out_of_range_raises_index_error(fn):
    with pytest.raises(IndexError):
        fn(torch.ones(2, 3, 4))
    with pytest.raises(IndexError):
        fn(dl.ones(2, 3, 4))


OPS_COVERED = [
    "reshape", "view", "flatten", "transpose", "permute", "squeeze", "unsqueeze", "expand", "repeat", "cat",
    "stack", "split", "chunk", "getitem", "gather", "scatter_add", "index_select", "masked_fill", "tril", "triu",
    "one_hot", "setitem",
]
NO_GRAD_OPS = ["one_hot"]


def test_ops_covered_are_in_the_table():
    for op in OPS_COVERED:
        assert any(name == op or name.startswith(op + "_") for name in SHAPE), op
