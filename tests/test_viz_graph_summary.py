"""deepling.viz.draw_graph (SVG, DOT, PNG through Graphviz) and deepling.summary against torchinfo."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import deepling as dl
from deepling.viz import draw_graph, graph_data, to_dot
from deepling.viz.graph import retain_graph_grads

torch = pytest.importorskip("torch")
torchinfo = pytest.importorskip("torchinfo")


def _expression():
    x = dl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = dl.tensor([0.5, -1.0, 0.25], requires_grad=True)
    b = dl.tensor(0.1, requires_grad=True)
    y = (w * x + b).tanh().sum()
    return x, w, b, y


def test_graph_data_nodes_ops_and_gradients():
    x, w, b, y = _expression()
    retain_graph_grads(y)
    y.backward(retain_graph=True)
    g = graph_data(y, params={"x": x, "w": w, "b": b})
    nodes = g["nodes"]
    assert [n["op"] for n in nodes if n["kind"] == "op"] == ["Mul", "Add", "Tanh", "Sum"]
    assert {n["name"] for n in nodes if n["kind"] == "param"} == {"x", "w", "b"}
    root = nodes[g["root"]]
    assert root["op"] == "Sum" and root["shape"] == [] and g["backward_order"][0] == g["root"]
    # every input precedes its user; the drawing puts users below their inputs
    for n in nodes:
        for p in n["inputs"]:
            assert p < n["id"] and nodes[p]["y"] < n["y"]
    # gradients shown are the engine's: dy/dw = x * (1 - tanh^2)
    t = np.tanh(np.array([0.5, -2.0, 0.75]) + 0.1)
    wnode = next(n for n in nodes if n["name"] == "w")
    np.testing.assert_allclose(wnode["grad"]["values"], [1, 2, 3] * (1 - t**2), rtol=1e-5)
    tanh_node = next(n for n in nodes if n["op"] == "Tanh")
    np.testing.assert_allclose(tanh_node["grad"]["values"], [1, 1, 1])  # d sum / d its input


def test_draw_graph_svg_is_well_formed_and_atomic(tmp_path):
    x, w, b, y = _expression()
    svg = draw_graph(y, tmp_path / "g.svg", params={"w": w})
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups = [g for g in root.iter(ns + "g") if g.get("class") == "dl-node"]
    assert len(groups) == 7  # x, w, Mul, b, Add, Tanh, Sum
    texts = " ".join(t.text or "" for t in root.iter(ns + "text"))
    for op in ("Mul", "Add", "Tanh", "Sum", "(3)", "scalar"):
        assert op in texts
    assert (tmp_path / "g.svg").read_text() == svg
    assert [p.name for p in tmp_path.iterdir()] == ["g.svg"]  # no temp file left behind


def test_draw_graph_errors():
    with pytest.raises(TypeError, match="expected a Tensor"):
        draw_graph(np.zeros(3))
    x, w, b, y = _expression()
    with pytest.raises(ValueError, match="format"):
        draw_graph(y, format="jpg")
    y.backward()  # frees the graph
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        draw_graph(y)


def test_dot_source_and_png(tmp_path):
    x, w, b, y = _expression()
    dot = to_dot(y)
    assert dot.startswith("digraph autograd {") and dot.count("->") == 6
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match="Graphviz"):
            draw_graph(y, tmp_path / "g.png")
        return
    draw_graph(y, tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_graph_has_linear_nodes():
    dl.manual_seed(0)
    model = dl.nn.Sequential(dl.nn.Linear(2, 3), dl.nn.Tanh(), dl.nn.Linear(3, 1))
    loss = ((model(dl.randn(4, 2)) - 1) ** 2).mean()
    g = graph_data(loss, params=dict(model.named_parameters()))
    names = {n["name"] for n in g["nodes"] if n["kind"] == "param"}
    assert names == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert any(n["kind"] == "constant" and n["shape"] == [4, 2] for n in g["nodes"])


# ---------------------------------------------------------------- summary vs torchinfo

def _build(nn):
    m = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Sequential(nn.Linear(4 * 13 * 13, 10), nn.BatchNorm1d(10)), nn.Linear(10, 3),
    )
    m[0].weight.requires_grad_(False)
    return m


def _mlp(nn):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))


def _lenet(nn):
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
                         nn.Linear(84, 10))


def _reuse_lstm_nested(nn):
    """A layer called twice (torchinfo's "(recursive)" row), an LSTM (tuple output), nested containers."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.rnn = nn.LSTM(4, 6, batch_first=True)
            self.head = nn.Sequential(nn.Sequential(nn.Linear(6, 3), nn.ReLU()), nn.Linear(3, 2))

        def forward(self, x):
            out, _ = self.rnn(self.fc(self.fc(x)))
            return self.head(out[:, -1])

    return Net()


def _table_lines(text: str) -> list[str]:
    # torchinfo 1.8 prints its mult-adds unit as an enum ("Units.MEGABYTES"): compare that number separately
    return [line.rstrip() for line in text.splitlines() if not line.startswith("Total mult-adds")]


@pytest.mark.parametrize("build,size", [(_build, (2, 1, 28, 28)), (_mlp, (5, 8, 8)), (_lenet, (3, 1, 28, 28)),
                                        (_reuse_lstm_nested, (2, 5, 4))])
def test_summary_matches_torchinfo(build, size):
    ours = dl.summary(build(dl.nn), size)
    theirs = torchinfo.summary(build(torch.nn), input_size=size, col_names=("output_size", "num_params", "trainable"),
                               verbose=0)
    assert _table_lines(str(ours)) == _table_lines(str(theirs))
    assert ours.total_params == theirs.total_params and ours.trainable_params == theirs.trainable_params
    assert ours.total_param_bytes == theirs.total_param_bytes
    assert ours.total_output_bytes == theirs.total_output_bytes
    # Mult-adds: torchinfo counts a Linear's parameters once per batch item (N * params) even on
    # (N, L, H) inputs; deepling counts every position (N * L * params). They agree on 2-D inputs.
    same_rule = all(len(r.output_size) == 2 or r.class_name.startswith("Conv") or r.num_params == 0
                    for r in ours.rows if r.is_leaf and r.class_name != "LSTM")
    if same_rule:
        assert ours.total_mult_adds == theirs.total_mult_adds
    for r, t in zip(ours.rows, theirs.summary_list):
        assert (r.class_name, r.depth, r.depth_index, r.output_size) == (t.class_name, t.depth, t.depth_index, t.output_size)
        assert r.num_params == t.num_params
        if r.is_leaf and (len(r.output_size) == 2 or r.class_name.startswith(("Conv", "LSTM"))):
            assert r.macs == t.macs  # (a container's macs in torchinfo come from its own output; only leaves add up)
    if build is _reuse_lstm_nested:
        assert [r.macs for r in ours.rows if r.class_name == "Linear"][:2] == [10 * 20, 10 * 20]  # 2 x 5 positions


def test_summary_expected_table_and_dict():
    """A hand-checked table: 2*3+3 = 9 and 3*1+1 = 4 parameters, mult-adds 4*(6+3) + 4*(3+1) = 52."""
    m = dl.nn.Sequential(dl.nn.Linear(2, 3), dl.nn.ReLU(), dl.nn.Linear(3, 1))
    s = dl.summary(m, (4, 2))
    text = str(s)
    assert re.search(r"├─Linear: 1-1\s+\[4, 3\]\s+9\s+True", text)
    assert re.search(r"├─ReLU: 1-2\s+\[4, 3\]\s+--\s+--", text)
    assert "Total params: 13" in text and "Non-trainable params: 0" in text
    assert s.total_mult_adds == 52
    d = s.to_dict()
    assert d["rows"][1]["output_shape"] == [4, 3] and d["params_bytes"] == 13 * 4
    assert d["forward_backward_bytes"] == 2 * 4 * (4 * 3 + 4 * 1)
    assert m.training  # summary restores the mode


def test_summary_errors():
    m = dl.nn.Linear(2, 3)
    with pytest.raises(ValueError, match="input_size"):
        dl.summary(m)
    with pytest.raises(ValueError, match="positive"):
        dl.summary(m, (0, 2))
