"""Models in and out: file size and fidelity of every format for every reference model, and what
deliberately malicious or broken files raise.

``python -m benchmarks.interop [--out benchmarks/results/interop.md]``

For each model (random weights, non-trivial BatchNorm statistics, eval mode) the deepling output on a
fixed batch is the reference. Each format's file is written by deepling; the table gives its size
and the largest absolute difference from the reference of: deepling reloading it, onnxruntime
running the ONNX export (at batch 5, while the export was traced at batch 2: dynamic batch), and the
PyTorch twin (same module names) loading the ``.pt`` file with ``torch.load(weights_only=True)`` and
the ``.safetensors`` file with ``safetensors.torch``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnxruntime as ort
import safetensors.torch
import torch

import deepling as dl
from benchmarks import twins
from benchmarks.lstm import TorchCharRNN
from deepling import models as M
from deepling import nn

_BATCH = 5


def _models() -> list[tuple[str, Callable[[], Any], Callable[[], torch.nn.Module], Callable[[], np.ndarray]]]:
    rng = np.random.default_rng(0)
    img = lambda c, s: rng.standard_normal((_BATCH, c, s, s)).astype(np.float32)  # noqa: E731
    ids = lambda v, t: rng.integers(0, v, (_BATCH, t)).astype(np.int64)  # noqa: E731
    return [
        ("MLP 784-256-128-10", lambda: M.MLP(784, [256, 128], 10), lambda: twins.mlp([784, 256, 128, 10]),
         lambda: rng.standard_normal((_BATCH, 784)).astype(np.float32)),
        ("LeNet-5", lambda: M.LeNet5(), twins.lenet, lambda: img(1, 28)),
        ("AlexNet (small, 32x32)", lambda: M.AlexNet(10, small=True), lambda: twins.alexnet_small(10),
         lambda: img(3, 32)),
        ("ResNet-20", lambda: M.resnet20(), twins.resnet20, lambda: img(3, 32)),
        ("ResNet-18 (torchvision layout)", lambda: M.resnet18(num_classes=10), lambda: twins.resnet18(10),
         lambda: img(3, 64)),
        ("dense autoencoder 784-256-64", lambda: M.dense_autoencoder([784, 256, 64], out_activation="sigmoid"),
         lambda: twins.dense_autoencoder([784, 256, 64]), lambda: rng.random((_BATCH, 784)).astype(np.float32)),
        ("conv autoencoder", lambda: M.conv_autoencoder(), twins.conv_autoencoder,
         lambda: rng.random((_BATCH, 1, 28, 28)).astype(np.float32)),
        ("char-RNN", lambda: M.CharRNN(65, 32, 128, cell="rnn"), lambda: TorchCharRNN(65, 32, 128, "rnn"),
         lambda: ids(65, 32)),
        ("char-GRU", lambda: M.CharRNN(65, 32, 128, cell="gru"), lambda: TorchCharRNN(65, 32, 128, "gru"),
         lambda: ids(65, 32)),
        ("char-LSTM", lambda: M.CharRNN(65, 32, 128, cell="lstm"), lambda: TorchCharRNN(65, 32, 128, "lstm"),
         lambda: ids(65, 32)),
        ("GPT (4 layers, d=128)", lambda: M.GPT(65, 64, 128, 4, 4), lambda: twins.TorchGPT(65, 64, 128, 4, 4),
         lambda: ids(65, 64)),
    ]


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _diff(a: np.ndarray, b: np.ndarray) -> str:
    return f"{float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max()):.1e}"


def _randomize_bn(m: Any) -> None:
    rng = np.random.default_rng(1)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.array[...] = rng.uniform(-0.3, 0.3, mod.num_features)
            mod.running_var.array[...] = rng.uniform(0.5, 1.5, mod.num_features)


def model_rows(tmp: Path) -> list[list[str]]:
    rows = []
    for name, build, build_twin, make_x in _models():
        dl.manual_seed(0)
        m = build()
        _randomize_bn(m)
        m.eval()
        x = make_x()
        with dl.no_grad():
            ref = m(dl.tensor(x)).array
        sd = m.state_dict()
        paths = {fmt: tmp / f"m.{ext}" for fmt, ext in (("deepling", "ckpt"), ("safetensors", "safetensors"),
                                                          ("torch", "pt"))}
        for fmt, p in paths.items():
            dl.save(sd, p, format=fmt)
        dl.save(m, tmp / "whole.ckpt")
        onnx_path = tmp / "m.onnx"
        dl.onnx.export(m, dl.tensor(x[:2]), onnx_path, input_names=["x"], output_names=["y"],
                       dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
        # deepling reloads each of its files
        reload = 0.0
        for p in paths.values():
            m2 = build()
            m2.load_state_dict(dl.load(p))
            m2.eval()
            with dl.no_grad():
                reload = max(reload, float(np.abs(m2(dl.tensor(x)).array - ref).max()))
        with dl.no_grad():
            reload = max(reload, float(np.abs(dl.load(tmp / "whole.ckpt")(dl.tensor(x)).array - ref).max()))
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(onnx_path.read_bytes(), opts, providers=["CPUExecutionProvider"])
        got_ort = sess.run(None, {"x": x})[0]
        t = build_twin()
        t.load_state_dict(torch.load(paths["torch"], weights_only=True))
        t.eval()
        with torch.no_grad():
            got_pt = t(torch.from_numpy(x)).numpy()
        t.load_state_dict(safetensors.torch.load_file(str(paths["safetensors"])))
        with torch.no_grad():
            got_st = t(torch.from_numpy(x)).numpy()
        n_params = sum(p.numel() for p in m.parameters())
        rows.append([name, f"{n_params:,}", _size(paths["deepling"]), _size(tmp / "whole.ckpt"),
                     _size(paths["safetensors"]), _size(paths["torch"]), _size(onnx_path), f"{reload:.1e}",
                     _diff(got_ort, ref), _diff(got_pt, ref), _diff(got_st, ref)])
        print(" | ".join(rows[-1]), flush=True)
    return rows


class _OpenPayload:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (open, (self.path, "w"))


class _SystemPayload:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.path}",))


def _rezip(src: Path, dst: Path, change: Callable[[str, bytes], bytes]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change(info.filename, zin.read(info.filename)))


def malicious_rows(tmp: Path) -> list[list[str]]:
    """Build each bad file, load it with deepling, and record what was raised (and that nothing ran)."""
    marker = tmp / "payload_ran"
    cases: list[tuple[str, Path]] = []

    def case(title: str, name: str, make: Callable[[Path], None]) -> None:
        p = tmp / name
        make(p)
        cases.append((title, p))

    case("`__reduce__` payload: `open(path, 'w')` (torch.save of an object)", "open.pt",
         lambda p: torch.save({"w": torch.ones(2), "x": _OpenPayload(str(marker))}, p))
    case("`__reduce__` payload: `os.system('touch ...')`", "system.pt",
         lambda p: torch.save({"x": _SystemPayload(str(marker))}, p))
    torch.save({"w": torch.ones(2)}, tmp / "ok.pt")
    raw4 = pickle.dumps({"x": _SystemPayload(str(marker))}, protocol=4)
    case("payload via STACK_GLOBAL (protocol 4 data.pkl)", "p4.pt",
         lambda p: _rezip(tmp / "ok.pt", p, lambda n, d: raw4 if n.endswith("data.pkl") else d))
    torch.save({"v": torch.arange(10.0)[2:]}, tmp / "view.pt")
    case("storage larger than its zip member (40 bytes claimed, 16 stored)", "short.pt",
         lambda p: _rezip(tmp / "view.pt", p, lambda n, d: d[:16] if "/data/" in n else d))
    oob = (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
           b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x02K\x04\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR.")

    def write_oob(p: Path) -> None:
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("a/data.pkl", oob)
            z.writestr("a/data/0", np.zeros(4, np.float32).tobytes())

    case("tensor view past the end of its storage (offset 2, 4 of 4 elements)", "oob.pt", write_oob)

    def write_bomb(p: Path) -> None:
        with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("a/data.pkl", b"\x80\x02}.")
            z.writestr("a/data/0", bytes(256 << 20))

    case("zip bomb: 256 MiB of zeros deflated into a storage member", "bomb.pt", write_bomb)

    def write_npz_bomb(p: Path) -> None:
        with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("__deepling__.npy", b"x")
            z.writestr("a0.npy", bytes(256 << 20))

    case("zip bomb in a deepling (.npz) checkpoint", "bomb.ckpt", write_npz_bomb)

    def write_obj(p: Path) -> None:
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("a/data.pkl", b"\x80\x02(ibuiltins\nobject\n.")

    case("INST opcode (builds an arbitrary class)", "inst.pt", write_obj)
    case("truncated PyTorch file (first half)", "cut.pt",
         lambda p: p.write_bytes((tmp / "ok.pt").read_bytes()[: (tmp / "ok.pt").stat().st_size // 2]))
    case("legacy-format (PyTorch < 1.6) file with an `os.system` payload", "legacy.pt",
         lambda p: torch.save({"w": torch.ones(2), "x": _SystemPayload(str(marker))}, p,
                              _use_new_zipfile_serialization=False))

    def write_bad_st(p: Path) -> None:
        dl.save({"a": dl.ones(4)}, p, format="safetensors")
        p.write_bytes(p.read_bytes()[:-4])

    case("safetensors file cut short (offsets past the data)", "cut.safetensors", write_bad_st)
    rows = []
    for title, p in cases:
        try:
            dl.load(p)
            outcome = "LOADED (not refused!)"
        except Exception as e:  # the table records whatever happens
            msg = str(e).replace(str(tmp) + "/", "")
            outcome = f"`{type(e).__name__}`: {msg}"
        rows.append([title, outcome, "yes" if marker.exists() else "no"])
        print(" | ".join(rows[-1]), flush=True)
    return rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="also write the markdown tables to this file")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        models = model_rows(tmp)
        bad = malicious_rows(tmp)
    text = "\n\n".join([
        "## Model x format (max |difference| against deepling's own output; batch 5)",
        _table(["model", "params", "deepling .ckpt", "whole-Module .ckpt", ".safetensors", ".pt (torch zip)",
                ".onnx", "deepling reload", "onnxruntime", "PyTorch (.pt)", "PyTorch (.safetensors)"], models),
        "## Malicious and broken files given to `deepling.load`",
        _table(["file", "raised", "payload ran?"], bad),
        f"(onnxruntime {ort.__version__}, torch {torch.__version__}, safetensors {safetensors.__version__}, "
        f"ONNX opset {dl.onnx.DEFAULT_OPSET})",
    ])
    print("\n" + text)
    if a.out:
        a.out.write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
