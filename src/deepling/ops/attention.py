"""Scaled dot-product attention as one fused node.

Forward: S = scale * Q K^T (+ mask), P = softmax(S) over keys, O = dropout(P) V.
Backward (closed form): dV = P'^T dO, dP' = dO V^T, dS = P * (dP - rowsum(dP * P)),
dQ = scale * dS K, dK = scale * dS^T Q. All heads and batch items run in the same batched GEMMs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deepling.autograd import Function
from deepling.ops import kernels
from deepling.ops.matmul import matmul_arrays
from deepling.random import numpy_rng
from deepling.tensor import Tensor

__all__ = ["scaled_dot_product_attention", "attention_weights", "packed_self_attention",
           "attention_forward", "attention_backward"]


def _causal(L: int, S: int) -> np.ndarray:
    """Boolean (L, S) mask, True where query i may see key j (j <= i, top-left aligned as PyTorch)."""
    return np.tri(L, S, dtype=bool)


def _softmax_masked(s: np.ndarray, mask: np.ndarray | None, is_causal: bool) -> np.ndarray:
    """Stable softmax over the last axis of the scores ``s`` (overwritten) after masking.

    A row masked everywhere gives zero weights (PyTorch's safe softmax), not NaN.
    """
    if is_causal:
        s = np.where(_causal(s.shape[-2], s.shape[-1]), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == np.bool_ else s + mask
    return kernels.softmax(s, -1, out=s, masked_rows_zero=True)


def attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None, scale: float,
                      is_causal: bool, dropout_p: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Attention on arrays; returns the output and what ``attention_backward`` needs.

    ``mask``: bool (True = take part) or float (added to the scores), broadcastable to (..., L, S).
    Rows whose keys are all masked give zero weights (PyTorch's safe softmax), not NaN.
    """
    s = matmul_arrays(q, np.swapaxes(k, -1, -2))
    s *= s.dtype.type(scale)
    p = _softmax_masked(s, mask, is_causal)
    keep = None
    pd = p
    if dropout_p > 0:
        keep = numpy_rng().random(p.shape, dtype=np.float32) >= dropout_p
        pd = p * (keep * p.dtype.type(1.0 / (1.0 - dropout_p)))
    out = matmul_arrays(pd, v)
    return out, {"q": q, "k": k, "v": v, "p": p, "pd": pd, "keep": keep, "scale": scale, "dropout_p": dropout_p}


def attention_backward(g: np.ndarray, saved: dict[str, Any], need: tuple[bool, ...] = (True, True, True, True)) -> tuple:
    """Gradients (dq, dk, dv, dscores) of ``attention_forward``; dscores is the float mask's gradient."""
    q, k, v, p, pd = saved["q"], saved["k"], saved["v"], saved["p"], saved["pd"]
    dv = matmul_arrays(np.swapaxes(pd, -1, -2), g) if need[2] else None
    dp = matmul_arrays(g, np.swapaxes(v, -1, -2))
    if saved["keep"] is not None:
        dp *= saved["keep"] * dp.dtype.type(1.0 / (1.0 - saved["dropout_p"]))
    # softmax backward: dS = P * (dP - sum_j dP_j P_j)
    ds = dp
    ds -= (dp * p).sum(axis=-1, keepdims=True)
    ds *= p
    dmask = ds if need[3] else None
    scale = ds.dtype.type(saved["scale"])
    dq = matmul_arrays(ds, k) * scale if need[0] else None
    dk = matmul_arrays(np.swapaxes(ds, -1, -2), q) * scale if need[1] else None
    return dq, dk, dv, dmask


class ScaledDotProductAttention(Function):
    def forward(self, q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None, *,
                scale: float, is_causal: bool, dropout_p: float) -> np.ndarray:
        out, saved = attention_forward(q, k, v, mask, scale, is_causal, dropout_p)
        if self.needs_input_grad:
            self.saved = saved
        return out

    def backward(self, g: np.ndarray) -> tuple:
        need = self.needs_input_grad
        dq, dk, dv, dmask = attention_backward(g, self.saved, need)
        return dq, dk, dv, dmask


def _mask_array(name: str, attn_mask: Any, L: int, S: int, dtype: np.dtype) -> Tensor:
    mask = attn_mask if isinstance(attn_mask, Tensor) else Tensor._wrap(np.asarray(attn_mask))
    if mask.dtype != np.bool_ and mask.dtype.kind != "f":
        raise TypeError(f"{name}: attn_mask must be bool or float, got dtype {mask.dtype}")
    if mask.dtype.kind == "f" and mask.dtype != dtype:
        raise TypeError(f"{name}: float attn_mask dtype {mask.dtype} does not match query dtype {dtype}")
    try:
        np.broadcast_shapes(mask.shape, (L, S))
    except ValueError:
        raise ValueError(f"{name}: attn_mask of shape {mask.shape} does not broadcast to (..., {L}, {S})") from None
    return mask


def _repeat_kv_heads(name: str, query: Tensor, kv: Tensor) -> Tensor:
    """Grouped-query attention: each of the Hkv key/value heads serves Hq / Hkv consecutive query heads."""
    if query.ndim < 3 or kv.ndim < 3:
        raise ValueError(f"{name}: enable_gqa needs (..., H, L, E) inputs, got {query.shape} and {kv.shape}")
    hq, hkv = query.shape[-3], kv.shape[-3]
    if hq % hkv:
        raise ValueError(f"{name}: enable_gqa needs query heads {hq} divisible by key/value heads {hkv}")
    if hq == hkv:
        return kv
    shape = kv.shape
    grouped = kv.unsqueeze(-3).expand(*shape[:-2], hq // hkv, *shape[-2:])
    return grouped.reshape(*shape[:-3], hq, *shape[-2:])


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T * scale + mask) V, with dropout on the weights.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); batch dims
    broadcast. ``scale`` defaults to 1/sqrt(E). ``attn_mask``: bool (True = may attend) or float
    (added to the scores), broadcastable to (..., L, S). ``is_causal`` lets query i see keys j <= i.
    ``enable_gqa``: key/value may have fewer heads (dim -3) than query, each shared by a group.
    """
    name = "scaled_dot_product_attention"
    for t, n in ((query, "query"), (key, "key"), (value, "value")):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {n} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{name}: {n} needs at least 2 dims (..., seq, features), got shape {t.shape}")
        if t.dtype.kind != "f":
            raise TypeError(f"{name}: {n} must be floating point, got dtype {t.dtype}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{name}: shapes query {query.shape}, key {key.shape}, value {value.shape} do not fit "
                         "(expected (..., L, E), (..., S, E), (..., S, Ev))")
    if not (query.dtype == key.dtype == value.dtype):
        raise TypeError(f"{name}: dtypes {query.dtype}, {key.dtype}, {value.dtype} differ")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{name}: pass either attn_mask or is_causal, not both")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"{name}: dropout_p must be in [0, 1), got {dropout_p}")
    try:
        if not enable_gqa:
            np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError(f"{name}: batch dims of query {query.shape}, key {key.shape}, value {value.shape} "
                         "do not broadcast") from None
    if enable_gqa:
        key, value = _repeat_kv_heads(name, query, key), _repeat_kv_heads(name, query, value)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    kw = {"scale": scale, "is_causal": bool(is_causal), "dropout_p": float(dropout_p)}
    mask = None if attn_mask is None else _mask_array(name, attn_mask, query.shape[-2], key.shape[-2], query.dtype)
    return ScaledDotProductAttention.apply(query, key, value, mask, **kw)


class AttentionWeights(Function):
    """P = softmax(scale * Q K^T + mask) alone (for callers that return the weights)."""

    def forward(self, q: np.ndarray, k: np.ndarray, mask: np.ndarray | None, *, scale: float,
                is_causal: bool) -> np.ndarray:
        s = matmul_arrays(q, np.swapaxes(k, -1, -2))
        s *= s.dtype.type(scale)
        p = _softmax_masked(s, mask, is_causal)
        if self.needs_input_grad:
            self.q, self.k, self.p, self.scale = q, k, p, scale
        return p

    def backward(self, g: np.ndarray) -> tuple:
        need = self.needs_input_grad
        p = self.p
        ds = g * p
        ds -= p * ds.sum(axis=-1, keepdims=True)
        scale = ds.dtype.type(self.scale)
        dq = matmul_arrays(ds, self.k) * scale if need[0] else None
        dk = matmul_arrays(np.swapaxes(ds, -1, -2), self.q) * scale if need[1] else None
        return dq, dk, (ds if need[2] else None)


def attention_weights(query: Tensor, key: Tensor, attn_mask: Any = None, is_causal: bool = False,
                      scale: float | None = None) -> Tensor:
    """The attention weights softmax(Q K^T * scale + mask): (..., L, E), (..., S, E) -> (..., L, S)."""
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"attention_weights: query {query.shape} and key {key.shape} differ in the last dim")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    kw = {"scale": scale, "is_causal": bool(is_causal)}
    mask = None if attn_mask is None else _mask_array("attention_weights", attn_mask, query.shape[-2], key.shape[-2], query.dtype)
    return AttentionWeights.apply(query, key, mask, **kw)


class PackedSelfAttention(Function):
    """Self-attention on packed projections: (N, T, 3E) -> (N, T, E), split into heads and merged inside.

    One node instead of split + 3 head reshapes + attention + merge; the backward packs dQ, dK, dV
    back into the (N, T, 3E) layout of the fused input projection.
    """

    def forward(self, qkv: np.ndarray, mask: np.ndarray | None, *, num_heads: int, is_causal: bool,
                dropout_p: float) -> np.ndarray:
        N, T, E3 = qkv.shape
        E = E3 // 3
        hd = E // num_heads
        heads = qkv.reshape(N, T, 3, num_heads, hd).transpose(2, 0, 3, 1, 4)  # (3, N, H, T, hd)
        q, k, v = (np.ascontiguousarray(heads[i]) for i in range(3))
        out, saved = attention_forward(q, k, v, mask, 1.0 / math.sqrt(hd), is_causal, dropout_p)
        if self.needs_input_grad:
            self.saved = saved
        return out.transpose(0, 2, 1, 3).reshape(N, T, E)

    def backward(self, g: np.ndarray) -> tuple:
        N, T, E = g.shape
        q = self.saved["q"]
        H, hd = q.shape[1], q.shape[3]
        gh = np.ascontiguousarray(g.reshape(N, T, H, hd).transpose(0, 2, 1, 3))
        need = self.needs_input_grad
        dq, dk, dv, dmask = attention_backward(gh, self.saved, (True, True, True, need[1]))
        dqkv = np.empty((N, T, 3, H, hd), dtype=g.dtype)
        for i, d in enumerate((dq, dk, dv)):
            dqkv[:, :, i] = d.transpose(0, 2, 1, 3)
        return dqkv.reshape(N, T, 3 * E), dmask


def packed_self_attention(qkv: Tensor, num_heads: int, attn_mask: Any = None, is_causal: bool = False,
                          dropout_p: float = 0.0) -> Tensor:
    """Multi-head self-attention from the fused projection ``qkv`` (N, T, 3E) = [Q | K | V].

    Head h uses features h*E/H .. (h+1)*E/H of each of Q, K, V (PyTorch's layout); the output
    (N, T, E) has the heads concatenated again. ``attn_mask`` broadcasts to (N, H, T, T).
    """
    if qkv.ndim != 3 or qkv.shape[-1] % (3 * num_heads):
        raise ValueError(f"packed_self_attention: expected (N, T, 3E) with E divisible by num_heads={num_heads}, "
                         f"got shape {qkv.shape}")
    kw = {"num_heads": int(num_heads), "is_causal": bool(is_causal), "dropout_p": float(dropout_p)}
    T = qkv.shape[1]
    mask = None if attn_mask is None else _mask_array("packed_self_attention", attn_mask, T, T, qkv.dtype)
    return PackedSelfAttention.apply(qkv, mask, **kw)
