"""deepling.onnx.export: every reference model exports, passes onnx.checker, and onnxruntime computes
what deepling computes, at another batch size than the one traced; unsupported layers are named."""

import io

import numpy as np
import pytest

import deepling as dl
from deepling import models as M
from deepling import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _session(proto_or_bytes):
    data = proto_or_bytes if isinstance(proto_or_bytes, bytes) else proto_or_bytes.SerializeToString()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def _cases():
    dl.manual_seed(0)
    return {
        "mlp": lambda: (M.MLP(12, [16, 8], 3, dropout=0.1), dl.randn(3, 12)),
        "lenet": lambda: (M.LeNet5(), dl.randn(3, 1, 28, 28)),
        "alexnet-small": lambda: (M.AlexNet(num_classes=10, small=True), dl.randn(3, 3, 32, 32)),
        "resnet20": lambda: (M.resnet20(), dl.randn(3, 3, 32, 32)),
        "resnet18": lambda: (M.resnet18(num_classes=10), dl.randn(3, 3, 32, 32)),
        "dense-autoencoder": lambda: (M.dense_autoencoder([20, 8, 4], out_activation="sigmoid"), dl.randn(3, 20)),
        "tied-autoencoder": lambda: (M.dense_autoencoder([20, 8], tied=True), dl.randn(3, 20)),
        "conv-autoencoder": lambda: (M.conv_autoencoder(), dl.rand(3, 1, 28, 28)),
        "char-rnn": lambda: (M.CharRNN(11, 8, 16, 2, cell="rnn"), dl.randint(0, 11, (3, 7))),
        "char-gru": lambda: (M.CharRNN(11, 8, 16, 2, cell="gru"), dl.randint(0, 11, (3, 7))),
        "char-lstm": lambda: (M.CharRNN(11, 8, 16, 2, cell="lstm"), dl.randint(0, 11, (3, 7))),
        "gpt": lambda: (M.GPT(17, context=8, d_model=16, n_heads=2, n_layers=2), dl.randint(0, 17, (3, 8))),
    }


def _batch_norm_stats(m):
    dl.manual_seed(1)
    for mod in m.modules():  # non-trivial running statistics, so eval-mode BatchNorm is really tested
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.array[...] = dl.randn(mod.num_features).array * 0.3
            mod.running_var.array[...] = dl.rand(mod.num_features).array + 0.5


@pytest.mark.parametrize("name", list(_cases()))
def test_model_exports_and_matches_onnxruntime(name, tmp_path):
    model, x = _cases()[name]()
    _batch_norm_stats(model)
    model.train()  # export switches to eval mode for the trace and back afterwards
    path = tmp_path / f"{name}.onnx"
    proto = dl.onnx.export(model, x, path, input_names=["x"], output_names=["y"],
                           dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    assert model.training
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert proto.opset_import[0].version == dl.onnx.DEFAULT_OPSET
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    sess = _session(path.read_bytes())
    model.eval()
    for n in (1, 5):  # batch sizes other than the traced 3
        xb = dl.cat([x] * 2, 0)[:n]
        with dl.no_grad():
            want = model(xb).array
        got = sess.run(None, {"x": xb.array})[0]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-5 * (np.abs(want).max() + 1), rtol=1e-4, err_msg=name)


def test_initializers_are_state_dict_keys_and_opsets():
    dl.manual_seed(0)
    m = M.resnet20().eval()
    x = dl.randn(2, 3, 32, 32)
    proto = dl.onnx.export(m, x, io.BytesIO())
    names = {i.name for i in proto.graph.initializer}
    assert {"conv1.weight", "fc.weight", "fc.bias", "layer3.2.bn2.running_var"} <= names
    want = m(x).array
    for opset in (18, 21):
        buf = io.BytesIO()
        p = dl.onnx.export(m, x, buf, opset_version=opset)
        assert p.opset_import[0].version == opset and p.ir_version == onnx.helper.find_min_ir_version_for(
            [onnx.helper.make_opsetid("", opset)])
        np.testing.assert_allclose(_session(buf.getvalue()).run(None, {"input": x.array})[0], want, atol=1e-4)


