"""The one test harness: run the same function on PyTorch and on deepling, compare everything.

``check_op(fn, shapes)`` builds random inputs of the given shapes, runs ``fn`` on torch tensors and
on deepling tensors (or ``dl_fn`` when the spelling differs), and compares output shapes, dtypes
and values, then the gradient of every input under a random projection of the output (a plain
``.sum()`` would hide errors in ops whose outputs sum to a constant, such as softmax).
``check_grad(fn, shapes)`` runs ``deepling.autograd.gradcheck`` in float64 on the same inputs.
``check_module(ours, theirs, shapes)`` compares a deepling module with its PyTorch twin: the twin's
weights are copied in through ``state_dict``, then outputs, input gradients and every parameter's
gradient are compared (random projection again), in each mode asked for (train and/or eval).
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


def _backward_projection(d_flat: list[Any], t_flat: list[Any], seed: int) -> bool:
    """Back-propagate sum(w * output) over the outputs that carry a gradient, with the same random
    w in both frameworks; False when no output does."""
    rng = np.random.default_rng(seed)
    t_loss, d_loss = 0, 0
    for d, t in zip(d_flat, t_flat):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            w = rng.standard_normal(t.shape).astype(_to_numpy(t).dtype)
            t_loss = t_loss + (t * torch.tensor(w)).sum()
            d_loss = d_loss + (d * dl.tensor(w, dtype=w.dtype)).sum()
    if not isinstance(t_loss, torch.Tensor):
        return False
    t_loss.backward()
    d_loss.backward()
    return True


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
    if not _backward_projection(d_flat, t_flat, seed + 1):
        return t_out, d_out
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


def check_module(
    ours: Any,
    theirs: torch.nn.Module,
    shapes: Sequence[Any],
    *,
    modes: Sequence[str] | None = ("train",),
    atol: float = 1e-5,
    rtol: float = 1e-4,
    grad_atol: float | None = None,
    grad_rtol: float | None = None,
    seed: int = 0,
    low: float = -2.0,
    high: float = 2.0,
    call: Callable[..., Any] | None = None,
    copy_weights: bool = True,
) -> None:
    """Compare deepling module ``ours`` with its PyTorch twin ``theirs`` on the same weights.

    The twin's ``state_dict`` is loaded into ``ours`` (same keys, in order, and shapes; with
    ``copy_weights=False`` the two must already agree, e.g. over several steps). ``modes=None`` keeps
    the modules' current train/eval modes. Inputs are
    made as in ``check_op`` (float inputs require grad; an ndarray is used as given). In each mode
    ('train', 'eval') the outputs are compared (shapes, dtypes, values), then, under a random
    projection of the outputs, the gradient of every float input and of every parameter (matched by
    name). ``call(module, *inputs)`` replaces ``module(*inputs)`` when given.
    """
    want_sd = theirs.state_dict()
    if copy_weights:
        ours.load_state_dict(want_sd)
    got_sd = ours.state_dict()
    assert list(got_sd) == list(want_sd), f"state_dict keys {list(got_sd)} != torch {list(want_sd)}"
    for k, v in want_sd.items():
        assert tuple(got_sd[k].shape) == tuple(v.shape), f"{k}: shape {tuple(got_sd[k].shape)} != torch {tuple(v.shape)}"
    call = call or (lambda m, *xs: m(*xs))
    arrays = make_inputs(shapes, low, high, seed)
    g_atol = grad_atol if grad_atol is not None else atol * 10
    g_rtol = grad_rtol if grad_rtol is not None else rtol * 10
    for mode in modes or ("train" if theirs.training else "eval",):
        if mode not in ("train", "eval"):
            raise ValueError(f"check_module: mode must be 'train' or 'eval', got {mode!r}")
        ours.train(mode == "train")
        theirs.train(mode == "train")
        float_in = [a.dtype.kind == "f" for a in arrays]
        t_in = [torch.tensor(a, requires_grad=f) for a, f in zip(arrays, float_in)]
        d_in = [dl.tensor(a, dtype=a.dtype, requires_grad=f) for a, f in zip(arrays, float_in)]
        theirs.zero_grad(set_to_none=True)
        ours.zero_grad(set_to_none=True)
        t_flat, d_flat = _flat(call(theirs, *t_in)), _flat(call(ours, *d_in))
        assert len(t_flat) == len(d_flat), f"{mode}: output count {len(d_flat)} != torch {len(t_flat)}"
        for i, (d, t) in enumerate(zip(d_flat, t_flat)):
            if t is None:  # e.g. attention weights that were not asked for
                assert d is None, f"{mode}: output {i} is None in torch, not in deepling"
                continue
            compare(f"{mode}: output {i}", d, t, atol, rtol)
        if not _backward_projection(d_flat, t_flat, seed + 1):
            continue
        for i, (d, t) in enumerate(zip(d_in, t_in)):
            if t.grad is not None:
                assert d.grad is not None, f"{mode}: input {i}: torch has a gradient, deepling has none"
                compare(f"{mode}: grad of input {i}", d.grad, t.grad, g_atol, g_rtol)
        t_params = dict(theirs.named_parameters())
        d_params = dict(ours.named_parameters())
        assert list(d_params) == list(t_params), f"parameters {list(d_params)} != torch {list(t_params)}"
        for name, tp in t_params.items():
            dp = d_params[name]
            if tp.grad is None:
                assert dp.grad is None or not np.any(dp.grad.array), f"{mode}: {name}: deepling has a gradient, torch has none"
                continue
            assert dp.grad is not None, f"{mode}: {name}: torch has a gradient, deepling has none"
            compare(f"{mode}: grad of {name}", dp.grad, tp.grad, g_atol, g_rtol)
