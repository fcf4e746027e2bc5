"""The ``deepling`` command line: train/evaluate on digits in a temp dir, clear errors for bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepling import cli
from deepling.data.datasets import mnist as mnist_module

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run(args, capsys):
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_digits_one_epoch_writes_outputs_and_evaluate_agrees(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _run(["train", "--epochs", "1", "--out", str(out), "--no-progress"], capsys)
    assert code == 0
    assert "test accuracy:" in stdout
    for name in ("checkpoint.ckpt", "history.json", "metrics.json", "curves.png", "confusion.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    history = json.loads((out / "history.json").read_text())
    assert history["epochs"] == [1] and {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history["history"])
    acc = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    assert 0.5 < acc <= 1.0  # one epoch of Adam on digits is already far above chance (0.1)
    assert f"{100 * acc:.2f}%" in stdout

    code, stdout, _ = _run(["evaluate", str(out / "checkpoint.ckpt"), "--out", str(tmp_path / "ev")], capsys)
    assert code == 0 and f"{100 * acc:.2f}%" in stdout
    assert (tmp_path / "ev" / "confusion.png").is_file()

    # --resume continues from the checkpoint to epoch 2
    code, stdout, _ = _run(["train", "--epochs", "2", "--out", str(out), "--no-progress", "--no-plots", "--resume"],
                           capsys)
    assert code == 0
    assert json.loads((out / "history.json").read_text())["epochs"] == [1, 2]


@pytest.mark.parametrize("args,fragment", [
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--lr", "abc"], "--lr"),
    (["train", "--lr", "-1"], "--lr"),
    (["train", "--dataset", "imagenet"], "--dataset"),
    (["train", "--model", "nope"], "--model"),
    (["train", "--optimizer", "lbfgs"], "--optimizer"),
    (["train", "--hidden", "12,x"], "--hidden"),
    (["train", "--dropout", "1.5"], "--dropout"),
    (["train", "--batch-size", "2.5"], "--batch-size"),
    (["fly"], "invalid choice"),
    ([], "required"),
    (["evaluate"], "checkpoint"),
])
def test_bad_arguments_are_argparse_errors(args, fragment, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(args)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and fragment in err and "Traceback" not in err


def test_evaluate_bad_files_give_one_line_errors(tmp_path, capsys):
    (tmp_path / "junk").write_text("not a checkpoint")
    code, _, err = _run(["evaluate", str(tmp_path / "junk")], capsys)
    assert code == 1 and "not a deepling checkpoint" in err
    code, _, err = _run(["evaluate", str(tmp_path / "missing.ckpt")], capsys)
    assert code == 1 and "missing.ckpt" in err


def test_mnist_offline_without_files_is_a_clear_error(tmp_path, capsys, monkeypatch):
    def offline(url, timeout=30.0):
        raise OSError("no network in tests")

    monkeypatch.setattr(mnist_module, "_fetch", offline)
    code, _, err = _run(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")],
                        capsys)
    assert code == 1 and "could not download" in err and str(tmp_path) in err


def test_help_documents_commands_and_module_entry_point():
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    top = subprocess.run([sys.executable, "-m", "deepling", "--help"], capture_output=True, text=True, env=env)
    assert top.returncode == 0 and "train" in top.stdout and "evaluate" in top.stdout
    train = subprocess.run([sys.executable, "-m", "deepling", "train", "--help"], capture_output=True, text=True, env=env)
    for flag in ("--model", "--dataset", "--data-dir", "--epochs", "--batch-size", "--lr", "--optimizer",
                 "--weight-decay", "--seed", "--out"):
        assert flag in train.stdout
    bad = subprocess.run([sys.executable, "-m", "deepling", "train", "--epochs", "-3"], capture_output=True, text=True,
                         env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