def test_recurrent_layers_bidirectional_with_state():
    """ONNX's gate orders (LSTM i,o,f,c; GRU z,r,h) and the state layout, against deepling directly."""
    dl.manual_seed(0)
    for cls in (nn.LSTM, nn.GRU, nn.RNN):
        m = cls(5, 6, num_layers=2, bidirectional=True, batch_first=False)
        x = dl.randn(4, 3, 5)  # (T, N, I)
        h = dl.randn(4, 3, 6)
        args = (x, (h, dl.randn(4, 3, 6))) if cls is nn.LSTM else (x, h)
        buf = io.BytesIO()
        dl.onnx.export(m, args, buf)
        with dl.no_grad():
            out, state = m(*args)
        want = [out] + (list(state) if cls is nn.LSTM else [state])
        names = ["input_0", "input_1", "input_2"]
        feeds = dict(zip(names, [x.array] + ([a.array for a in args[1]] if cls is nn.LSTM else [h.array])))
        got = _session(buf.getvalue()).run(None, feeds)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w.array, atol=1e-5, err_msg=cls.__name__)


def test_unsupported_layers_and_bad_arguments_are_named():
    dl.manual_seed(0)
    with pytest.raises(dl.onnx.ExportError, match=r"cannot export op GroupNorm \(in module '1' \(GroupNorm\)\)"):
        dl.onnx.export(nn.Sequential(nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4)), dl.randn(1, 1, 5, 5), io.BytesIO())
    with pytest.raises(dl.onnx.ExportError, match="MaxPool2d\\(return_indices=True\\)"):
        dl.onnx.export(nn.MaxPool2d(2, return_indices=True), dl.randn(1, 1, 4, 4), io.BytesIO())
    with pytest.raises(dl.onnx.ExportError, match="proj_size"):
        dl.onnx.export(nn.LSTM(3, 4, proj_size=2), dl.randn(2, 1, 3), io.BytesIO())
    with pytest.raises(dl.onnx.ExportError, match="BatchNorm2d.*batch statistics"):
        dl.onnx.export(nn.BatchNorm2d(2, track_running_stats=False), dl.randn(2, 2, 3, 3), io.BytesIO())
    m = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="only the batch axis 0"):
        dl.onnx.export(m, dl.randn(2, 3), io.BytesIO(), dynamic_axes={"input": [1]})
    with pytest.raises(ValueError, match="opset_version 9"):
        dl.onnx.export(m, dl.randn(2, 3), io.BytesIO(), opset_version=9)
    with pytest.raises(ValueError, match="not an input or output name"):
        dl.onnx.export(m, dl.randn(2, 3), io.BytesIO(), dynamic_axes={"typo": [0]})
    with pytest.raises(TypeError, match="args must be Tensors"):
        dl.onnx.export(m, np.zeros((2, 3)), io.BytesIO())
    # the patched classes are restored even after a failed export
    assert "apply" in dl.autograd.Function.__dict__ and nn.Module.__call__.__name__ == "__call__"
    np.testing.assert_array_equal(m(dl.ones(1, 3)).array, m(dl.ones(1, 3)).array)


def test_hooks_and_user_layers_are_traced_through_their_ops():
    dl.manual_seed(0)

    class Linear(nn.Module):  # a user's class that happens to share a deepling layer's name
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(dl.randn(3, 4))

        def forward(self, x):
            return (x @ self.w.T).tanh() * 3.0

    lin = nn.Linear(4, 4)
    lin.register_forward_hook(lambda m, inp, out: out * 2.0 - 1.0)
    model = nn.Sequential(lin, nn.ReLU(), Linear())
    x = dl.randn(5, 4)
    buf = io.BytesIO()
    dl.onnx.export(model, x, buf, dynamic_axes={"input": [0], "output": [0]})
    xb = dl.randn(2, 4)
    np.testing.assert_allclose(_session(buf.getvalue()).run(None, {"input": xb.array})[0], model(xb).array, atol=1e-6)
