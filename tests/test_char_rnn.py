"""CharCorpus (vocabulary, splits, windows) and CharRNN (torch parity, generation, memorizing a text)."""

import numpy as np
import pytest
import torch

import deepling as dl
from deepling import optim
from deepling.data.datasets.text import CharCorpus, CharWindows
from deepling.models.char_rnn import CharRNN
from deepling.models.sampling import sample_next
from deepling.nn import functional as F
from deepling.nn.utils import clip_grad_norm_

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"


def test_corpus_vocabulary_and_roundtrip(tmp_path):
    c = CharCorpus(TEXT)
    assert c.chars == sorted(set(TEXT)) and c.vocab_size == len(set(TEXT))
    ids = c.encode(TEXT)
    assert ids.dtype == np.int64 and ids.shape == (len(TEXT),)
    assert [c.chars[i] for i in ids[:5]] == list(TEXT[:5])
    assert c.decode(ids) == TEXT and c.decode(dl.tensor(ids)) == TEXT and c.decode([]) == ""
    n_train = round(len(TEXT) * 0.9)
    np.testing.assert_array_equal(c.train_data, ids[:n_train])
    np.testing.assert_array_equal(c.val_data, ids[n_train:])
    p = tmp_path / "t.txt"
    p.write_text("héllo wörld ✓", encoding="utf-8")
    c2 = CharCorpus.from_file(p)
    assert c2.decode(c2.encode("wörld ✓")) == "wörld ✓"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        c.encode("Z?#")
    with pytest.raises(ValueError, match="decode"):
        c.decode([c.vocab_size])


def test_windows_are_shifted_targets():
    c = CharCorpus(TEXT)
    ds = c.dataset("train", context=8)
    assert isinstance(ds, CharWindows) and len(ds) == len(c.train_data) - 8
    x, y = ds[3]
    np.testing.assert_array_equal(x.array, c.train_data[3:11])
    np.testing.assert_array_equal(y.array, c.train_data[4:12])
    xb, yb = ds[np.array([0, 5, len(ds) - 1])]
    assert xb.shape == yb.shape == (3, 8)
    np.testing.assert_array_equal(xb.array[:, 1:], yb.array[:, :-1])
    np.testing.assert_array_equal(yb.array[2], c.train_data[-8:])
    with pytest.raises(IndexError):
        ds[len(ds)]
    with pytest.raises(ValueError, match="too short"):
        c.dataset("val", context=64)


def test_get_batch_reproducible_and_in_range():
    c = CharCorpus(TEXT * 3)
    a = c.get_batch("train", 16, 10, generator=dl.Generator(5))
    b = c.get_batch("train", 16, 10, generator=dl.Generator(5))
    np.testing.assert_array_equal(a[0].array, b[0].array)
    x, y = a
    assert x.shape == (16, 10) and x.dtype == np.int64
    np.testing.assert_array_equal(x.array[:, 1:], y.array[:, :-1])
    assert c.decode(x[0]) in c.decode(c.train_data)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_char_rnn_matches_torch(cell):
    torch.manual_seed(0)
    emb = torch.nn.Embedding(11, 6)
    rnn = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](6, 9, 2, batch_first=True)
    head = torch.nn.Linear(9, 11)
    m = CharRNN(11, 6, 9, 2, cell=cell)
    state = {f"embedding.{k}": v for k, v in emb.state_dict().items()}
    state.update({f"rnn.{k}": v for k, v in rnn.state_dict().items()})
    state.update({f"head.{k}": v for k, v in head.state_dict().items()})
    m.load_state_dict(state)
    ids = np.random.default_rng(0).integers(0, 11, size=(3, 7))
    y = np.random.default_rng(1).integers(0, 11, size=(3, 7))
    tl = torch.nn.functional.cross_entropy(head(rnn(emb(torch.tensor(ids)))[0]).reshape(-1, 11), torch.tensor(y).reshape(-1))
    logits = m(dl.tensor(ids))
    assert logits.shape == (3, 7, 11)
    dlv = F.cross_entropy(logits.reshape(-1, 11), dl.tensor(y).reshape(-1))
    np.testing.assert_allclose(dlv.item(), tl.item(), rtol=1e-5)
    tl.backward()
    dlv.backward()
    np.testing.assert_allclose(m.embedding.weight.grad.array, emb.weight.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(m.rnn.weight_hh_l0.grad.array, rnn.weight_hh_l0.grad.numpy(), atol=1e-6)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_generate_carries_state_like_a_full_forward(cell):
    dl.manual_seed(1)
    m = CharRNN(7, 5, 12, 2, cell=cell)
    out = m.generate([1, 2, 3], max_new_tokens=10, temperature=0)
    assert out.shape == (13,) and out.dtype == np.int64
    np.testing.assert_array_equal(out.array[:3], [1, 2, 3])
    # Greedy: every generated id is the argmax of the full-sequence forward at the step before.
    logits = m(out[None, :-1]).array[0]
    np.testing.assert_array_equal(out.array[3:], logits.argmax(-1)[2:])
    batch = m.generate(np.array([[1, 2], [4, 4]]), 5, temperature=0.7, top_k=3, generator=dl.Generator(0))
    again = m.generate(np.array([[1, 2], [4, 4]]), 5, temperature=0.7, top_k=3, generator=dl.Generator(0))
    assert batch.shape == (2, 7) and m.training
    np.testing.assert_array_equal(batch.array, again.array)


def test_sample_follows_tempered_top_k_softmax():
    logits = np.array([[2.0, 1.0, 0.0, -1.0]] * 20000, dtype=np.float32)
    rng = np.random.default_rng(0)
    draws = sample_next(logits, 0.5, None, rng)
    p = np.exp(logits[0] / 0.5)
    p /= p.sum()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / len(draws), p, atol=0.01)
    top2 = sample_next(logits, 1.0, 2, rng)
    assert set(np.unique(top2)) == {0, 1}
    q = np.exp(logits[0, :2]) / np.exp(logits[0, :2]).sum()
    np.testing.assert_allclose(np.bincount(top2, minlength=2) / len(top2), q, atol=0.01)
    np.testing.assert_array_equal(sample_next(logits[:3], 1.0, 1, rng), [0, 0, 0])


