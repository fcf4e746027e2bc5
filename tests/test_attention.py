"""scaled_dot_product_attention and MultiheadAttention against PyTorch, plus float64 gradchecks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepling as dl
import deepling.nn.functional as F
from deepling.nn import MultiheadAttention
from deepling.ops.attention import attention_weights, packed_self_attention
from oracle import check_grad, check_module, check_op

SHAPES = [
    [(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7)],  # (N, H, L, E), (N, H, S, E), (N, H, S, Ev)
    [(5, 4), (5, 4), (5, 3)],  # no batch dims
    [(1, 4, 4), (3, 2, 6, 4), (2, 6, 5)],  # broadcast batch dims
]


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("opts", [{}, {"scale": 0.3}, {"is_causal": True}, {"is_causal": True, "scale": 2.0}])
def test_sdpa_matches_torch(shapes, opts):
    check_op(lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **opts), shapes,
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **opts))


@pytest.mark.parametrize("mask_shape", [(5, 6), (3, 5, 6), (2, 1, 5, 6)])
def test_sdpa_bool_mask(mask_shape):
    mask = np.random.default_rng(1).random(mask_shape) > 0.4
    mask[..., 2, :] = False  # a fully masked row: PyTorch's safe softmax gives zeros there
    check_op(lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, attn_mask=torch.tensor(mask)), SHAPES[0],
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=dl.tensor(mask)))


@pytest.mark.parametrize("mask_shape", [(5, 6), (2, 3, 5, 6)])
def test_sdpa_float_mask_with_grad(mask_shape):
    check_op(lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m), SHAPES[0] + [mask_shape],
             lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m))


def test_sdpa_float_mask_with_minus_inf():
    mask = np.where(np.random.default_rng(2).random((5, 6)) > 0.5, 0.0, -np.inf).astype(np.float32)
    check_op(lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, attn_mask=torch.tensor(mask)), SHAPES[0],
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=dl.tensor(mask)))


@pytest.mark.parametrize("opts", [{}, {"is_causal": True, "scale": 0.7}])
def test_sdpa_gradcheck(opts):
    check_grad(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **opts), [(2, 5, 3), (2, 6, 3), (2, 6, 4)])


def test_sdpa_gradcheck_float_mask():
    check_grad(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
               [(2, 4, 3), (1, 5, 3), (2, 5, 2), (4, 5)])


def test_sdpa_dropout_is_seeded_and_unbiased():
    rng = np.random.default_rng(0)
    q, k, v = (dl.tensor(rng.standard_normal((2, 8, 4)).astype(np.float32), requires_grad=True) for _ in range(3))
    dl.manual_seed(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    dl.manual_seed(3)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(a.array, b.array)
    assert not np.allclose(a.array, F.scaled_dot_product_attention(q, k, v).array)
    # E[dropout(P)] = P: the mean over many draws approaches the dropout-free output.
    ones = dl.ones(2, 8, 8)
    mean = np.mean([F.scaled_dot_product_attention(q, k, ones, dropout_p=0.3).array for _ in range(400)], axis=0)
    np.testing.assert_allclose(mean, 1.0, atol=0.06)
    a.sum().backward()  # the backward uses the same keep-mask as the forward
    assert q.grad is not None and np.isfinite(q.grad.array).all()


def test_sdpa_dropout_gradcheck():
    # Re-seeding before every call makes the dropout mask a fixed function, so finite differences apply.
    def fn(q, k, v):
        dl.manual_seed(5)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)

    check_grad(fn, [(2, 4, 3), (2, 5, 3), (2, 5, 2)])


def test_sdpa_grouped_query_attention():
    check_op(lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, enable_gqa=True, is_causal=True),
             [(2, 6, 5, 4), (2, 2, 5, 4), (2, 2, 5, 3)],
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True, is_causal=True))
    with pytest.raises(ValueError, match="divisible"):
        F.scaled_dot_product_attention(dl.randn(1, 3, 2, 4), dl.randn(1, 2, 2, 4), dl.randn(1, 2, 2, 4), enable_gqa=True)


def test_sdpa_bad_input():
    q = dl.randn(2, 5, 4)
    with pytest.raises(ValueError, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(q, dl.randn(2, 5, 3), dl.randn(2, 5, 4))
    with pytest.raises(ValueError, match="attn_mask"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=dl.ones(3, 3, dtype=dl.bool))
    with pytest.raises(TypeError, match="attn_mask"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=dl.ones(5, 5, dtype=dl.int64))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=dl.ones(5, 5, dtype=dl.bool), is_causal=True)


def test_packed_self_attention_matches_split_heads():
    H = 2

    def torch_fn(x):
        N, T, E3 = x.shape
        q, k, v = (t.reshape(N, T, H, -1).transpose(1, 2) for t in x.chunk(3, dim=-1))
        return TF.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(N, T, -1)

    check_op(torch_fn, [(3, 5, 12)], lambda x: packed_self_attention(x, H, is_causal=True))
    check_grad(lambda x, m: packed_self_attention(x, H, attn_mask=m), [(2, 4, 6), (4, 4)])


def _torch_packed(H, **kw):
    def fn(x, *mask):
        N, T, E3 = x.shape
        q, k, v = (t.reshape(N, T, H, -1).transpose(1, 2) for t in x.chunk(3, dim=-1))
        m = mask[0] if mask else kw.pop("attn_mask", None)
        return TF.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw).transpose(1, 2).reshape(N, T, -1)
    return fn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_self_attention_masks_match_torch(dtype):
    # The keys-first kernel on views of the packed projection, for every kind of mask.
    H, bool_mask = 2, np.random.default_rng(4).random((5, 5)) > 0.5
    bool_mask[3] = False  # a query with no keys: zero weights
    check_op(_torch_packed(H), [(3, 5, 12)], lambda x: packed_self_attention(x, H), dtype=dtype)
    check_op(_torch_packed(H, is_causal=True), [(3, 5, 12)], lambda x: packed_self_attention(x, H, is_causal=True),
             dtype=dtype)
    check_op(_torch_packed(H, attn_mask=torch.tensor(bool_mask)), [(3, 5, 12)],
             lambda x: packed_self_attention(x, H, attn_mask=dl.tensor(bool_mask)), dtype=dtype)
    check_op(_torch_packed(H), [(3, 5, 12), (3, 1, 5, 5)], lambda x, m: packed_self_attention(x, H, attn_mask=m),
             dtype=dtype)


def test_packed_self_attention_gradchecks():
    bool_mask = dl.tensor(np.tri(4, 4, dtype=bool)[::-1].copy())
    check_grad(lambda x: packed_self_attention(x, 2, is_causal=True), [(2, 4, 6)])
    check_grad(lambda x: packed_self_attention(x, 2, attn_mask=bool_mask), [(2, 4, 6)])
    check_grad(lambda x: packed_self_attention(x, 2), [(2, 4, 6)])

    def dropped(x):
        dl.manual_seed(7)
        return packed_self_attention(x, 2, is_causal=True, dropout_p=0.3)

    check_grad(dropped, [(2, 4, 6)])


@pytest.mark.parametrize("L,S", [(4, 6), (6, 4)])
def test_sdpa_causal_unequal_lengths_gradcheck_and_top_left(L, S):
    # is_causal with L != S: query i sees keys j <= i (PyTorch's top-left alignment), float64 both ways.
    shapes = [(2, L, 3), (2, S, 3), (2, S, 2)]
    check_grad(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), shapes)
    check_op(lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True), shapes,
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), dtype=np.float64,
             atol=1e-10, rtol=1e-8)


def test_sdpa_float64_float_mask_matches_torch():
    check_op(lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m), SHAPES[0] + [(3, 5, 6)],
             lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), dtype=np.float64,
             atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("opts", [{}, {"is_causal": True}, {"dropout_p": 0.5}])
def test_sdpa_and_packed_empty_batch(opts):
    q, k, v = (dl.zeros(0, 2, n, 4, requires_grad=True) for n in (5, 6, 6))
    y = F.scaled_dot_product_attention(q, k, v, **opts)
    assert y.shape == (0, 2, 5, 4)
    y.sum().backward()
    assert q.grad.shape == q.shape and k.grad.shape == k.shape and v.grad.shape == v.shape
    x = dl.zeros(0, 5, 12, requires_grad=True)
    z = packed_self_attention(x, 2, **opts)
    assert z.shape == (0, 5, 4)
    z.sum().backward()
    assert x.grad.shape == x.shape


def test_causal_bias_is_cached_and_read_only():
    from deepling.ops.attention import _causal_bias_t

    b = _causal_bias_t(3, 4, np.dtype(np.float32))
    assert b is _causal_bias_t(3, 4, np.dtype(np.float32)) and not b.flags.writeable
    np.testing.assert_array_equal(np.isfinite(b), np.tri(4, 3, dtype=bool).T)  # key j visible to query i iff j <= i


def test_attention_weights_gradcheck():
    check_grad(lambda q, k, m: attention_weights(q, k, m), [(2, 4, 3), (2, 5, 3), (4, 5)])
    check_grad(lambda q, k: attention_weights(q, k, is_causal=True), [(2, 4, 3), (2, 4, 3)])


# ----------------------------------------------------------------------------- MultiheadAttention
def _pair(E=8, H=2, **kw):
    t = torch.nn.MultiheadAttention(E, H, **kw)
    d = MultiheadAttention(E, H, **kw)
    assert list(d.state_dict()) == list(t.state_dict())
    result = d.load_state_dict(t.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    return t, d


def _run_mha(t, d, q, k=None, v=None, **kw):
    """Run both modules on the same arrays (query only: self-attention); compare output, weights
    and all gradients (oracle.check_module)."""
    tkw = {n: torch.tensor(m) for n, m in kw.items() if isinstance(m, np.ndarray)}
    dkw = {n: dl.tensor(m) for n, m in kw.items() if isinstance(m, np.ndarray)}
    flags = {n: m for n, m in kw.items() if not isinstance(m, np.ndarray)}

    def call(m, *xs):
        masks = tkw if isinstance(m, torch.nn.Module) else dkw
        return m(*(xs if len(xs) == 3 else xs * 3), **masks, **flags)

    check_module(d, t, [a for a in (q, k, v) if a is not None], modes=None, copy_weights=False, call=call,
                 atol=1e-5, rtol=1e-4, grad_atol=1e-4, grad_rtol=1e-3)


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("average", [True, False])
def test_mha_self_attention(need_weights, average):
    t, d = _pair()
    _run_mha(t, d, _x(4, 3, 8), need_weights=need_weights, average_attn_weights=average)


def test_mha_batch_first_with_key_padding_mask():
    t, d = _pair(batch_first=True)
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[0, -2:] = True
    kpm[2, 0] = True
    _run_mha(t, d, _x(3, 5, 8), key_padding_mask=kpm)
    _run_mha(t, d, _x(3, 5, 8), key_padding_mask=kpm, need_weights=False)


def test_mha_bool_and_float_attn_masks():
    t, d = _pair(batch_first=True)
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)  # True = not allowed (MHA's convention)
    _run_mha(t, d, _x(2, 5, 8), attn_mask=causal)
    _run_mha(t, d, _x(2, 5, 8), attn_mask=causal, need_weights=False, is_causal=True)
    per_head = _x(2 * 2, 5, 5, seed=3)  # (N * H, L, S) float mask
    _run_mha(t, d, _x(2, 5, 8), attn_mask=per_head, average_attn_weights=False)
    kpm = np.where(np.arange(5) > 3, -np.inf, 0.0).astype(np.float32)[None].repeat(2, 0)
    _run_mha(t, d, _x(2, 5, 8), attn_mask=per_head, key_padding_mask=kpm, need_weights=False)


def test_mha_kdim_vdim_cross_attention():
    t, d = _pair(kdim=6, vdim=5)
    assert d.in_proj_weight is None and d.k_proj_weight.shape == (8, 6)
    kpm = np.zeros((3, 7), dtype=bool)
    kpm[1, 3:] = True
    _run_mha(t, d, _x(4, 3, 8), _x(7, 3, 6, seed=1), _x(7, 3, 5, seed=2), key_padding_mask=kpm)
    _run_mha(t, d, _x(4, 3, 8), _x(7, 3, 6, seed=1), _x(7, 3, 5, seed=2), need_weights=False)


def test_mha_bias_kv_zero_attn_no_bias():
    t, d = _pair(add_bias_kv=True, add_zero_attn=True, bias=False)
    mask = np.triu(np.ones((4, 6), dtype=bool), 1)
    _run_mha(t, d, _x(4, 2, 8), _x(6, 2, 8, seed=1), _x(6, 2, 8, seed=2), attn_mask=mask)


def test_mha_unbatched():
    t, d = _pair()
    kpm = np.array([False, False, True, False])
    _run_mha(t, d, _x(4, 8), key_padding_mask=kpm, average_attn_weights=False)


def test_mha_training_dropout_changes_output_and_eval_does_not():
    _, d = _pair(dropout=0.5, batch_first=True)
    x = dl.tensor(_x(2, 6, 8))
    d.eval()
    a, _ = d(x, x, x)
    b, _ = d(x, x, x, need_weights=False)
    np.testing.assert_allclose(a.array, b.array, atol=1e-6)
    d.train()
    c, w = d(x, x, x)
    assert not np.allclose(a.array, c.array)
    assert np.isfinite(w.array).all()


def test_mha_bad_input():
    d = MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match="divisible"):
        MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="MultiheadAttention"):
        d(dl.randn(4, 2, 6), dl.randn(4, 2, 6), dl.randn(4, 2, 6))
    x = dl.randn(4, 2, 8)
    with pytest.raises(ValueError, match="attn_mask"):
        d(x, x, x, attn_mask=dl.ones(3, 3, dtype=dl.bool))
    with pytest.raises(ValueError, match="key_padding_mask"):
        d(x, x, x, key_padding_mask=dl.ones(4, 2, dtype=dl.bool))
    with pytest.raises(RuntimeError, match="is_causal"):
        d(x, x, x, is_causal=True)
