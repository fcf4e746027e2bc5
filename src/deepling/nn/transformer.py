"""Transformer encoder/decoder layers and stacks with PyTorch's submodule names, plus positional encodings.

Post-norm (``norm_first=False``, Vaswani et al. 2017): x = LN(x + Sublayer(x)).
Pre-norm (``norm_first=True``): x = x + Sublayer(LN(x)).
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable

import numpy as np

from deepling import creation
from deepling.autograd import no_grad
from deepling.nn.activation import activation_by_name
from deepling.nn.attention import MultiheadAttention
from deepling.nn.container import ModuleList
from deepling.nn.dropout import Dropout
from deepling.nn.linear import Linear
from deepling.nn.module import Module
from deepling.nn.normalization import LayerNorm
from deepling.nn.parameter import Parameter
from deepling.tensor import Tensor

__all__ = [
    "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder",
    "Transformer", "PositionalEncoding", "LearnedPositionalEmbedding",
]


def _activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    if callable(activation):
        return activation
    return activation_by_name(activation)


class _SelfAttentionBlock:
    """The self-attention sublayer both layer types share."""

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)


class TransformerEncoderLayer(_SelfAttentionBlock, Module):
    """Self-attention then a position-wise feed-forward network, each with residual and LayerNorm.

    Args: ``d_model``, ``nhead``, ``dim_feedforward`` (2048), ``dropout`` (0.1), ``activation``
    ("relu", "gelu" or a callable), ``layer_norm_eps``, ``batch_first``, ``norm_first``, ``bias``.
    Shapes: src (S, N, E) ((N, S, E) if batch_first, or (S, E)); output the same.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def _ff_block(self, x: Tensor) -> Tensor:
        """FFN(x) = W_2 dropout(act(W_1 x + b_1)) + b_2, then dropout."""
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))


class TransformerDecoderLayer(_SelfAttentionBlock, Module):
    """Masked self-attention, attention over the encoder's ``memory``, then a feed-forward network.

    Same arguments as ``TransformerEncoderLayer``. Shapes: tgt (T, N, E), memory (S, N, E)
    (batch first if ``batch_first``); output (T, N, E).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff_block(x))


def _clones(layer: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


class TransformerEncoder(Module):
    """``num_layers`` independent copies of ``encoder_layer`` applied in turn, then ``norm`` if given.

    ``enable_nested_tensor`` is accepted for compatibility; outputs at padded positions are computed
    like any other (PyTorch's nested-tensor fast path in eval mode returns zeros there).
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool | None = None) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer``, each attending to the same ``memory``, then ``norm``."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """Encoder-decoder Transformer (Vaswani et al., 2017) with PyTorch's defaults and submodule names.

    Shapes: src (S, N, E), tgt (T, N, E) ((N, S, E), (N, T, E) if batch_first); output (T, N, E).
    All weight matrices start Xavier-uniform.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: str | Callable = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        kw = {"dim_feedforward": dim_feedforward, "dropout": dropout, "activation": activation,
              "layer_norm_eps": layer_norm_eps, "batch_first": batch_first, "norm_first": norm_first,
              "bias": bias, "dtype": dtype}
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, **kw), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(d_model, nhead, **kw), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                bound = math.sqrt(6.0 / (p.shape[0] + p.shape[1]))  # Xavier: sqrt(6 / (fan_in + fan_out))
                with no_grad():
                    p.uniform_(-bound, bound)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Any = None, tgt_mask: Any = None, memory_mask: Any = None,
                src_key_padding_mask: Any = None, tgt_key_padding_mask: Any = None,
                memory_key_padding_mask: Any = None, src_is_causal: bool | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError(f"Transformer: the batch number of src {src.shape} and tgt {tgt.shape} must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"Transformer: the feature number of src {src.shape} and tgt {tgt.shape} must be "
                               f"equal to d_model={self.d_model}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """(sz, sz) float mask: 0 where j <= i (allowed), -inf above the diagonal (future positions)."""
        mask = np.triu(np.full((sz, sz), -np.inf, dtype=np.float32), 1)
        return creation.tensor(mask, dtype=dtype if dtype is not None else np.float32)


def _sinusoid_table(max_len: int, d_model: int) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d))."""
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    freq = np.exp(-math.log(10000.0) * np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = np.sin(pos * freq)
    table[:, 1::2] = np.cos(pos * freq)[:, : d_model // 2]
    return table.astype(np.float32)


class PositionalEncoding(Module):
    """Adds the fixed sinusoidal position code of Vaswani et al. (2017), then dropout.

    Shapes: x (T, N, E) or (N, T, E) if ``batch_first``; output the same. The table ``pe``
    (max_len, d_model) is a non-persistent buffer (it is recomputed, not saved).
    """

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000, batch_first: bool = False) -> None:
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)
        self.register_buffer("pe", Tensor._wrap(_sinusoid_table(max_len, d_model)), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        T = x.shape[1] if self.batch_first else x.shape[0]
        if T > self.max_len or x.shape[-1] != self.d_model:
            raise ValueError(f"PositionalEncoding: input {x.shape} needs length <= {self.max_len} and "
                             f"features {self.d_model}")
        pe = self.pe.array[:T].astype(x.dtype, copy=False)
        return self.dropout(x + Tensor._wrap(pe if self.batch_first else pe[:, None, :]))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class LearnedPositionalEmbedding(Module):
    """Adds a trained vector per position: y[n, t] = x[n, t] + weight[t] (as in GPT).

    Shapes: x (N, T, E) (or (T, N, E) when ``batch_first=False``); ``weight`` (max_len, E) ~ N(0, 0.02^2).
    """

    def __init__(self, max_len: int, embedding_dim: int, batch_first: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.max_len, self.embedding_dim, self.batch_first = max_len, embedding_dim, batch_first
        self.weight = Parameter(creation.empty(max_len, embedding_dim, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with no_grad():
            self.weight.normal_(0.0, 0.02)

    def forward(self, x: Tensor) -> Tensor:
        T = x.shape[1] if self.batch_first else x.shape[0]
        if T > self.max_len or x.shape[-1] != self.embedding_dim:
            raise ValueError(f"LearnedPositionalEmbedding: input {x.shape} needs length <= {self.max_len} and "
                             f"features {self.embedding_dim}")
        pos = self.weight[:T]
        return x + (pos if self.batch_first else pos.unsqueeze(1))

    def extra_repr(self) -> str:
        return f"{self.max_len}, {self.embedding_dim}"
