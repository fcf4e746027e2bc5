"""Multi-head attention with PyTorch's parameter layout (``in_proj_weight`` = [W_q; W_k; W_v])."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deepling import creation
from deepling.autograd import no_grad
from deepling.nn.linear import Linear
from deepling.nn.module import Module
from deepling.nn.parameter import Parameter
from deepling.ops.arguments import tensor_input
from deepling.ops.attention import attention_weights, packed_self_attention, scaled_dot_product_attention
from deepling.ops.matmul import linear
from deepling.ops.shape import cat
from deepling.random import numpy_rng
from deepling.tensor import Tensor

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """A plain ``Linear``; the name mirrors PyTorch's ``MultiheadAttention.out_proj`` class."""


def _xavier_uniform_(w: Tensor) -> None:
    # Glorot: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); fan_in = w.shape[1], fan_out = w.shape[0].
    a = math.sqrt(6.0 / (w.shape[0] + w.shape[1]))
    with no_grad():
        w.uniform_(-a, a)


def _as_additive(mask: Any, name: str, dtype: np.dtype) -> Tensor | None:
    """PyTorch's MHA mask convention to an additive float mask: bool True (= ignore) -> -inf."""
    if mask is None:
        return None
    m = mask if isinstance(mask, Tensor) else Tensor._wrap(np.asarray(mask))
    if m.dtype == np.bool_:
        return Tensor._wrap(np.where(m.array, -np.inf, 0.0).astype(dtype))
    if m.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: only bool and float {name} are supported, got dtype {m.dtype}")
    return m if m.dtype == dtype else m.to(dtype)


def _pad_key(mask: Tensor | None) -> Tensor | None:
    """One more key column (bias_k or a zero key) that every query may attend to."""
    if mask is None:
        return None
    zeros = Tensor._wrap(np.zeros(mask.shape[:-1] + (1,), dtype=mask.dtype))
    return cat([mask, zeros], dim=-1)


