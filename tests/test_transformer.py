"""Transformer layers and stacks against PyTorch with the same weights, plus positional encodings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import deepling as dl
from deepling import nn
from deepling.nn.normalization import LayerNorm
from deepling.ops.activation import gelu
from oracle import check_grad, check_module


def _load(t: torch.nn.Module, d: nn.Module) -> None:
    assert list(d.state_dict()) == list(t.state_dict())
    result = d.load_state_dict(t.state_dict())
    assert not result.missing_keys and not result.unexpected_keys


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _compare_run(t_fn, d_fn, arrays, t_module, d_module, atol=1e-5):
    """Outputs, input gradients and parameter gradients under a random projection of the output,
    the modules in their current mode (``t_fn``/``d_fn`` call them with the masks)."""
    check_module(d_module, t_module, arrays, modes=None, copy_weights=False,
                 call=lambda m, *xs: (t_fn if isinstance(m, torch.nn.Module) else d_fn)(*xs),
                 atol=atol, rtol=atol * 10, grad_atol=atol * 10, grad_rtol=atol * 100)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, batch_first):
    kw = dict(dim_feedforward=16, activation=activation, norm_first=norm_first, batch_first=batch_first)
    t = torch.nn.TransformerEncoderLayer(8, 2, **kw).eval()
    d = nn.TransformerEncoderLayer(8, 2, **kw).eval()
    _load(t, d)
    mask_t = torch.nn.Transformer.generate_square_subsequent_mask(5)
    mask_d = nn.Transformer.generate_square_subsequent_mask(5)
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[1, 3:] = True
    _compare_run(lambda x: t(x, src_mask=mask_t, src_key_padding_mask=torch.tensor(kpm)),
                 lambda x: d(x, src_mask=mask_d, src_key_padding_mask=dl.tensor(kpm)),
                 [_x(3, 5, 8) if batch_first else _x(5, 3, 8)], t, d)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first):
    kw = dict(dim_feedforward=12, norm_first=norm_first, activation=torch.nn.functional.gelu)
    t = torch.nn.TransformerDecoderLayer(8, 4, **kw).eval()
    kw["activation"] = gelu  # a callable activation
    d = nn.TransformerDecoderLayer(8, 4, **kw).eval()
    _load(t, d)
    mkpm = np.zeros((2, 6), dtype=bool)
    mkpm[0, 4:] = True
    _compare_run(
        lambda x, m: t(x, m, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(4), tgt_is_causal=True,
                       memory_key_padding_mask=torch.tensor(mkpm)),
        lambda x, m: d(x, m, tgt_mask=nn.Transformer.generate_square_subsequent_mask(4), tgt_is_causal=True,
                       memory_key_padding_mask=dl.tensor(mkpm)),
        [_x(4, 2, 8), _x(6, 2, 8, seed=1)], t, d)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_matches_torch(norm_first):
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16,
              norm_first=norm_first, batch_first=True)
    torch.manual_seed(0)
    t = torch.nn.Transformer(**kw).eval()
    d = nn.Transformer(**kw).eval()
    _load(t, d)
    kpm = np.zeros((3, 6), dtype=bool)
    kpm[2, 5:] = True
    tm = torch.nn.Transformer.generate_square_subsequent_mask(4)
    dm = nn.Transformer.generate_square_subsequent_mask(4)
    _compare_run(
        lambda s, g: t(s, g, tgt_mask=tm, src_key_padding_mask=torch.tensor(kpm),
                       memory_key_padding_mask=torch.tensor(kpm)),
        lambda s, g: d(s, g, tgt_mask=dm, src_key_padding_mask=dl.tensor(kpm),
                       memory_key_padding_mask=dl.tensor(kpm)),
        [_x(3, 6, 8), _x(3, 4, 8, seed=1)], t, d)


def test_transformer_state_dict_round_trip_and_init():
    d = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)
    t = torch.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)
    t.load_state_dict({k: torch.tensor(v.array) for k, v in d.state_dict().items()})
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), d.state_dict()[k].array)
    # Xavier-uniform matrices: every entry within sqrt(6 / (fan_in + fan_out)).
    w = d.encoder.layers[0].linear1.weight.array
    assert np.abs(w).max() <= math.sqrt(6 / (8 + 16)) and w.std() > 0.1
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 3)
    p0, p1 = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert p0 is not p1 and np.array_equal(p0.array, p1.array)  # deep copies, as PyTorch


def test_encoder_stack_with_causal_mask_matches_torch():
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                                    norm=torch.nn.LayerNorm(8), enable_nested_tensor=False).eval()
    d = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                              norm=LayerNorm(8)).eval()
    _load(t, d)
    tm = torch.nn.Transformer.generate_square_subsequent_mask(5)
    dm = nn.Transformer.generate_square_subsequent_mask(5)
    _compare_run(lambda x: t(x, mask=tm, is_causal=True), lambda x: d(x, mask=dm, is_causal=True),
                 [_x(2, 5, 8)], t, d)


def test_dropout_in_training_mode():
    d = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = dl.tensor(_x(5, 2, 8))
    d.train()
    a = d(x)
    d.eval()
    b, c = d(x), d(x)
    np.testing.assert_array_equal(b.array, c.array)
    assert not np.allclose(a.array, b.array)


def test_generate_square_subsequent_mask():
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(6).array,
                                  torch.nn.Transformer.generate_square_subsequent_mask(6).numpy())


def test_positional_encoding_formula():
    pe = nn.PositionalEncoding(6, dropout=0.0, max_len=10)
    x = dl.zeros(4, 2, 6)
    y = pe(x).array
    pos, i = 3, 1  # PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...)
    np.testing.assert_allclose(y[pos, 1, 2 * i], math.sin(pos / 10000 ** (2 * i / 6)), rtol=1e-6)
    np.testing.assert_allclose(y[pos, 0, 2 * i + 1], math.cos(pos / 10000 ** (2 * i / 6)), rtol=1e-6)
    assert "pe" not in pe.state_dict()
    assert y.dtype == np.float32
    bf = nn.PositionalEncoding(6, dropout=0.0, max_len=10, batch_first=True)
    np.testing.assert_allclose(bf(dl.zeros(2, 4, 6)).array[1], y[:, 0])
    with pytest.raises(ValueError, match="PositionalEncoding"):
        pe(dl.zeros(11, 1, 6))


def test_learned_positional_embedding_gradcheck():
    check_grad(lambda x, w: x + w[:4], [(2, 4, 3), (5, 3)])  # the op LearnedPositionalEmbedding performs
    lpe = nn.LearnedPositionalEmbedding(5, 3).double()
    x = dl.tensor(_x(2, 4, 3).astype(np.float64), requires_grad=True)
    y = lpe(x)
    np.testing.assert_allclose(y.array, x.array + lpe.weight.array[:4])
    y.sum().backward()
    np.testing.assert_allclose(lpe.weight.grad.array[:4], 2.0)
    np.testing.assert_allclose(lpe.weight.grad.array[4], 0.0)
    with pytest.raises(ValueError, match="LearnedPositionalEmbedding"):
        lpe(dl.zeros(1, 6, 3, dtype=dl.float64))


def test_bad_activation():
    with pytest.raises(RuntimeError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
