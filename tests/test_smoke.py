"""A first end-to-end check of the engine; the per-op suites live in test_ops_*.py."""

import numpy as np
import torch

import deepling as dl
from oracle import check_grad, check_op


def test_mlp_step_matches_torch():
    check_op(lambda x, w1, w2: ((x @ w1).relu() @ w2).tanh().mean(), [(8, 5), (5, 7), (7, 3)])


def test_gradcheck_mlp():
    check_grad(lambda x, w: (x @ w).sigmoid().sum(), [(4, 3), (3, 2)])


def test_linear_matches_torch():
    lin = dl.nn.Linear(5, 3)
    tlin = torch.nn.Linear(5, 3)
    lin.load_state_dict(tlin.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(lin(dl.tensor(x)).array, tlin(torch.tensor(x)).detach().numpy(), atol=1e-6)


def test_diamond_graph_accumulates_both_paths():
    # e feeds q through two paths (numerator and the sum in the denominator); both must reach z.
    check_op(lambda z: (lambda e: e / e.sum())((z - z.max()).exp()).log().sum(), [(6,)])
    check_op(lambda a: (a * a.exp()).sum() + (a.exp() / a.exp().sum()).pow(2).sum(), [(3, 4)])


def test_load_state_dict_copies_into_existing_arrays():
    lin = dl.nn.Linear(3, 2)
    view = lin.weight.array
    lin.load_state_dict({"weight": np.ones((2, 3), np.float32), "bias": np.zeros(2, np.float32)})
    assert lin.weight.array is view and np.all(view == 1)


def test_numpy_array_copy_of_a_tensor_does_not_share_memory():
    t = dl.ones(3)
    snap = np.array(t, copy=True)
    t.add_(1)
    assert not np.shares_memory(snap, t.array) and np.all(snap == 1)
    assert np.shares_memory(np.asarray(t), t.array)


def test_softmax_methods_match_torch():
    check_op(lambda x: x.softmax(-1), [(3, 5)])
    check_op(lambda x: x.log_softmax(dim=0), [(4, 2)])
