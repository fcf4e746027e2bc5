"""Matrix products against PyTorch (values, gradients, dtypes) and float64 finite differences."""

import functools

import numpy as np
import pytest
import torch

import deepling as dl
from oracle import check_grad, check_op

MATMUL_SHAPES = [
    [(4,), (4,)],  # dot
    [(4,), (4, 3)],  # vector @ matrix
    [(3, 4), (4,)],  # matrix @ vector
    [(3, 4), (4, 5)],
    [(1, 4), (4, 1)],
    [(2, 3, 4), (2, 4, 5)],  # batched
    [(2, 3, 4), (4, 5)],  # batched @ matrix (a Linear on (N, T, H))
    [(3, 4), (2, 4, 5)],  # matrix @ batched
    [(2, 1, 3, 4), (5, 4, 2)],  # broadcast batch dims
    [(1, 3, 4), (2, 4, 2)],  # size-1 batch dim stretched
    [(4,), (2, 4, 3)],  # vector @ batched
    [(2, 3, 4), (4,)],  # batched @ vector
]

# name -> (fn(lib, a, b), shape pairs)
MATMUL = {
    "matmul": (lambda m, a, b: a @ b, MATMUL_SHAPES),
    "matmul_fn": (lambda m, a, b: m.matmul(a, b), MATMUL_SHAPES[::3]),
    "matmul_method": (lambda m, a, b: a.matmul(b), MATMUL_SHAPES[1::3]),
    "mm": (lambda m, a, b: m.mm(a, b), [[(3, 4), (4, 5)], [(1, 2), (2, 1)]]),
    "bmm": (lambda m, a, b: a.bmm(b), [[(2, 3, 4), (2, 4, 5)], [(1, 1, 3), (1, 3, 2)]]),
    "dot": (lambda m, a, b: m.dot(a, b), [[(4,), (4,)], [(1,), (1,)]]),
    "linear": (lambda m, x, w: m.nn.functional.linear(x, w), [[(3, 4), (5, 4)], [(2, 3, 4), (5, 4)], [(4,), (2, 4)]]),
    "linear_bias": (lambda m, x, w, b: m.nn.functional.linear(x, w, b), [[(3, 4), (5, 4), (5,)], [(2, 3, 4), (5, 4), (5,)]]),
}

CASES = [(name, shapes) for name, (_, table) in MATMUL.items() for shapes in table]
IDS = [f"{n}-{s}" for n, s in CASES]


@pytest.mark.parametrize("name,shapes", CASES, ids=IDS)
def test_matmul_parity(name, shapes):
    fn = MATMUL[name][0]
    check_op(functools.partial(fn, torch), shapes, functools.partial(fn, dl))


@pytest.mark.parametrize("name,shapes", CASES, ids=IDS)
def test_matmul_gradcheck(name, shapes):
    check_grad(functools.partial(MATMUL[name][0], dl), shapes)


def test_matmul_with_one_side_constant():
    # only one input needs a gradient: the other branch of backward is skipped
    a = dl.randn(3, 4, requires_grad=True)
    b = dl.randn(4, 2)
    (a @ b).sum().backward()
    np.testing.assert_allclose(a.grad.array, np.broadcast_to(b.array.sum(1), (3, 4)), rtol=1e-6)
    assert b.grad is None


def test_matmul_integer_and_float64():
    for fn in (lambda m: m.tensor([[1, 2], [3, 4]]) @ m.tensor([[1], [2]]),
               lambda m: m.ones(2, 3, dtype=m.float64) @ m.ones(3, dtype=m.float64)):
        t, d = fn(torch), fn(dl)
        assert str(t.dtype).replace("torch.", "") == d.dtype.name
        np.testing.assert_array_equal(d.array, t.numpy())


MATMUL_ERRORS = [
    ("inner", lambda: dl.ones(32, 784) @ dl.ones(128, 10), r"matmul: shapes \(32, 784\) and \(128, 10\).*784 != 128"),
    ("vector", lambda: dl.ones(3) @ dl.ones(4), r"matmul.*\(3,\).*\(4,\)"),
    ("batch", lambda: dl.ones(2, 3, 4) @ dl.ones(3, 4, 5), r"matmul.*\(2, 3, 4\).*\(3, 4, 5\)"),
    ("scalar", lambda: dl.ones(()) @ dl.ones(3), r"matmul.*\(\).*\(3,\)"),
    ("mm", lambda: dl.mm(dl.ones(3), dl.ones(3, 2)), r"mm.*\(3,\).*\(3, 2\)"),
    ("bmm", lambda: dl.bmm(dl.ones(2, 3, 4), dl.ones(3, 4, 5)), r"bmm.*\(2, 3, 4\).*\(3, 4, 5\)"),
    ("dot", lambda: dl.dot(dl.ones(3), dl.ones(4)), r"dot|matmul.*\(3,\).*\(4,\)"),
    ("linear", lambda: dl.nn.functional.linear(dl.ones(3, 4), dl.ones(5, 3)), r"linear.*\(3, 4\).*\(5, 3\)"),
]


@pytest.mark.parametrize("name,call,pattern", MATMUL_ERRORS, ids=[e[0] for e in MATMUL_ERRORS])
def test_matmul_errors_name_op_and_shapes(name, call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_matmul_wrong_type():
    with pytest.raises(TypeError):
        dl.ones(2, 2) @ "x"
    with pytest.raises(TypeError):
        dl.matmul([[1.0]], [[2.0]])


OPS_COVERED = ["matmul", "mm", "bmm", "dot", "linear"]


def test_ops_covered_are_in_the_table():
    for op in OPS_COVERED:
        assert op in MATMUL, op
