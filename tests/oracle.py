"""The one test harness: run the same function on PyTorch and on deepling, compare everything.

``check_op(fn, shapes)`` builds random inputs of the given shapes, runs ``fn`` on torch tensors and
on deepling tensors (or ``dl_fn`` when the spelling differs), and compares output shapes, dtypes
and values, then the gradient of every input under a random projection of the output (a plain
``.sum()`` would hide errors in ops whose outputs sum to a constant, such as softmax).
``check_grad(fn, shapes)`` runs ``deepling.autograd.gradcheck`` in float64 on the same inputs.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

import deepling as dl
from deepling.autograd import gradcheck

torch.set_num_threads(1)

_DTYPES = {
    np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64,
    np.dtype("int64"): torch.int64, np.dtype("int32"): torch.int32, np.dtype("bool"): torch.bool,
    np.dtype("uint8"): torch.uint8, np.dtype("float16"): torch.float16,
}


def make_inputs(shapes: Sequence[Any], low: float = -2.0, high: float = 2.0, seed: int = 0,
                dtype: Any = np.float32) -> list[np.ndarray]:
    """Random arrays: a tuple is a shape; an ndarray or number is used as given."""
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        if isinstance(s, np.ndarray):
            out.append(s)
        elif isinstance(s, (int, float)) and not isinstance(s, bool):
            out.append(np.asarray(s, dtype=dtype))
        else:
            out.append(rng.uniform(low, high, size=tuple(s)).astype(dtype))
    return out


def _to_numpy(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    if isinstance(x, dl.Tensor):
        return x.array
    return x


def _flat(out: Any) -> list[Any]:
    if isinstance(out, (tuple, list)):
        return [o for item in out for o in _flat(item)]
    return [out]


def compare(name: str, got: Any, want: Any, atol: float, rtol: float) -> None:
    got, want = _to_numpy(got), _to_numpy(want)
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != torch {want.shape}"
    if want.dtype in _DTYPES or got.dtype in _DTYPES:
        assert _DTYPES.get(got.dtype) == _DTYPES.get(want.dtype), f"{name}: dtype {got.dtype} != torch {want.dtype}"
    if want.dtype == np.bool_ or want.dtype.kind in "iu":
        np.testing.assert_array_equal(got, want, err_msg=name)
    else:
        np.testing.assert_allclose(got, want, atol=atol, rtol=rtol, err_msg=name, equal_nan=True)


def check_op(
    fn: Callable[..., Any],
    shapes: Sequence[Any],
    dl_fn: Callable[..., Any] | None = None,
    *,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    grad_atol: float | None = None,
    grad_rtol: float | None = None,
    grad: bool = True,
    low: float = -2.0,
    high: float = 2.0,
    dtype: Any = np.float32,
    seed: int = 0,
    arrays: Sequence[np.ndarray] | None = None,
) -> tuple[Any, Any]:
    """Compare ``fn`` (torch spelling) with ``dl_fn or fn`` (deepling spelling) on the same inputs."""
    arrays = list(arrays) if arrays is not None else make_inputs(shapes, low, high, seed, dtype)
    float_in = [a.dtype.kind == "f" for a in arrays]
    t_in = [torch.tensor(a, requires_grad=grad and f) for a, f in zip(arrays, float_in)]
    d_in = [dl.tensor(a, dtype=a.dtype, requires_grad=grad and f) for a, f in zip(arrays, float_in)]
    t_out = fn(*t_in)
    d_out = (dl_fn or fn)(*d_in)
    t_flat, d_flat = _flat(t_out), _flat(d_out)
    assert len(t_flat) == len(d_flat), f"output count {len(d_flat)} != torch {len(t_flat)}"
    for i, (d, t) in enumerate(zip(d_flat, t_flat)):
        compare(f"output {i}", d, t, atol, rtol)
    if not grad or not any(float_in):
        return t_out, d_out
    rng = np.random.default_rng(seed + 1)
    t_loss, d_loss = 0, 0
    for d, t in zip(d_flat, t_flat):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            w = rng.standard_normal(t.shape).astype(_to_numpy(t).dtype)
            t_loss = t_loss + (t * torch.tensor(w)).sum()
            d_loss = d_loss + (d * dl.tensor(w, dtype=w.dtype)).sum()
    if not isinstance(t_loss, torch.Tensor):
        return t_out, d_out
    t_loss.backward()
    d_loss.backward()
    for i, (d, t) in enumerate(zip(d_in, t_in)):
        if t.grad is None:
            assert d.grad is None or not np.any(d.grad.array), f"input {i}: deepling has a gradient, torch has none"
            continue
        assert d.grad is not None, f"input {i}: torch has a gradient, deepling has none"
        compare(f"grad of input {i}", d.grad, t.grad, grad_atol if grad_atol is not None else atol * 10,
                grad_rtol if grad_rtol is not None else rtol * 10)
    return t_out, d_out


def check_grad(
    fn: Callable[..., Any],
    shapes: Sequence[Any],
    *,
    low: float = -2.0,
    high: float = 2.0,
    seed: int = 0,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    arrays: Sequence[np.ndarray] | None = None,
) -> None:
    """Finite-difference gradcheck of ``fn`` in float64 on random inputs of ``shapes``."""
    arrays = list(arrays) if arrays is not None else make_inputs(shapes, low, high, seed, np.float64)
    inputs = [dl.tensor(a, dtype=a.dtype, requires_grad=a.dtype.kind == "f") for a in arrays]
    assert gradcheck(fn, inputs, eps=eps, atol=atol, rtol=rtol)
