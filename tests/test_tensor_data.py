"""``Tensor.data`` as PyTorch has it: a Tensor over the same memory, no history, writes untracked."""

import numpy as np
import pytest
import torch

import deepling as dl
import deepling.nn as nn


def _both(values):
    return dl.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


def test_data_is_a_tensor_sharing_memory_without_history():
    d, t = _both([1.0, 2.0, 3.0])
    dd, td = d.data, t.data
    assert isinstance(dd, dl.Tensor) and not isinstance(dd, np.ndarray)
    assert dd.requires_grad is td.requires_grad is False
    assert dd.is_leaf and td.is_leaf and dd.grad_fn is None
    assert np.shares_memory(dd.array, d.array)
    y = (d * 2).data
    assert y.grad_fn is None and not y.requires_grad


def test_writes_through_data_change_the_tensor_and_are_not_recorded():
    for lib, (x) in ((dl, _both([1.0, 2.0, 3.0])[0]), (torch, _both([1.0, 2.0, 3.0])[1])):
        y = x * x  # saves x for backward
        x.data.add_(1.0)  # untracked: no error about a leaf in an in-place op
        x.data.mul_(2.0)
        assert x.tolist() == [4.0, 6.0, 8.0], lib.__name__
        y.sum().backward()  # the gradient uses the (modified) saved value in both frameworks
        assert x.grad.tolist() == [8.0, 12.0, 16.0], lib.__name__


@pytest.mark.parametrize("idiom", ["normal", "fill", "zero", "copy", "grad_data"])
def test_module_init_idioms_match_torch(idiom):
    dm, tm = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    for m in (dm, tm):
        if idiom == "normal":
            m.weight.data.normal_(0, 0.02)
            assert abs(float(m.weight.std())) < 0.2
        elif idiom == "fill":
            m.bias.data.fill_(0.01)
            np.testing.assert_allclose(np.asarray(m.bias.detach().numpy()), [0.01, 0.01], rtol=1e-6)
        elif idiom == "zero":
            m.weight.data.zero_()
            assert float(m.weight.abs().sum()) == 0.0
        elif idiom == "copy":
            m.weight.data.copy_(m.weight.data * 0 + 1)
            assert float(m.weight.sum()) == 6.0
        else:
            m(type(m.weight)(np.ones((1, 3), np.float32)) if m is dm else torch.ones(1, 3)).sum().backward()
            m.weight.grad.data.mul_(0.5)
            np.testing.assert_allclose(np.asarray(m.weight.grad.detach().numpy()), 0.5, rtol=1e-6)
        assert m.weight.is_leaf and m.weight.requires_grad


def test_assigning_data_swaps_storage_shape_and_dtype():
    d, t = _both([1.0, 2.0])
    d.data = dl.zeros(3, 2, dtype=dl.float64)
    t.data = torch.zeros(3, 2, dtype=torch.float64)
    assert d.shape == tuple(t.shape) == (3, 2)
    assert d.dtype == np.float64 and t.dtype == torch.float64
    assert d.requires_grad and t.requires_grad
    p = nn.Parameter(dl.ones(2))
    src = dl.arange(4.0)
    p.data = src
    assert np.shares_memory(p.array, src.array) and p.shape == (4,)


def test_assigning_a_non_tensor_to_data_is_a_clear_error():
    d = dl.ones(2)
    with pytest.raises(TypeError, match="data: expected a Tensor, got list"):
        d.data = [1.0, 2.0]


def test_sgd_written_with_data_matches_torch():
    rng = np.random.default_rng(0)
    w0, x0 = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    results = []
    for lib in (dl, torch):
        w, x = lib.tensor(w0, requires_grad=True), lib.tensor(x0)
        for _ in range(3):
            loss = (x @ w.T).tanh().pow(2).sum()
            loss.backward()
            w.data.add_(w.grad.data, alpha=-0.1)  # the classic manual update
            w.grad.data.zero_()
        results.append(w.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)
