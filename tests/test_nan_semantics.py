"""NaN semantics as PyTorch's: values, indices and gradients of the ops where NaN picks a winner.

Random float64 inputs with NaNs sprinkled in (and ties), compared with PyTorch: the selecting
reductions, max pooling, and the elementwise ops whose gradient is a comparison.
"""

import warnings

import numpy as np
import pytest
import torch

import deepling as dl
import deepling.nn.functional as F


def _nan_input(shape, seed, nan_frac=0.2, ties=True):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    x[rng.random(shape) < nan_frac] = np.nan
    return x


def _run(lib, fn, x0, seed):
    x = lib.tensor(x0, dtype=lib.float64, requires_grad=True)
    out = fn(lib, x)
    values, indices = (out[0], out[1]) if isinstance(out, tuple) else (out, None)
    proj = np.random.default_rng(seed + 1).standard_normal(tuple(values.shape))
    (values * lib.tensor(proj, dtype=lib.float64)).sum().backward()
    grad = None if x.grad is None else x.grad.detach().numpy().copy()
    return values.detach().numpy().copy(), None if indices is None else indices.numpy().copy(), grad


CASES = {
    "max": lambda l, x: x.max(),
    "min": lambda l, x: x.min(),
    "max_dim": lambda l, x: x.max(1),
    "min_dim_keep": lambda l, x: x.min(0, keepdim=True),
    "amax": lambda l, x: x.amax(),
    "amax_dim": lambda l, x: x.amax(-1),
    "amin_dims": lambda l, x: x.amin((0, 1)),
    "relu": lambda l, x: l.relu(x),
    "maximum": lambda l, x: l.maximum(x, x.flip(0)),
    "minimum": lambda l, x: l.minimum(x, x.flip(1)),
    "clamp": lambda l, x: x.clamp(-1, 1),
    "max_pool2d": lambda l, x: l.nn.functional.max_pool2d(x, 2),
    "max_pool2d_overlap": lambda l, x: l.nn.functional.max_pool2d(x, 3, 1, 1),
    "max_pool2d_indices": lambda l, x: l.nn.functional.max_pool2d(x, 2, 1, return_indices=True),
    "max_pool1d": lambda l, x: l.nn.functional.max_pool1d(x.flatten(2), 3, 2),
    "adaptive_max_pool2d": lambda l, x: l.nn.functional.adaptive_max_pool2d(x, (3, 2), return_indices=True),
}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("name", sorted(CASES))
def test_nan_semantics_match_torch(name, seed):
    shape = (2, 3, 5, 6) if "pool" in name else (4, 5, 3)
    x0 = _nan_input(shape, seed, nan_frac=(0.05, 0.2, 0.5)[seed % 3], ties=seed % 2 == 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PyTorch is silent here; deepling must be too
        got = _run(dl, CASES[name], x0, seed)
    want = _run(torch, CASES[name], x0, seed)
    np.testing.assert_array_equal(got[0], want[0], err_msg=f"{name}: values")
    if want[1] is not None:
        np.testing.assert_array_equal(got[1], want[1], err_msg=f"{name}: indices")
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=f"{name}: grad")


def test_argmax_argmin_pick_the_first_nan():
    x0 = _nan_input((6, 7), 3, nan_frac=0.3)
    for dim in (None, 0, 1):
        for op in ("argmax", "argmin"):
            got = getattr(dl.tensor(x0, dtype=dl.float64), op)(dim)
            want = getattr(torch.tensor(x0), op)(dim)
            np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=f"{op} dim={dim}")


def test_softplus_of_a_0d_tensor():
    # used to raise TypeError from np.copyto: the 0-d result was a NumPy scalar
    for v in (30.0, -30.0, 0.5, 25.0):
        got = F.softplus(dl.tensor(v))
        want = torch.nn.functional.softplus(torch.tensor(v))
        assert got.shape == () and abs(got.item() - want.item()) < 1e-6
