"""PyTorch programs in examples/ported run on deepling with only their import lines changed.

Each program is written for PyTorch (``import torch``, ``import torchvision``,
``from torch.utils.tensorboard import SummaryWriter``). The test rewrites the import lines, and
nothing else, to deepling's (``import deepling as torch``, ``import deepling.vision as torchvision``)
and runs the program in this process on both frameworks, on data it makes.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from deepling.data.datasets.idx import write_idx

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

PORTED = Path(__file__).resolve().parents[1] / "examples" / "ported"
IMPORTS = [  # (PyTorch's import line pattern, deepling's), applied to whole lines only
    (r"^import torch\.(\S+) as (\S+)$", r"import deepling.\1 as \2"),
    (r"^import torch$", "import deepling as torch"),
    (r"^import torch\.(\S+)$", r"import deepling.\1; import deepling as torch"),  # binds the name torch, as Python does
    (r"^from torch((?:\.\S+)?) import (.+)$", r"from deepling\1 import \2"),
    (r"^import torchvision$", "import deepling.vision as torchvision"),
    (r"^from torchvision((?:\.\S+)?) import (.+)$", r"from deepling.vision\1 import \2"),
]


def port(source: str) -> str:
    """The program with its import lines pointed at deepling; every other line unchanged."""
    out = []
    for line in source.splitlines():
        new = line
        for pattern, repl in IMPORTS:
            new = re.sub(pattern, repl, new)
            if new != line:
                break
        assert new == line or line.startswith(("import ", "from ")), line
        out.append(new)
    return "\n".join(out) + "\n"


def run(name: str, framework: str, argv: list[str], capsys, monkeypatch) -> dict:
    path = PORTED / name
    source = path.read_text()
    if framework == "deepling":
        source = port(source)
        assert "import torch\n" not in source and "deepling" in source
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    capsys.readouterr()
    exec(compile(source, str(path), "exec"), {"__name__": "__main__", "__file__": str(path)})
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, "the program prints one RESULT line"
    return json.loads(lines[0][len("RESULT "):])


def _events(path: Path) -> EventAccumulator:
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0, "images": 0})
    acc.Reload()
    return acc


def test_port_rewrites_only_import_lines():
    src = "import torch\nimport torch.nn as nn\nimport torch.utils.data\nfrom torch.utils.data import DataLoader\nimport torchvision\n" \
          "from torchvision import datasets, transforms\nx = torch.zeros(1)  # import torch\n"
    assert port(src) == ("import deepling as torch\nimport deepling.nn as nn\nimport deepling.utils.data; import deepling as torch\n"
                         "from deepling.utils.data import DataLoader\n"
                         "import deepling.vision as torchvision\nfrom deepling.vision import datasets, transforms\n"
                         "x = torch.zeros(1)  # import torch\n")


def test_sine_lbfgs_runs_on_both(tmp_path, capsys, monkeypatch):
    argv = ["--lbfgs-steps", "3", "--batch-steps", "30"]
    res = {fw: run("sine_lbfgs.py", fw, argv + ["--log-dir", str(tmp_path / fw)], capsys, monkeypatch)
           for fw in ("torch", "deepling")}
    d, t = res["deepling"], res["torch"]
    # same start (NumPy weights), same float64 L-BFGS: the same losses step for step
    np.testing.assert_allclose(d["lbfgs"], t["lbfgs"], rtol=1e-6)
    assert d["lbfgs"][-1] < d["lbfgs"][0] / 50
    # mini-batches come from each framework's own RNG: both learn, to the same range
    start = d["lbfgs"][0]
    for name in ("adadelta", "adamax", "nadam", "radam"):
        assert d["batches"][name] < start / 2 and t["batches"][name] < start / 2, name
    assert d["batches_per_epoch"] == t["batches_per_epoch"] == 10**10 // 16
    # both wrote TensorBoard logs with the same tags, read by TensorBoard's own reader
    dacc, tacc = _events(tmp_path / "deepling"), _events(tmp_path / "torch")
    for kind in ("scalars", "histograms", "tensors"):
        assert sorted(dacc.Tags()[kind]) == sorted(tacc.Tags()[kind]), kind
    np.testing.assert_allclose([e.value for e in dacc.Scalars("lbfgs/loss")],
                               [e.value for e in tacc.Scalars("lbfgs/loss")], rtol=1e-5)
    sub = sorted(p.name for p in (tmp_path / "deepling").iterdir() if p.is_dir())
    assert sub == sorted(p.name for p in (tmp_path / "torch").iterdir() if p.is_dir()) == [
        "batch_final_loss_adadelta", "batch_final_loss_adamax", "batch_final_loss_nadam", "batch_final_loss_radam"]


def _digits(root: Path, n_train: int = 512, n_test: int = 128) -> None:
    """A learnable MNIST stand-in in torchvision's layout: class c lights a 6x6 block at its own place."""
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for c in range(10):
            r, col = 3 + 8 * (c // 4), 3 + 7 * (c % 4)
            images[labels == c, r : r + 6, col : col + 6] = 230
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", labels)


@pytest.mark.parametrize("framework", ["deepling", "torch"])
def test_mnist_vision_program(framework, tmp_path, capsys, monkeypatch):
    if framework == "torch" and importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed (it cannot be pip-installed next to the local torch wheel)")
    _digits(tmp_path / "data")
    res = run("mnist_vision.py", framework, ["--data", str(tmp_path / "data"), "--steps", "40", "--batch-size", "32",
                                             "--out", str(tmp_path)], capsys, monkeypatch)
    assert res["train_shape"] == [512, 28, 28] and res["train_dtype"] == "uint8" and res["targets"] == "Tensor"
    assert res["classes"] == ["0 - zero", "1 - one"] and res["max_target"] == 9
    assert res["accuracy"] > 0.5, res
    assert res["last_lr"] == pytest.approx(0.7**3) and res["batches"] == -(-10**10 // 32)
    from PIL import Image

    with Image.open(tmp_path / "batch.png") as im:
        assert im.size == (4 * 30 + 2, 4 * 30 + 2) and im.mode == "RGB"
    acc = _events(tmp_path / "runs")
    assert set(acc.Tags()["scalars"]) == {"train/loss", "test/accuracy"} and acc.Tags()["images"] == ["first_batch"]
    assert acc.Scalars("test/accuracy")[0].value == pytest.approx(res["accuracy"], rel=1e-6)