def test_char_lstm_memorizes_a_short_text():
    """A char-LSTM overfits a two-line text: uniform guessing costs ln(V) ~ 3.2 nats/char."""
    dl.manual_seed(0)
    c = CharCorpus(TEXT, val_fraction=0.0)
    m = CharRNN(c.vocab_size, 16, 64, 1, cell="lstm")
    opt = optim.AdamW(m.parameters(), lr=1e-2)
    gen = dl.Generator(0)
    for _ in range(150):
        x, y = c.get_batch("train", 16, 32, generator=gen)
        loss = F.cross_entropy(m(x).reshape(-1, c.vocab_size), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
    x = dl.tensor(c.train_data[None, :-1])
    full = F.cross_entropy(m(x).reshape(-1, c.vocab_size), dl.tensor(c.train_data[1:])).item()
    assert full < 0.1, full
    # Greedy generation from the first characters recites the text.
    out = c.decode(m.generate(c.encode("To be"), 30, temperature=0))
    assert out == TEXT[:35], out


def test_cli_trains_samples_and_resumes(tmp_path, capsys):
    from deepling.cli import main

    text = tmp_path / "t.txt"
    text.write_text(TEXT * 4, encoding="utf-8")
    out = tmp_path / "run"
    args = ["train", "--model", "char-gru", "--dataset", "text", "--text", str(text), "--context", "16",
            "--hidden", "32", "--embed", "8", "--lr", "1e-2", "--optimizer", "adamw", "--eval-every", "10",
            "--out", str(out), "--threads", "1"]
    assert main(args + ["--steps", "10"]) == 0
    log = capsys.readouterr().out
    assert "validation loss:" in log and (out / "checkpoint.ckpt").exists()
    first = float(log.split("validation loss:")[1].split()[0])
    assert main(args + ["--steps", "40", "--resume"]) == 0
    log = capsys.readouterr().out
    assert "resumed from" in log and "at step 10" in log
    assert float(log.split("validation loss:")[1].split()[0]) < first
    assert main(["sample", str(out / "checkpoint.ckpt"), "--prompt", "To be", "--tokens", "40", "--temperature", "0"]) == 0
    sample = capsys.readouterr().out.rstrip("\n")
    assert sample.startswith("To be") and len(sample) == 45
    assert set(sample) <= set(TEXT)
    assert main(["sample", str(out / "checkpoint.ckpt"), "--prompt", "Zebra#"]) == 1
    assert "not in the vocabulary" in capsys.readouterr().err
    assert main(["train", "--model", "mlp", "--dataset", "text", "--text", str(text)]) == 1
