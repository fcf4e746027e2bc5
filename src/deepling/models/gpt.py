"""A small GPT: decoder-only Transformer for next-token prediction (Radford et al., 2018/2019).

tokens -> token embedding + learned position embedding -> n_layers x [x += Attn(LN(x)); x += MLP(LN(x))]
-> LN -> logits over the vocabulary. Attention is causal: position t sees positions <= t only.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from deepling import threadpool
from deepling.autograd import Function, no_grad
from deepling.models.sampling import sample_next
from deepling.nn.container import ModuleList
from deepling.nn.dropout import Dropout
from deepling.nn.linear import Linear
from deepling.nn.module import Module
from deepling.nn.normalization import LayerNorm
from deepling.nn.sparse import Embedding
from deepling.nn.transformer import LearnedPositionalEmbedding
from deepling.ops import kernels
from deepling.ops.attention import attention_weights, packed_self_attention
from deepling.random import numpy_rng
from deepling.tensor import Tensor

__all__ = ["GPT", "CausalSelfAttention", "plot_attention"]


class CausalSelfAttention(Module):
    """Multi-head causal self-attention: one (E, 3E) projection for Q, K, V, one fused attention node.

    Set ``store_attention = True`` to keep the last weights (N, H, T, T) in ``self.attention``.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"CausalSelfAttention: d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads, self.dropout = n_heads, dropout
        self.qkv = Linear(d_model, 3 * d_model)
        self.proj = Linear(d_model, d_model)
        self.resid_dropout = Dropout(dropout)
        self.store_attention = False
        self.attention: np.ndarray | None = None

    def forward(self, x: Tensor) -> Tensor:
        qkv = self.qkv(x)
        if self.store_attention:
            with no_grad():
                N, T, E3 = qkv.shape
                heads = qkv.array.reshape(N, T, 3, self.n_heads, E3 // (3 * self.n_heads)).transpose(2, 0, 3, 1, 4)
                self.attention = attention_weights(Tensor._wrap(heads[0]), Tensor._wrap(heads[1]), is_causal=True).array
        p = self.dropout if self.training else 0.0
        y = packed_self_attention(qkv, self.n_heads, is_causal=True, dropout_p=p)
        return self.resid_dropout(self.proj(y))




class _GeluMLP(Function):
    """y = GELU(x W1^T + b1) W2^T + b2 as one node, with GELU(h) = h s, s = (1 + tanh(k (h + c h^3))) / 2.

    Backward: dW2 = g^T a, dA = g W2, dH = dA * GELU'(h), dW1 = dH^T x, dx = dH W1, where
    GELU'(h) = s + 2k h (1 + 3 c h^2) s (1 - s) (``kernels.gelu_tanh_grad_mul``).
    The elementwise work runs in place on the hidden activations, which dominate the memory traffic.
    """

    def forward(self, x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> np.ndarray:
        x2 = x.reshape(-1, x.shape[-1])
        h = np.matmul(x2, w1.T)
        a, s = np.empty_like(h), np.empty_like(h)

        def bias_gelu(lo: int, hi: int) -> None:
            h[lo:hi] += b1
            kernels.gelu_tanh(h[lo:hi], out=a[lo:hi], s_out=s[lo:hi])

        threadpool.parallel_for(h.shape[0], bias_gelu, elements=10 * h.size)
        out = np.matmul(a, w2.T)
        out += b2
        if self.needs_input_grad:
            self.x2, self.w1, self.w2, self.h, self.s, self.a = x2, w1, w2, h, s, a
        return out.reshape(*x.shape[:-1], w2.shape[0])

    def backward(self, g: np.ndarray) -> tuple:
        g2 = g.reshape(-1, g.shape[-1])
        dw2 = np.matmul(g2.T, self.a)
        db2 = g2.sum(axis=0)
        da = np.matmul(g2, self.w2)
        h, s = self.h, self.s
        threadpool.parallel_for(  # in place: da *= GELU'(h), by row blocks over the pool
            da.shape[0], lambda lo, hi: kernels.gelu_tanh_grad_mul(da[lo:hi], h[lo:hi], s[lo:hi], out=da[lo:hi]),
            elements=10 * da.size)
        dw1 = np.matmul(da.T, self.x2)
        db1 = da.sum(axis=0)
        dx = np.matmul(da, self.w1).reshape(g.shape[:-1] + (self.w1.shape[1],))
        return dx, dw1, db1, dw2, db2


class _MLP(Module):
    """Position-wise feed-forward: proj(GELU(fc(x))), hidden size 4 * d_model (tanh GELU, as GPT-2)."""

    def __init__(self, d_model: int, dropout: float) -> None:
        super().__init__()
        self.fc = Linear(d_model, 4 * d_model)
        self.proj = Linear(4 * d_model, d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(_GeluMLP.apply(x, self.fc.weight, self.fc.bias, self.proj.weight, self.proj.bias))


class _Block(Module):
    """Pre-LayerNorm residual block: x + Attn(LN1(x)), then + MLP(LN2(x))."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, dropout)
        self.ln2 = LayerNorm(d_model)
        self.mlp = _MLP(d_model, dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(Module):
    """Decoder-only Transformer language model.

    Args: ``vocab_size``, ``context`` (longest sequence, size of the position table), ``d_model``,
    ``n_heads``, ``n_layers``, ``dropout``, ``tie_weights`` (the output layer reuses the token
    embedding matrix). Shapes: idx (N, T) integer tokens with T <= context -> logits (N, T, vocab_size).
    Blocks are pre-LayerNorm with a 4 * d_model GELU MLP (tanh form, as GPT-2).
    Init (GPT-2): weights ~ N(0, 0.02^2), biases 0, residual output projections scaled by 1/sqrt(2 n_layers).
    """

    def __init__(self, vocab_size: int, context: int = 64, d_model: int = 128, n_heads: int = 4, n_layers: int = 4,
                 dropout: float = 0.0, tie_weights: bool = False) -> None:
        super().__init__()
        self.vocab_size, self.context, self.d_model = vocab_size, context, d_model
        self.n_heads, self.n_layers, self.tie_weights = n_heads, n_layers, tie_weights
        self.tok_emb = Embedding(vocab_size, d_model)
        self.pos_emb = LearnedPositionalEmbedding(context, d_model)
        self.drop = Dropout(dropout)
        self.blocks = ModuleList([_Block(d_model, n_heads, dropout) for _ in range(n_layers)])
        self.ln_f = LayerNorm(d_model)
        self.head = Linear(d_model, vocab_size, bias=False)
        self.reset_parameters()
        if tie_weights:
            self.head.weight = self.tok_emb.weight

    def reset_parameters(self) -> None:
        with no_grad():
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    p.zero_()
                elif p.ndim == 2:
                    residual = name.endswith("attn.proj.weight") or name.endswith("mlp.proj.weight")
                    p.normal_(0.0, 0.02 / math.sqrt(2 * self.n_layers) if residual else 0.02)

    def forward(self, idx: Tensor) -> Tensor:
        if idx.ndim != 2 or idx.dtype.kind not in "iu":
            raise ValueError(f"GPT: expected integer tokens of shape (N, T), got {idx.shape} {idx.dtype}")
        if idx.shape[1] > self.context:
            raise ValueError(f"GPT: sequence length {idx.shape[1]} exceeds the context {self.context}")
        x = self.drop(self.pos_emb(self.tok_emb(idx)))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    @no_grad()
    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: Any = None) -> Tensor:
        """Append ``max_new_tokens`` sampled tokens to ``idx`` (N, T), feeding back the last ``context``.

        Each step samples from softmax(logits[:, -1] / temperature), restricted to the ``top_k`` most
        likely tokens if given; temperature 0 picks the most likely token.
        """
        was_training = self.training
        self.eval()
        out = np.asarray(idx.array if isinstance(idx, Tensor) else idx, dtype=np.int64)
        batched = out.ndim == 2
        if not batched:
            out = out[None]
        rng = numpy_rng(generator)
        for _ in range(max_new_tokens):
            nxt = sample_next(self(Tensor._wrap(out[:, -self.context:])).array[:, -1], temperature, top_k, rng)
            out = np.concatenate([out, nxt[:, None].astype(np.int64)], axis=1)
        self.train(was_training)
        return Tensor._wrap(out if batched else out[0])

    @no_grad()
    def attention_maps(self, idx: Tensor) -> Tensor:
        """Attention weights of every layer and head for ``idx`` (N, T): (n_layers, N, n_heads, T, T)."""
        was_training = self.training
        self.eval()
        attns = [b.attn for b in self.blocks]
        for a in attns:
            a.store_attention = True
        try:
            self(idx)
            maps = np.stack([a.attention for a in attns])
        finally:
            for a in attns:
                a.store_attention, a.attention = False, None
            self.train(was_training)
        return Tensor._wrap(maps)

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, context={self.context}, d_model={self.d_model}, "
                f"n_heads={self.n_heads}, n_layers={self.n_layers}, tie_weights={self.tie_weights}")


def plot_attention(maps: Tensor | np.ndarray, tokens: Sequence[str], path: str | None = None,
                   layers: Sequence[int] | None = None, heads: Sequence[int] | None = None, index: int = 0) -> Any:
    """Heatmaps of attention weights (rows: layers, columns: heads) over the prompt's tokens.

    ``maps``: (n_layers, N, n_heads, T, T) from ``GPT.attention_maps``; ``index`` picks the sequence.
    Row t of each map shows how much query position t attends to each key position. Needs matplotlib
    (the ``viz`` extra); saves to ``path`` when given and returns the figure.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = np.asarray(maps.array if isinstance(maps, Tensor) else maps)[:, index]
    layers = list(range(a.shape[0])) if layers is None else list(layers)
    heads = list(range(a.shape[1])) if heads is None else list(heads)
    labels = [repr(t)[1:-1] if t.isspace() else t for t in tokens]
    size = max(2.5, 0.18 * len(labels))
    # constrained layout places the suptitle and the one colorbar the panels share (all on [0, 1])
    fig, axes = plt.subplots(len(layers), len(heads), figsize=(size * len(heads) + 1.2, size * len(layers) + 0.6),
                             squeeze=False, layout="constrained")
    for r, li in enumerate(layers):
        for c, hi in enumerate(heads):
            ax = axes[r][c]
            im = ax.imshow(a[li, hi], cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_title(f"layer {li} head {hi}", fontsize=8)
            ax.set_xticks(range(len(labels)), labels, fontsize=6)
            ax.set_yticks(range(len(labels)), labels, fontsize=6)
            ax.set_xlabel("key token (attended to)", fontsize=7)
            ax.set_ylabel("query token", fontsize=7)
    fig.colorbar(im, ax=axes.ravel().tolist(), label="attention weight (each row sums to 1)", shrink=0.9)
    fig.suptitle("attention weights per layer and head: row t shows where query token t looks", fontsize=9)
    if path is not None:
        from deepling.viz.check import savefig_checked

        savefig_checked(fig, path, dpi=120)
        plt.close(fig)
    return fig
