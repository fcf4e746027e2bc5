"""nn.utils gradient clipping and parameter-vector helpers against PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import deepling as dl
from deepling.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    get_total_norm,
    parameters_to_vector,
    vector_to_parameters,
)

SHAPES = [(7, 5), (5,), (2, 3, 4)]


def _pair(scale: float = 1.0, seed: int = 0, none_at: int | None = None):
    rng = np.random.default_rng(seed)
    dps, tps = [], []
    for i, s in enumerate(SHAPES):
        w = rng.standard_normal(s).astype(np.float32)
        g = (rng.standard_normal(s) * scale).astype(np.float32)
        dp, tp = dl.nn.Parameter(dl.tensor(w)), torch.nn.Parameter(torch.tensor(w))
        if i != none_at:
            dp.grad, tp.grad = dl.tensor(g), torch.tensor(g)
        dps.append(dp)
        tps.append(tp)
    return dps, tps


def _assert_grads(dps, tps, rtol=1e-6):
    for i, (dp, tp) in enumerate(zip(dps, tps)):
        if tp.grad is None:
            assert dp.grad is None
            continue
        np.testing.assert_allclose(dp.grad.array, tp.grad.numpy(), rtol=rtol, atol=1e-7, equal_nan=True,
                                   err_msg=f"grad {i}")
        assert dp.grad.dtype == np.float32


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.5, 0.5, -math.inf, 0.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    dps, tps = _pair(scale=3.0, none_at=1)
    dtotal = clip_grad_norm_(dps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
    assert isinstance(dtotal, dl.Tensor) and dtotal.shape == () and dtotal.dtype == np.float32
    np.testing.assert_allclose(dtotal.array, ttotal.numpy(), rtol=1e-6)
    _assert_grads(dps, tps)


def test_clip_grad_norm_clips_to_max_norm():
    dps, _ = _pair(scale=10.0)
    total = clip_grad_norm_(dps, 1.0)
    assert total.item() > 1.0
    assert get_total_norm([p.grad for p in dps]).item() == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_on_a_single_tensor_and_a_generator():
    dps, tps = _pair(scale=2.0)
    np.testing.assert_allclose(clip_grad_norm_(dps[0], 0.3).array,
                               torch.nn.utils.clip_grad_norm_(tps[0], 0.3).numpy(), rtol=1e-6)
    model = dl.nn.Linear(4, 3)
    tmodel = torch.nn.Linear(4, 3)
    tmodel.load_state_dict({k: torch.tensor(v.array) for k, v in model.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    (model(dl.tensor(x)) ** 2).sum().backward()
    (tmodel(torch.tensor(x)) ** 2).sum().backward()
    np.testing.assert_allclose(clip_grad_norm_(model.parameters(), 0.1).array,
                               torch.nn.utils.clip_grad_norm_(tmodel.parameters(), 0.1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(model.weight.grad.array, tmodel.weight.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_without_grads_returns_zero():
    p = dl.nn.Parameter(dl.ones(3))
    total = clip_grad_norm_([p], 1.0)
    assert total.item() == torch.nn.utils.clip_grad_norm_([torch.nn.Parameter(torch.ones(3))], 1.0).item() == 0.0
    assert p.grad is None


def test_clip_grad_norm_nonfinite():
    dps, tps = _pair()
    dps[0].grad.array[0, 0] = np.inf
    tps[0].grad[0, 0] = math.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(dps, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(tps, 1.0, error_if_nonfinite=True)
    dtotal = clip_grad_norm_(dps, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, 1.0)
    assert math.isinf(dtotal.item()) and math.isinf(ttotal.item())
    _assert_grads(dps, tps)


@pytest.mark.parametrize("clip_value", [0.1, 0.7, 5.0])
def test_clip_grad_value_matches_torch(clip_value):
    dps, tps = _pair(scale=2.0, none_at=2)
    assert clip_grad_value_(dps, clip_value) is None
    torch.nn.utils.clip_grad_value_(tps, clip_value)
    _assert_grads(dps, tps, rtol=0)
    assert all(np.abs(p.grad.array).max() <= clip_value for p in dps if p.grad is not None)


def test_parameters_to_vector_matches_torch_and_is_differentiable():
    dps, tps = _pair()
    dvec, tvec = parameters_to_vector(dps), torch.nn.utils.parameters_to_vector(tps)
    np.testing.assert_array_equal(dvec.array, tvec.detach().numpy())
    assert dvec.shape == (sum(int(np.prod(s)) for s in SHAPES),)
    w = np.random.default_rng(5).standard_normal(dvec.shape).astype(np.float32)
    for p in dps:
        p.grad = None
    for p in tps:
        p.grad = None
    (dvec * dl.tensor(w)).sum().backward()
    (tvec * torch.tensor(w)).sum().backward()
    _assert_grads(dps, tps, rtol=0)


def test_vector_to_parameters_matches_torch_and_shares_memory():
    dps, tps = _pair()
    n = sum(int(np.prod(s)) for s in SHAPES)
    v = np.arange(n, dtype=np.float32) / 7
    dvec, tvec = dl.tensor(v), torch.tensor(v)
    vector_to_parameters(dvec, dps)
    torch.nn.utils.vector_to_parameters(tvec, tps)
    for dp, tp, s in zip(dps, tps, SHAPES):
        assert dp.shape == s
        np.testing.assert_array_equal(dp.array, tp.detach().numpy())
    dvec.array[0] = 100.0
    assert dps[0].array[0, 0] == 100.0
    np.testing.assert_array_equal(parameters_to_vector(dps).array, dvec.array)


def test_vector_to_parameters_errors():
    dps, _ = _pair()
    with pytest.raises(TypeError, match="expected deepling.Tensor"):
        vector_to_parameters(np.zeros(100, np.float32), dps)
    with pytest.raises(ValueError, match="has 10 elements but the parameters need 64"):
        vector_to_parameters(dl.zeros(10), dps)
    with pytest.raises(ValueError, match="1-D"):
        vector_to_parameters(dl.zeros(8, 8), dps)


def test_nn_utils_is_reachable_from_nn():
    assert dl.nn.utils.clip_grad_norm_ is clip_grad_norm_