class MultiheadAttention(Module):
    """MultiHead(Q, K, V) = Concat(head_1..head_h) W_O with head_i = Attention(Q W_Q^i, K W_K^i, V W_V^i).

    Args: ``embed_dim`` E, ``num_heads`` H (E divisible by H), ``dropout`` on the attention
    weights, ``bias``, ``add_bias_kv`` (a learned extra key/value), ``add_zero_attn`` (an extra zero
    key/value), ``kdim``/``vdim`` (default E), ``batch_first``.
    Shapes: query (L, N, E), key (S, N, kdim), value (S, N, vdim) ((N, L, E) ... if batch_first, or
    unbatched (L, E)); output (L, N, E) and weights (N, L, S), or (N, H, L, S) per head.
    Parameters: ``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E,) (or ``q_proj_weight`` (E, E),
    ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim) when kdim/vdim differ from E),
    ``out_proj`` Linear(E, E); Xavier-uniform weights, zero biases.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) and num_heads ({num_heads}) must be > 0")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = float(dropout), batch_first
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * E, E, dtype=dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(creation.empty(E, E, dtype=dtype))
            self.k_proj_weight = Parameter(creation.empty(E, self.kdim, dtype=dtype))
            self.v_proj_weight = Parameter(creation.empty(E, self.vdim, dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * E, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty(1, 1, E, dtype=dtype))
            self.bias_v = Parameter(creation.empty(1, 1, E, dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if w is not None:
                _xavier_uniform_(w)
        with no_grad():
            if self.in_proj_bias is not None:
                self.in_proj_bias.zero_()
                self.out_proj.bias.zero_()
            if self.bias_k is not None:
                # Glorot normal on a (1, 1, E) tensor: std = sqrt(2 / (E + E)).
                std = math.sqrt(1.0 / self.embed_dim)
                self.bias_k.normal_(0.0, std)
                self.bias_v.normal_(0.0, std)

    def _projection(self, i: int) -> tuple[Tensor, Tensor | None]:
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight[i * E:(i + 1) * E]
        else:
            w = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[i]
        b = None if self.in_proj_bias is None else self.in_proj_bias[i * E:(i + 1) * E]
        return w, b

    def _heads(self, x: Tensor) -> Tensor:
        """(N, T, E) -> (N, H, T, E/H)."""
        N, T, _ = x.shape
        return x.reshape(N, T, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """Returns ``(attn_output, attn_weights)``; weights are None when ``need_weights`` is False.

        ``key_padding_mask`` (N, S): True (or -inf) marks keys to ignore. ``attn_mask`` (L, S) or
        (N*H, L, S): True marks pairs not allowed to attend; a float mask is added to the scores.
        ``is_causal`` is a hint that ``attn_mask`` is the causal mask (which must then be given).
        A query whose keys are all masked gets zero weights and output ``out_proj.bias`` (PyTorch
        gives NaN there when ``need_weights`` is True).
        """
        E, H = self.embed_dim, self.num_heads
        for what, t in (("query", query), ("key", key), ("value", value)):
            tensor_input("MultiheadAttention", t, what)
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"MultiheadAttention: expected query, key, value all 3-D (batched) or 2-D, got shapes "
                             f"{query.shape}, {key.shape}, {value.shape}")
        if query.shape[-1] != E or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ValueError(f"MultiheadAttention: feature sizes of query {query.shape}, key {key.shape}, value "
                             f"{value.shape} do not match embed_dim={E}, kdim={self.kdim}, vdim={self.vdim}")
        self_attn = query is key and key is value
        if batched and not self.batch_first:
            q_in = query.transpose(0, 1)
            k_in = q_in if self_attn else key.transpose(0, 1)
            v_in = q_in if self_attn else value.transpose(0, 1)
        elif batched:
            q_in, k_in, v_in = query, key, value
        else:
            q_in, k_in, v_in = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        N, L, S = q_in.shape[0], q_in.shape[1], k_in.shape[1]
        if k_in.shape[:2] != v_in.shape[:2]:
            raise ValueError(f"MultiheadAttention: key {key.shape} and value {value.shape} differ in batch/sequence dims")
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal needs attn_mask (e.g. Transformer.generate_square_subsequent_mask)")
        mask = self._merged_mask(attn_mask, key_padding_mask, N, L, S, batched, q_in.dtype)

        extra_keys = self.bias_k is not None or self.add_zero_attn
        p = self.dropout if self.training else 0.0
        if self_attn and self._qkv_same_embed_dim and not need_weights and not extra_keys:
            # The fast path: one GEMM for Q, K, V and one fused node for all heads.
            out = packed_self_attention(linear(q_in, self.in_proj_weight, self.in_proj_bias), H, mask, dropout_p=p)
            weights = None
        else:
            q = self._heads(linear(q_in, *self._projection(0)))
            k = linear(k_in, *self._projection(1))
            v = linear(v_in, *self._projection(2))
            if self.bias_k is not None:
                k = cat([k, self.bias_k.expand(N, 1, E)], dim=1)
                v = cat([v, self.bias_v.expand(N, 1, E)], dim=1)
                mask = _pad_key(mask)
            k, v = self._heads(k), self._heads(v)
            if self.add_zero_attn:
                zeros = Tensor._wrap(np.zeros((N, H, 1, self.head_dim), dtype=k.dtype))
                k, v = cat([k, zeros], dim=2), cat([v, zeros], dim=2)
                mask = _pad_key(mask)
            if need_weights:
                weights = attention_weights(q, k, mask)
                if p > 0:
                    keep = (numpy_rng().random(weights.shape, dtype=np.float32) >= p) / np.float32(1 - p)
                    weights = weights * Tensor._wrap(keep.astype(weights.dtype))
                out = weights @ v
                weights = weights.mean(dim=1) if average_attn_weights else weights
                if not batched:
                    weights = weights.squeeze(0)
            else:
                out = scaled_dot_product_attention(q, k, v, mask, dropout_p=p)
                weights = None
            out = out.transpose(1, 2).reshape(N, L, E)
        out = self.out_proj(out)
        if not batched:
            return out.squeeze(0), weights
        return (out if self.batch_first else out.transpose(0, 1)), weights

    def _merged_mask(self, attn_mask: Any, key_padding_mask: Any, N: int, L: int, S: int, batched: bool,
                     dtype: np.dtype) -> Tensor | None:
        """attn_mask and key_padding_mask as one additive mask broadcastable to (N, H, L, S)."""
        am = _as_additive(attn_mask, "attn_mask", dtype)
        kpm = _as_additive(key_padding_mask, "key_padding_mask", dtype)
        if am is not None:
            if am.ndim == 2 and am.shape == (L, S):
                pass
            elif am.ndim == 3 and am.shape == ((N if batched else 1) * self.num_heads, L, S):
                am = am.reshape(N, self.num_heads, L, S)
            else:
                raise ValueError(f"MultiheadAttention: attn_mask of shape {tuple(am.shape)} should be ({L}, {S}) or "
                                 f"({N * self.num_heads}, {L}, {S})")
        if kpm is not None:
            want = (N, S) if batched else (S,)
            if tuple(kpm.shape) != want:
                raise ValueError(f"MultiheadAttention: key_padding_mask of shape {tuple(kpm.shape)} should be {want}")
            kpm = kpm.reshape(N, 1, 1, S)
        if am is None:
            return kpm
        return am if kpm is None else am + kpm

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
