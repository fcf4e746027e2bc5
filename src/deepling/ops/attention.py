"""Scaled dot-product attention as one fused node.

Forward: S = scale * Q K^T (+ mask), P = softmax(S) over keys, O = dropout(P) V.
Backward (closed form): dV = P'^T dO, dP' = dO V^T, dS = P * (dP - rowsum(dP * P)),
dQ = scale * dS K, dK = scale * dS^T Q. All heads and batch items run in the same batched GEMMs.
The kernels hold the scores keys-first, S^T (..., S, L): see ``attention_forward``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from deepling import threadpool
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


@functools.lru_cache(maxsize=64)
def _causal_bias_t(S: int, L: int, dtype: np.dtype) -> np.ndarray:
    """Read-only additive causal bias in the keys-first layout (S, L): 0 where key j <= query i, else -inf.

    Cached per shape and dtype: adding it is one pass over the scores, where building a boolean mask
    and selecting with ``np.where`` each call costs an allocation and two passes.
    """
    bias = np.where(_causal(L, S).T, 0, -np.inf).astype(dtype)
    bias.flags.writeable = False
    return bias


def _softmax_masked(s: np.ndarray, mask: np.ndarray | None, is_causal: bool) -> np.ndarray:
    """Stable softmax over the last axis of the scores ``s`` (overwritten) after masking.

    A row masked everywhere gives zero weights (PyTorch's safe softmax), not NaN.
    """
    if is_causal:
        s = np.where(_causal(s.shape[-2], s.shape[-1]), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == np.bool_ else s + mask
    return kernels.softmax(s, -1, out=s, masked_rows_zero=True)


def _softmax_keys_first(st: np.ndarray, mask: np.ndarray | None, is_causal: bool) -> np.ndarray:
    """P^T from scores S^T (..., S, L) (overwritten when no broadcast widens them): softmax over the keys, axis -2.

    With the keys on axis -2 the max and the sum over keys are elementwise passes along contiguous
    query rows, which NumPy vectorizes; along a short last axis they run row by row (~2x slower).
    ``mask`` is in the (..., L, S) orientation. A query whose keys are all masked gets zero weights
    (PyTorch's safe softmax); a causal mask alone always leaves key 0, so that case skips the check.
    """
    S, L = st.shape[-2], st.shape[-1]
    if is_causal:
        st += _causal_bias_t(S, L, st.dtype)
    if mask is not None:
        mt = np.swapaxes(mask, -1, -2)
        if mask.dtype == np.bool_:
            st = np.where(mt, st, st.dtype.type(-np.inf))
        elif np.broadcast_shapes(mt.shape, st.shape) == st.shape:
            st += mt
        else:
            st = st + mt
    m = st.max(axis=-2, keepdims=True)
    if mask is not None:
        m[~np.isfinite(m)] = 0  # all -inf: shift by 0 so that exp gives 0 rather than NaN
    with np.errstate(invalid="ignore"):
        st -= m
        np.exp(st, out=st)
        z = np.einsum("...sl->...l", st)[..., None, :]  # einsum: ~3x faster than sum for this reduction
        if mask is not None:
            z[z == 0] = 1
        st /= z
    return st


def attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None, scale: float,
                      is_causal: bool, dropout_p: float, out: np.ndarray | None = None
                      ) -> tuple[np.ndarray, dict[str, Any]]:
    """Attention on arrays; returns the output (written into ``out`` if given) and what
    ``attention_backward`` needs.

    ``mask``: bool (True = take part) or float (added to the scores), broadcastable to (..., L, S).
    Rows whose keys are all masked give zero weights (PyTorch's safe softmax), not NaN.
    q, k, v may be strided views (e.g. of a packed projection): each GEMM takes them as they are.

    Keys-first layout: S^T = K (scale Q)^T is computed as (..., S, L), so that the softmax reduces
    over axis -2 (see ``_softmax_keys_first``) and every GEMM is NN or TN (OpenBLAS runs these small
    NT products ~2x slower than a transposing copy plus NN). O = (P^T)^T V.
    """
    dt = q.dtype.type
    keep = None
    if dropout_p > 0:
        # drawn in the (..., L, S) orientation, so that a seed drops the same weights as before
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2], () if mask is None else mask.shape[:-2])
        shape = batch + (q.shape[-2], k.shape[-2])
        keep = np.swapaxes(numpy_rng().random(shape, dtype=np.float32) >= dropout_p, -1, -2)
    rows = _rows(q, k, v, mask)
    if rows:
        return _forward_rows(q, k, v, scale, is_causal, keep, dropout_p, out, rows)
    qt = np.multiply(np.swapaxes(q, -1, -2), dt(scale))  # (..., E, L), contiguous, scale folded in
    pt = _softmax_keys_first(matmul_arrays(k, qt), mask, is_causal)
    pdt = pt if keep is None else pt * (keep * dt(1.0 / (1.0 - dropout_p)))
    out = matmul_arrays(np.swapaxes(pdt, -1, -2), v, out=out)
    return out, {"q": q, "k": k, "v": v, "pt": pt, "pdt": pdt, "keep": keep, "scale": scale, "dropout_p": dropout_p}


def _rows(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None) -> int:
    """The leading batch size when the whole op can run on slices of it (no mask, q, k, v of one
    rank >= 3 sharing that axis unbroadcast), else 0."""
    if mask is not None or q.ndim < 3:
        return 0
    n = q.shape[0]
    return n if all(a.ndim == q.ndim and a.shape[0] == n for a in (k, v)) else 0


def _split_flops(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> float:
    """GEMM FLOPs of one pass of the op (2 products), which sizes the split over the pool."""
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    return 2.0 * math.prod(batch) * k.shape[-2] * q.shape[-2] * (q.shape[-1] + v.shape[-1])


def _forward_rows(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, is_causal: bool,
                  keep: np.ndarray | None, dropout_p: float, out: np.ndarray | None, n: int
                  ) -> tuple[np.ndarray, dict[str, Any]]:
    """The unmasked forward, the batch's leading axis cut into chunks over the CPU pool when the
    GEMMs carry enough work: each chunk does the whole op (GEMMs and softmax passes) on its rows,
    into preallocated P^T and output, so the split results equal the serial ones exactly."""
    dt = q.dtype.type
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    L, S = q.shape[-2], k.shape[-2]
    pt = np.empty(batch + (S, L), dtype=q.dtype)
    pdt = pt if keep is None else np.empty_like(pt)
    if out is None:
        out = np.empty(batch + (L, v.shape[-1]), dtype=q.dtype)
    c = dt(1.0 / (1.0 - dropout_p))

    def run(lo: int, hi: int) -> None:
        qt = np.multiply(np.swapaxes(q[lo:hi], -1, -2), dt(scale))  # (..., E, L), scale folded in
        _softmax_keys_first(np.matmul(k[lo:hi], qt, out=pt[lo:hi]), None, is_causal)  # in place
        if keep is not None:
            np.multiply(pt[lo:hi], keep[lo:hi] * c, out=pdt[lo:hi])
        np.matmul(np.swapaxes(pdt[lo:hi], -1, -2), v[lo:hi], out=out[lo:hi])

    threadpool.parallel_for(n, run, flops=_split_flops(q, k, v))
    return out, {"q": q, "k": k, "v": v, "pt": pt, "pdt": pdt, "keep": keep, "scale": scale, "dropout_p": dropout_p,
                 "rows": n}


def _backward_rows(g: np.ndarray, saved: dict[str, Any], need: tuple[bool, ...],
                   outs: tuple[np.ndarray | None, ...]) -> tuple:
    """``attention_backward`` of ``_forward_rows``: the same chunks, each running all of it on its rows."""
    q, k, v, pt, pdt, keep = saved["q"], saved["k"], saved["v"], saved["pt"], saved["pdt"], saved["keep"]
    dt = g.dtype.type
    scale, c = dt(saved["scale"]), dt(1.0 / (1.0 - saved["dropout_p"]))
    batch = pt.shape[:-2]
    shapes = (batch + q.shape[-2:], batch + k.shape[-2:], batch + v.shape[-2:])
    dq, dk, dv = (None if not need[i] else np.empty(shapes[i], dtype=g.dtype) if outs[i] is None else outs[i]
                  for i in range(3))

    def run(lo: int, hi: int) -> None:
        if dv is not None:
            np.matmul(pdt[lo:hi], g[lo:hi], out=dv[lo:hi])
        gt = np.multiply(np.swapaxes(g[lo:hi], -1, -2), scale)  # (..., Ev, L), carries scale into dS^T
        dst = np.matmul(v[lo:hi], gt)
        if keep is not None:
            dst *= keep[lo:hi] * c
        dst -= np.einsum("...sl,...sl->...l", dst, pt[lo:hi])[..., None, :]
        dst *= pt[lo:hi]
        if dq is not None:
            np.matmul(np.swapaxes(dst, -1, -2), k[lo:hi], out=dq[lo:hi])
        if dk is not None:
            np.matmul(dst, q[lo:hi], out=dk[lo:hi])

    threadpool.parallel_for(saved["rows"], run, flops=_split_flops(q, k, v))
    return dq, dk, dv, None


def attention_backward(g: np.ndarray, saved: dict[str, Any], need: tuple[bool, ...] = (True, True, True, True),
                       outs: tuple[np.ndarray | None, ...] = (None, None, None)) -> tuple:
    """Gradients (dq, dk, dv, dscores) of ``attention_forward``; dscores is the float mask's gradient.

    Keys-first, with P' = dropout(P): dV = (P'^T) G, dP^T = V G^T, dS^T = P^T (dP^T - colsum(dP^T P^T)),
    dQ = scale (dS^T)^T K, dK = scale dS^T Q. G^T is made by one transposing copy (which keeps the
    product NN) that also carries ``scale``, unless the mask needs dS itself. ``outs``: arrays to
    write dq, dk, dv into (or None each).
    """
    if saved.get("rows"):
        return _backward_rows(g, saved, need, outs)
    q, k, v, pt, pdt = saved["q"], saved["k"], saved["v"], saved["pt"], saved["pdt"]
    scale = g.dtype.type(saved["scale"])
    dv = matmul_arrays(pdt, g, out=outs[2]) if need[2] else None
    pre = g.dtype.type(1) if need[3] else scale  # the factor dS^T carries from here on
    gt = np.multiply(np.swapaxes(g, -1, -2), pre)  # (..., Ev, L)
    dst = matmul_arrays(v, gt)
    if saved["keep"] is not None:
        dst *= saved["keep"] * dst.dtype.type(1.0 / (1.0 - saved["dropout_p"]))
    dst -= np.einsum("...sl,...sl->...l", dst, pt)[..., None, :]
    dst *= pt
    dmask = np.swapaxes(dst, -1, -2) if need[3] else None
    dq = matmul_arrays(np.swapaxes(dst, -1, -2), k, out=outs[0]) if need[0] else None
    dk = matmul_arrays(dst, q, out=outs[1]) if need[1] else None
    if need[3]:
        for d in (dq, dk):
            if d is not None:
                d *= scale
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
        q, k, v = heads  # views: the GEMMs read the packed rows with their stride, no copies
        out = np.empty((N, T, num_heads, hd), dtype=qkv.dtype)  # the heads' GEMMs write it in (N, T, E) order
        _, saved = attention_forward(q, k, v, mask, 1.0 / math.sqrt(hd), is_causal, dropout_p, out=out.transpose(0, 2, 1, 3))
        if self.needs_input_grad:
            self.saved = saved
        return out.reshape(N, T, E)

    def backward(self, g: np.ndarray) -> tuple:
        N, T, E = g.shape
        q = self.saved["q"]
        H, hd = q.shape[1], q.shape[3]
        gh = g.reshape(N, T, H, hd).transpose(0, 2, 1, 3)  # a view, as the forward's q, k, v
        need = self.needs_input_grad
        dqkv = np.empty((N, T, 3, H, hd), dtype=g.dtype)
        slots = tuple(dqkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # (N, H, T, hd) views
        dmask = attention_backward(gh, self.saved, (True, True, True, need[1]), outs=slots)[3]
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
