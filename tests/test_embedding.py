"""Embedding: lookup and scatter-add gradient against torch, gradcheck, layer parity and options."""

import numpy as np
import pytest
import torch

import deepling as dl
from oracle import check_grad, check_module, check_op


def _ids(shape, num, seed=0):
    return np.random.default_rng(seed).integers(0, num, size=shape).astype(np.int64)


@pytest.mark.parametrize("ids_shape", [(7,), (4, 9), (2, 3, 5), (0,)])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_functional_matches_torch(ids_shape, padding_idx):
    w = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    ids = _ids(ids_shape, 6)
    check_op(lambda w, i: torch.nn.functional.embedding(i, w, padding_idx=padding_idx),
             None, lambda w, i: dl.nn.functional.embedding(i, w, padding_idx=padding_idx), arrays=[w, ids])


def test_embedding_gradcheck():
    ids = np.array([[0, 3, 3], [1, 0, 3]])
    check_grad(lambda w, i: dl.nn.functional.embedding(i, w), None,
               arrays=[np.random.default_rng(0).standard_normal((5, 3)), ids])


def test_embedding_large_vocab_gradient_matches_add_at():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 1000, size=(64, 33))
    w = dl.randn(1000, 8, requires_grad=True)
    g = rng.standard_normal((64, 33, 8)).astype(np.float32)
    dl.nn.functional.embedding(dl.tensor(ids), w).backward(dl.tensor(g))
    want = np.zeros((1000, 8), np.float32)
    np.add.at(want, ids.reshape(-1), g.reshape(-1, 8))
    np.testing.assert_allclose(w.grad.array, want, atol=1e-5)


def test_embedding_layer_state_dict_and_padding():
    torch.manual_seed(0)
    t = torch.nn.Embedding(10, 5, padding_idx=0)
    m = dl.nn.Embedding(10, 5, padding_idx=0)
    assert np.all(m.weight.array[0] == 0) and m.weight.shape == (10, 5) and m.weight.dtype == np.float32
    assert list(m.state_dict()) == list(t.state_dict()) == ["weight"]
    ids = _ids((3, 4), 10, seed=3)
    ids[0, 0] = 0
    check_module(m, t, [ids], atol=1e-6, rtol=1e-6, grad_atol=1e-6, grad_rtol=1e-5)
    assert np.all(m.weight.grad.array[0] == 0)
    t2 = torch.nn.Embedding(10, 5, padding_idx=0)
    t2.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    np.testing.assert_array_equal(t2.weight.detach().numpy(), m.weight.array)


def test_embedding_max_norm_matches_torch():
    w = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32) * 3
    t = torch.nn.Embedding(8, 4, max_norm=1.5)
    m = dl.nn.Embedding(8, 4, max_norm=1.5)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(w))
    m.load_state_dict(t.state_dict())
    ids = np.array([[1, 2, 2], [5, 1, 7]])
    out, tout = m(dl.tensor(ids)), t(torch.tensor(ids))
    np.testing.assert_allclose(out.array, tout.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(m.weight.array, t.weight.detach().numpy(), atol=1e-6)
    assert np.allclose(m.weight.array[0], w[0])  # untouched rows keep their norm


def test_embedding_from_pretrained_freezes():
    w = dl.randn(4, 3)
    m = dl.nn.Embedding.from_pretrained(w)
    assert not m.weight.requires_grad and m.weight.shape == (4, 3)
    np.testing.assert_array_equal(m(dl.tensor([3, 0])).array, w.array[[3, 0]])
    m2 = dl.nn.Embedding.from_pretrained(w, freeze=False, padding_idx=1)
    assert m2.weight.requires_grad and m2.padding_idx == 1


def test_embedding_bad_input():
    m = dl.nn.Embedding(4, 3)
    with pytest.raises(TypeError, match="embedding"):
        m(dl.tensor([0.5, 1.0]))
    with pytest.raises(IndexError, match="embedding"):
        m(dl.tensor([0, 4]))
    with pytest.raises(ValueError, match="padding_idx"):
        dl.nn.Embedding(4, 3, padding_idx=4)
