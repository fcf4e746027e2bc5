"""``deepling export`` / ``deepling import``: a trained checkpoint out to ONNX, safetensors and PyTorch,
and foreign state dicts in as checkpoints that ``evaluate`` and ``sample`` take."""

import re

import numpy as np
import pytest
import torch

import deepling as dl
from deepling import cli

ort = pytest.importorskip("onnxruntime")


def _run(args, capsys):
    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _accuracy(stdout):
    return re.search(r"test accuracy ([\d.]+)%", stdout).group(1)


def test_export_and_import_an_image_model(tmp_path, capsys):
    run = tmp_path / "run"
    assert _run(["train", "--epochs", "1", "--out", run, "--no-progress", "--no-plots"], capsys)[0] == 0
    code, stdout, _ = _run(["evaluate", run / "checkpoint.ckpt"], capsys)
    acc = _accuracy(stdout)
    for fmt in ("onnx", "safetensors", "torch"):
        code, stdout, err = _run(["export", run / "checkpoint.ckpt", "--format", fmt, "--out", tmp_path / f"m.{fmt}"],
                                 capsys)
        assert code == 0, err
        assert f"m.{fmt} ({fmt}" in stdout
    assert "normalized as (x - " in _run(["export", run / "checkpoint.ckpt", "--format", "onnx", "--out",
                                          tmp_path / "m.onnx"], capsys)[1]
    # ONNX: onnxruntime computes the checkpoint's logits, at any batch size
    state = dl.train.load_checkpoint(run / "checkpoint.ckpt", restore_rng=False)
    model = dl.models.MODELS["mlp"]((1, 8, 8), 10, **state["config"]["model_options"])
    model.load_state_dict(state["model"])
    model.eval()
    x = dl.randn(7, 1, 8, 8)
    sess = ort.InferenceSession((tmp_path / "m.onnx").read_bytes(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"input": x.array})[0], model(x).array, atol=1e-5)
    # PyTorch reads the torch-format export
    sd = torch.load(tmp_path / "m.torch", weights_only=True)
    np.testing.assert_array_equal(sd["0.weight"].numpy(), state["model"]["0.weight"].array)
    # import: the safetensors file carries its configuration; the .pt file gets it from the options
    assert _run(["import", tmp_path / "m.safetensors", "--model", "mlp", "--out", tmp_path / "a.ckpt"], capsys)[0] == 0
    mean, std = state["config"]["normalize"]
    code, stdout, err = _run(["import", tmp_path / "m.torch", "--model", "mlp", "--dataset", "digits", "--normalize",
                              f"{mean!r},{std!r}", "--out", tmp_path / "b.ckpt"], capsys)
    assert code == 0, err
    assert "use: deepling evaluate" in stdout
    for ck in ("a.ckpt", "b.ckpt"):
        code, stdout, _ = _run(["evaluate", tmp_path / ck], capsys)
        assert code == 0 and _accuracy(stdout) == acc, ck


def test_import_errors_are_one_line(tmp_path, capsys):
    dl.save(dl.nn.Linear(3, 2).state_dict(), tmp_path / "lin.pt", format="torch")
    code, _, err = _run(["import", tmp_path / "lin.pt", "--model", "resnet20", "--dataset", "digits"], capsys)
    assert code == 1 and "does not fit the model resnet20" in err
    code, _, err = _run(["import", tmp_path / "lin.pt", "--model", "mlp"], capsys)
    assert code == 1 and "needs --dataset" in err
    code, _, err = _run(["import", tmp_path / "lin.pt", "--model", "char-gru"], capsys)
    assert code == 1 and "needs a text (--text FILE)" in err
    dl.save({"not": "weights"}, tmp_path / "x.ckpt")
    code, _, err = _run(["import", tmp_path / "x.ckpt", "--model", "mlp", "--dataset", "digits"], capsys)
    assert code == 1 and "holds no state dict" in err
    code, _, err = _run(["export", tmp_path / "x.ckpt", "--format", "onnx", "--out", tmp_path / "x.onnx"], capsys)
    assert code == 1 and "not a training checkpoint" in err


def test_import_a_pytorch_char_lstm_then_sample_and_export(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("to be or not to be, that is the question\n" * 20)
    chars = sorted(set(text.read_text()))
    torch.manual_seed(0)

    class TorchCharLSTM(torch.nn.Module):  # the names deepling's CharRNN uses
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(len(chars), 8)
            self.rnn = torch.nn.LSTM(8, 16, batch_first=True)
            self.head = torch.nn.Linear(16, len(chars))

        def forward(self, idx):
            return self.head(self.rnn(self.embedding(idx))[0])

    tm = TorchCharLSTM()
    torch.save({"model": tm.state_dict(), "epoch": 3}, tmp_path / "lstm.pth")
    code, stdout, err = _run(["import", tmp_path / "lstm.pth", "--model", "char-lstm", "--text", text, "--embed", "8",
                              "--hidden", "16", "--context", "16", "--out", tmp_path / "lstm.ckpt"], capsys)
    assert code == 0, err
    assert "use: deepling sample" in stdout
    code, stdout, err = _run(["sample", tmp_path / "lstm.ckpt", "--prompt", "to be", "--tokens", "20",
                              "--temperature", "0"], capsys)
    assert code == 0, err
    # greedy continuation equals PyTorch's own greedy continuation of the same weights
    ids = [chars.index(c) for c in "to be"]
    with torch.no_grad():
        for _ in range(20):
            ids.append(int(tm(torch.tensor([ids]))[0, -1].argmax()))
    assert stdout.rstrip("\n") == "".join(chars[i] for i in ids).rstrip("\n")
    code, _, err = _run(["export", tmp_path / "lstm.ckpt", "--format", "onnx", "--out", tmp_path / "lstm.onnx"], capsys)
    assert code == 0, err
    x = np.random.default_rng(0).integers(0, len(chars), (3, 16))
    sess = ort.InferenceSession((tmp_path / "lstm.onnx").read_bytes(), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = tm(torch.tensor(x)).numpy()
    np.testing.assert_allclose(sess.run(None, {"ids": x})[0], want, atol=1e-5)


def test_transfer_library_functions(tmp_path):
    from deepling.train.transfer import export_checkpoint, import_state_dict, state_dict_of

    w = dl.ones(2, 2)
    assert list(state_dict_of({"state_dict": {"module.fc.weight": w}})) == ["fc.weight"]  # DataParallel prefix
    assert list(state_dict_of({"model": {"a": w}, "epoch": 3})) == ["a"]
    with pytest.raises(ValueError, match="holds no state dict"):
        state_dict_of({"a": w, "note": "x"})
    with pytest.raises(ValueError, match="format must be"):
        export_checkpoint(tmp_path / "x.ckpt", "hdf5", tmp_path / "y")
    dl.manual_seed(0)
    mlp = dl.models.MODELS["mlp"]((1, 8, 8), 10, hidden=[16])
    dl.save({"model": mlp.state_dict()}, tmp_path / "m.pt", format="torch")
    r = import_state_dict(tmp_path / "m.pt", "mlp", dataset="digits", hidden=[16], normalize=(0.3, 0.4))
    assert r["out"] == tmp_path / "m.ckpt" and r["tensors"] == 4 and not r["language_model"]
    info = export_checkpoint(r["out"], "onnx", tmp_path / "m.onnx")
    assert info["model"] == "mlp" and "(x - 0.3) / 0.4" in info["input"] and info["bytes"] > 0
