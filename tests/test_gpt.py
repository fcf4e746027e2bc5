"""The GPT model: causality, parity with a PyTorch twin, memorizing a text, sampling, attention maps."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import deepling as dl
from deepling.models import GPT
from deepling.models.gpt import _GeluMLP, plot_attention
from deepling.ops.loss import cross_entropy
from deepling.optim import AdamW
from oracle import check_grad, check_module, check_op, compare

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.gpt import TorchGPT  # noqa: E402  (the PyTorch twin with the same parameter names)

TEXT = "the quick brown fox jumps over the lazy dog; attention is all you need."


def _model(**kw) -> GPT:
    dl.manual_seed(0)
    args = dict(vocab_size=12, context=10, d_model=16, n_heads=4, n_layers=2) | kw
    return GPT(**args)


def _tokens(n, t, vocab=12, seed=0):
    return np.random.default_rng(seed).integers(0, vocab, (n, t))


def _torch_mlp(x, w1, b1, w2, b2):
    return torch.nn.functional.linear(torch.nn.functional.gelu(torch.nn.functional.linear(x, w1, b1), approximate="tanh"),
                                      w2, b2)


@pytest.mark.parametrize("shapes", [[(2, 3, 4), (8, 4), (8,), (4, 8), (4,)], [(5, 3), (6, 3), (6,), (2, 6), (2,)]])
def test_fused_gelu_mlp(shapes):
    check_op(_torch_mlp, shapes, lambda *a: _GeluMLP.apply(*a), low=-3, high=3)
    check_grad(lambda *a: _GeluMLP.apply(*a), shapes, low=-3, high=3)


def test_causal_mask_future_tokens_do_not_change_the_past():
    m = _model().eval()
    idx = _tokens(2, 10)
    changed = idx.copy()
    changed[:, 6:] = (changed[:, 6:] + 5) % 12
    a, b = m(dl.tensor(idx)).array, m(dl.tensor(changed)).array
    np.testing.assert_allclose(a[:, :6], b[:, :6], rtol=0, atol=1e-6)
    assert not np.allclose(a[:, 6:], b[:, 6:])
    # The same through gradients: the logits at t = 3 do not depend on the embeddings of t > 3.
    x = dl.tensor(idx)
    m.zero_grad()
    m(x)[:, 3].sum().backward()
    np.testing.assert_array_equal(m.pos_emb.weight.grad.array[4:], 0.0)
    assert np.abs(m.pos_emb.weight.grad.array[:4]).sum() > 0


@pytest.mark.parametrize("tie", [False, True])
def test_matches_torch_twin(tie):
    m = _model(tie_weights=tie)
    t = TorchGPT(12, 10, 16, 4, 2, tie_weights=tie)
    assert list(t.state_dict()) == list(m.state_dict())
    idx, y = _tokens(3, 8), _tokens(3, 8, seed=1)

    def loss(model, idx, y):  # next-token cross-entropy of each framework
        if isinstance(model, torch.nn.Module):
            return torch.nn.functional.cross_entropy(model(idx).reshape(-1, 12), y.reshape(-1))
        return cross_entropy(model(idx).reshape(-1, 12), y.reshape(-1))

    check_module(m, t, [idx, y], call=loss, atol=1e-5, rtol=1e-5, grad_atol=1e-5, grad_rtol=1e-3)


def test_tied_weights_share_one_parameter():
    m = _model(tie_weights=True)
    assert m.head.weight is m.tok_emb.weight
    untied = _model()
    assert sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in m.parameters()) == 12 * 16


def test_memorizes_a_short_text():
    """Fixed seed: after 200 AdamW steps the training loss is below 0.3 and greedy decoding recites the text."""
    chars = sorted(set(TEXT))
    data = np.array([chars.index(c) for c in TEXT])
    dl.manual_seed(0)
    m = GPT(len(chars), context=16, d_model=32, n_heads=4, n_layers=2)
    opt = AdamW(m.parameters(), lr=1e-2, weight_decay=0.0)
    rng = np.random.default_rng(0)
    offsets = np.arange(17)
    for _ in range(200):
        chunk = data[rng.integers(0, len(data) - 17, 16)[:, None] + offsets]
        loss = cross_entropy(m(dl.tensor(chunk[:, :-1])).reshape(-1, len(chars)), dl.tensor(chunk[:, 1:].reshape(-1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3
    out = m.generate(dl.tensor(data[None, :16]), 30, temperature=0)
    assert "".join(chars[i] for i in out.array[0]) == TEXT[:46]


def test_generate_shapes_sampling_and_context_crop():
    m = _model()
    idx = dl.tensor(_tokens(2, 4))
    dl.manual_seed(1)
    a = m.generate(idx, 15, temperature=1.0)
    dl.manual_seed(1)
    b = m.generate(idx, 15, temperature=1.0)
    assert a.shape == (2, 19) and a.dtype == np.int64  # longer than the context (10): the window slides
    np.testing.assert_array_equal(a.array, b.array)
    np.testing.assert_array_equal(a.array[:, :4], idx.array)
    assert a.array.min() >= 0 and a.array.max() < 12
    greedy = m.generate(idx, 5, temperature=0)
    assert m.training  # generate restores the mode
    np.testing.assert_array_equal(m.generate(idx, 5, top_k=1).array, greedy.array)
    # top_k=3: every sampled token is among the 3 most likely at its step.
    x = m.generate(idx[:1], 1, top_k=3)
    top3 = np.argsort(m.eval()(idx[:1]).array[0, -1])[-3:]
    assert x.array[0, -1] in top3
    assert m.generate(dl.tensor(np.array([1, 2])), 3).shape == (5,)


def test_attention_maps_match_torch_multihead_attention():
    m = _model().eval()
    idx = _tokens(2, 7)
    maps = m.attention_maps(dl.tensor(idx))
    assert maps.shape == (2, 2, 4, 7, 7)
    w = maps.array
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(np.ones((7, 7)), 1)[None, None, None] * w == 0)
    # Layer 0 equals PyTorch's per-head MHA weights for the same projections and input.
    blk = m.blocks[0]
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    mha.in_proj_weight.data = torch.tensor(blk.attn.qkv.weight.array)
    mha.in_proj_bias.data = torch.tensor(blk.attn.qkv.bias.array)
    h = blk.ln1(m.pos_emb(m.tok_emb(dl.tensor(idx)))).array
    causal = torch.triu(torch.ones(7, 7, dtype=torch.bool), 1)
    _, tw = mha(*[torch.tensor(h)] * 3, attn_mask=causal, average_attn_weights=False)
    compare("layer 0 maps", maps.array[0], tw, 1e-5, 1e-4)
    assert all(not b.attn.store_attention and b.attn.attention is None for b in m.blocks)


def test_plot_attention_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    m = _model()
    maps = m.attention_maps(dl.tensor(_tokens(1, 5)))
    path = tmp_path / "attn.png"
    plot_attention(maps, list("ab cd"), path=str(path), layers=[1], heads=[0, 3])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input():
    m = _model()
    with pytest.raises(ValueError, match="context"):
        m(dl.tensor(_tokens(1, 11)))
    with pytest.raises(ValueError, match="GPT"):
        m(dl.randn(2, 3))
    with pytest.raises(ValueError, match="divisible"):
        GPT(10, 8, d_model=10, n_heads=4, n_layers=1)


def test_cli_trains_and_samples_gpt(tmp_path, capsys):
    from deepling.cli import main

    text = tmp_path / "t.txt"
    text.write_text(TEXT * 6, encoding="utf-8")
    out = tmp_path / "run"
    args = ["train", "--model", "gpt", "--dataset", "text", "--text", str(text), "--context", "16", "--embed", "16",
            "--layers", "1", "--heads", "2", "--lr", "1e-2", "--optimizer", "adamw", "--eval-every", "20",
            "--steps", "40", "--out", str(out), "--threads", "1"]
    assert main(args) == 0
    log = capsys.readouterr().out
    assert "training gpt" in log and (out / "checkpoint.ckpt").exists()
    assert float(log.split("validation loss:")[1].split()[0]) < 2.5  # uniform over the vocabulary: ln 24 = 3.2
    assert main(["sample", str(out / "checkpoint.ckpt"), "--prompt", "the ", "--tokens", "30", "--temperature", "0"]) == 0
    sample = capsys.readouterr().out.rstrip("\n")
    assert sample.startswith("the ") and len(sample) == 34 and set(sample) <= set(TEXT)
