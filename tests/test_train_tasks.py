"""The library functions behind ``deepling train/evaluate/sample``, called without the CLI."""

from __future__ import annotations

import json

import pytest

from deepling.train.classifier import evaluate_classifier, train_classifier
from deepling.train.language import generate_text, load_language_model, train_language_model


def test_train_classifier_and_evaluate_its_checkpoint(tmp_path, capsys):
    m = train_classifier("mlp", "digits", out=tmp_path, epochs=2, hidden=[32], plots=False, progress=False)
    assert m["epochs_completed"] == 2 and not m["interrupted"] and m["test_accuracy"] > 0.8
    assert json.loads((tmp_path / "metrics.json").read_text())["test_accuracy"] == m["test_accuracy"]
    test = evaluate_classifier(tmp_path / "checkpoint.ckpt")
    assert test["accuracy"] == pytest.approx(m["test_accuracy"])
    assert "test accuracy" in capsys.readouterr().out


def test_language_model_trains_saves_and_samples(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("to be or not to be, that is the question. " * 20, encoding="utf-8")
    m = train_language_model("char-rnn", text, tmp_path / "run", context=8, steps=6, batch_size=4, embed=4, hidden=8,
                             eval_every=3, progress=False)
    assert m["steps_completed"] == 6 and not m["interrupted"] and m["val_loss"] > 0
    model, corpus = load_language_model(tmp_path / "run" / "checkpoint.ckpt")
    out = generate_text(model, corpus, "to be", 10, temperature=0)
    assert out.startswith("to be") and len(out) == 15 and set(out) <= set(corpus.chars)
    with pytest.raises(ValueError, match="unknown language model"):
        train_language_model("mlp", text, tmp_path / "x")
    with pytest.raises(ValueError, match="language-model checkpoint"):
        evaluate_classifier(tmp_path / "run" / "checkpoint.ckpt")
    train_classifier("mlp", "digits", out=tmp_path / "img", epochs=1, hidden=[8], plots=False, progress=False)
    with pytest.raises(ValueError, match="not a language-model checkpoint"):
        load_language_model(tmp_path / "img" / "checkpoint.ckpt")


def test_language_model_resumed_run_equals_uninterrupted(tmp_path, capsys):
    """A step budget of fit: stopped after 4 steps and resumed to 10, the weights are those of 10 steps in one go."""
    import numpy as np

    from deepling.train import load_checkpoint

    text = tmp_path / "t.txt"
    text.write_text("to be or not to be, that is the question. " * 20, encoding="utf-8")
    kw = dict(context=8, batch_size=4, embed=4, hidden=8, eval_every=3, dropout=0.2, progress=False)
    full = train_language_model("char-gru", text, tmp_path / "full", steps=10, **kw)
    train_language_model("char-gru", text, tmp_path / "part", steps=4, **kw)
    resumed = train_language_model("char-gru", text, tmp_path / "part", steps=10, resume=True, **kw)
    assert "at step 4" in capsys.readouterr().out
    a = load_checkpoint(tmp_path / "full" / "checkpoint.ckpt", restore_rng=False)
    b = load_checkpoint(tmp_path / "part" / "checkpoint.ckpt", restore_rng=False)
    assert a["step"] == b["step"] == 10
    for k, v in a["model"].items():
        np.testing.assert_array_equal(b["model"][k].array, v.array, err_msg=k)
    assert resumed["val_loss"] == full["val_loss"] and resumed["steps_completed"] == 10
    history = json.loads((tmp_path / "part" / "history.json").read_text())
    assert history["steps"] == [3, 4, 6, 9, 10] and len(history["step_history"]["val_loss"]) == 5
