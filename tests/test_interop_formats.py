"""safetensors and PyTorch checkpoints in and out: files PyTorch writes load into deepling, files
deepling writes load into PyTorch, malicious or broken files are refused without running anything,
and whole Modules round-trip in deepling's own format."""

import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as tnn

import deepling as dl
from deepling import nn
from deepling.models import GPT, MLP, AlexNet, CharRNN, conv_autoencoder, dense_autoencoder, resnet18, resnet20
from deepling.serialization import SerializationError, detect_format, load_metadata
from test_cnn_models import _t_alexnet, _TBasic, _TBottle, _TResNet

safetensors_torch = pytest.importorskip("safetensors.torch")


def _np(t):
    return t.array if isinstance(t, dl.Tensor) else t.detach().numpy()


# ---------------------------------------------------------------------------- safetensors
def test_safetensors_round_trip_with_metadata(tmp_path):
    dl.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    p = tmp_path / "m.safetensors"
    dl.save(m.state_dict(), p, metadata={"epoch": "3", "note": "héllo"})
    assert detect_format(p.read_bytes()) == "safetensors"
    sd = dl.load(p)
    assert set(sd) == set(m.state_dict()) and load_metadata(p) == {"epoch": "3", "note": "héllo"}
    for k, v in m.state_dict().items():
        assert sd[k].dtype == v.dtype
        np.testing.assert_array_equal(sd[k].array, v.array)
    buf = io.BytesIO()
    dl.save(m.state_dict(), buf, format="safetensors")
    buf.seek(0)
    assert set(dl.load(buf)) == set(sd)


@pytest.mark.parametrize("fmt", ["deepling", "safetensors", "torch"])
def test_every_format_keeps_shapes_dtypes_and_zero_d_tensors(tmp_path, fmt):
    dl.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))  # num_batches_tracked is a 0-d int64 tensor
    sd = m.state_dict()
    sd["t"] = dl.randn(4, 3).T  # not contiguous
    dl.save(sd, tmp_path / "f", format=fmt)
    got = dl.load(tmp_path / "f")
    assert list(got) == list(sd) or fmt == "safetensors"
    for k, v in sd.items():
        assert got[k].shape == v.shape and got[k].dtype == v.dtype, k
        np.testing.assert_array_equal(got[k].array, v.array)
    m.load_state_dict({k: v for k, v in got.items() if k != "t"})


def test_safetensors_from_and_to_pytorch(tmp_path):
    torch.manual_seed(0)
    tm = tnn.Sequential(tnn.Linear(5, 7), tnn.ReLU(), tnn.Linear(7, 3))
    safetensors_torch.save_file(tm.state_dict(), str(tmp_path / "t.safetensors"), metadata={"from": "torch"})
    dm = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    dm.load_state_dict(dl.load(tmp_path / "t.safetensors"))
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(dm(dl.tensor(x)).array, tm(torch.tensor(x)).detach().numpy(), atol=1e-6)
    assert load_metadata(tmp_path / "t.safetensors") == {"from": "torch"}
    # and back: deepling's file into PyTorch
    dl.manual_seed(1)
    dm2 = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    dl.save(dm2.state_dict(), tmp_path / "d.safetensors")
    tm.load_state_dict(safetensors_torch.load_file(str(tmp_path / "d.safetensors")))
    np.testing.assert_allclose(dm2(dl.tensor(x)).array, tm(torch.tensor(x)).detach().numpy(), atol=1e-6)


def test_safetensors_dtypes_and_bfloat16(tmp_path):
    src = {"f16": torch.randn(3).half(), "i64": torch.arange(4), "b": torch.tensor([True, False]),
           "bf": torch.tensor([1.5, -2.25, 3e38], dtype=torch.bfloat16), "f64": torch.randn(2, 2, dtype=torch.float64)}
    safetensors_torch.save_file(src, str(tmp_path / "x.safetensors"))
    got = dl.load(tmp_path / "x.safetensors")
    for k, v in src.items():
        want = v.float().numpy() if k == "bf" else v.numpy()
        assert got[k].dtype == want.dtype, k
        np.testing.assert_array_equal(got[k].array, want)


def test_safetensors_bad_input(tmp_path):
    with pytest.raises(TypeError, match="flat dict"):
        dl.save([dl.ones(2)], tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="values must be tensors"):
        dl.save({"a": 1}, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="metadata"):
        dl.save({"a": dl.ones(1)}, tmp_path / "x.ckpt", metadata={"a": "b"})
    dl.save({"a": dl.ones(4)}, tmp_path / "ok.safetensors")
    data = (tmp_path / "ok.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-4])
    with pytest.raises(SerializationError, match="offsets"):
        dl.load(tmp_path / "cut.safetensors")
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]


# ---------------------------------------------------------------------------- PyTorch files in
def test_torch_file_dtypes_views_sharing_nesting(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    obj = {
        "f32": torch.randn(3, 2), "f64": torch.randn(2, dtype=torch.float64), "f16": torch.randn(5).half(),
        "bf16": torch.tensor([1.0, -0.5, 7.0], dtype=torch.bfloat16), "i64": torch.arange(-3, 3),
        "bool": torch.tensor([True, False, True]), "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "view": base[1:, 2:5],                  # offset and strides into a shared storage
        "t": base.t(),                          # transposed strides, same storage
        "scalar": torch.tensor(3.5),
        "nested": {"list": [torch.ones(2), (1, 2.5, "s", None, True)], "od": OrderedDict(a=torch.zeros(1))},
        "size": torch.Size([2, 3]), "dtype": torch.float16, "param": tnn.Parameter(torch.ones(2)),
        "empty": torch.zeros(0, 3), 7: "int key", "big": 10 ** 30,
    }
    torch.save(obj, tmp_path / "x.pt")
    got = dl.load(tmp_path / "x.pt")
    for k in ("f32", "f64", "f16", "i64", "bool", "u8", "view", "t", "scalar", "empty"):
        want = obj[k].numpy()
        assert got[k].dtype == want.dtype and got[k].shape == want.shape, k
        np.testing.assert_array_equal(got[k].array, want, err_msg=k)
    np.testing.assert_array_equal(got["bf16"].array, obj["bf16"].float().numpy())  # bfloat16 -> float32
    assert got["bf16"].dtype == np.float32
    np.testing.assert_array_equal(got["nested"]["list"][0].array, np.ones(2, np.float32))
    assert got["nested"]["list"][1] == (1, 2.5, "s", None, True)
    assert isinstance(got["nested"]["od"], OrderedDict)
    assert got["size"] == (2, 3) and got["dtype"] == np.float16 and got[7] == "int key" and got["big"] == 10 ** 30
    assert isinstance(got["param"], nn.Parameter) and got["param"].requires_grad


def test_torch_state_dict_and_optimizer_state(tmp_path):
    torch.manual_seed(0)
    tm = tnn.Sequential(tnn.Linear(3, 4), tnn.BatchNorm1d(4), tnn.Linear(4, 2))
    opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
    tm(torch.randn(8, 3)).sum().backward()
    opt.step()
    torch.save({"model": tm.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ckpt.pth")
    got = dl.load(tmp_path / "ckpt.pth")
    dm = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    dm.load_state_dict(got["model"])
    dm.eval(), tm.eval()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(dm(dl.tensor(x)).array, tm(torch.tensor(x)).detach().numpy(), atol=1e-6)
    o = got["optimizer"]
    assert o["param_groups"][0]["betas"] == (0.9, 0.999) and o["param_groups"][0]["params"] == [0, 1, 2, 3, 4, 5]
    want = opt.state_dict()["state"]
    for i, st in want.items():
        for k, v in st.items():
            np.testing.assert_array_equal(_np(o["state"][i][k]), v.numpy())
    # the optimizer state goes into deepling's Adam (same key layout as PyTorch's)
    dopt = dl.optim.Adam(dm.parameters(), lr=1e-3)
    dopt.load_state_dict(o)


def test_torchvision_shaped_weights_into_deepling_models(tmp_path):
    torch.manual_seed(0)
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    cases = [(_TResNet(_TBasic, [2, 2, 2, 2], 10), resnet18(num_classes=10)),
             (_TResNet(_TBottle, [1, 1, 1, 1], 4), dl.models.ResNet(dl.models.Bottleneck, [1, 1, 1, 1], num_classes=4)),
             (_t_alexnet(10, small=True), AlexNet(num_classes=10, small=True))]
    for theirs, ours in cases:
        with torch.no_grad():  # non-trivial BatchNorm statistics, so eval mode uses them
            for mod in theirs.modules():
                if isinstance(mod, tnn.BatchNorm2d):
                    mod.running_mean.uniform_(-0.5, 0.5)
                    mod.running_var.uniform_(0.5, 2.0)
        theirs.eval()
        torch.save(theirs.state_dict(), tmp_path / "w.pth")
        ours.load_state_dict(dl.load(tmp_path / "w.pth"))  # the torchvision state_dict as it is
        ours.eval()
        want = theirs(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(ours(dl.tensor(x)).array, want, atol=1e-4 * (np.abs(want).max() + 1))


# ---------------------------------------------------------------------------- PyTorch files out
def test_deepling_writes_what_torch_load_weights_only_reads(tmp_path):
    dl.manual_seed(0)
    dm = GPT(50, context=8, d_model=16, n_heads=2, n_layers=1, tie_weights=True)
    opt = dl.optim.Adam(dm.parameters())
    dm(dl.randint(0, 50, (2, 8))).sum().backward()
    opt.step()
    dl.save({"model": dm.state_dict(), "optimizer": opt.state_dict(), "n": [1, 2.5, None, (True, "x")],
             "f64": dl.randn(2, 3).double(), "mask": dl.tensor([True, False]), "idx": dl.arange(4)},
            tmp_path / "d.pt", format="torch")
    assert detect_format((tmp_path / "d.pt").read_bytes()) == "torch"
    got = torch.load(tmp_path / "d.pt", weights_only=True)
    for k, v in dm.state_dict().items():
        assert got["model"][k].dtype == getattr(torch, str(v.dtype)), k
        np.testing.assert_array_equal(got["model"][k].numpy(), v.array, err_msg=k)
    # tied weights share one storage, as PyTorch's own files do
    assert got["model"]["head.weight"].data_ptr() == got["model"]["tok_emb.weight"].data_ptr()
    assert got["n"] == [1, 2.5, None, (True, "x")] and got["idx"].dtype == torch.int64
    assert got["mask"].dtype == torch.bool and got["f64"].dtype == torch.float64
    assert set(got["optimizer"]["state"]) == set(opt.state_dict()["state"])
    again = dl.load(tmp_path / "d.pt")  # and deepling reads its own torch-format file
    for k, v in dm.state_dict().items():
        np.testing.assert_array_equal(again["model"][k].array, v.array)


def test_torch_format_refuses_what_it_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="cannot save objects of type"):
        dl.save({"f": object()}, tmp_path / "x.pt", format="torch")
    with pytest.raises(TypeError, match="state_dict"):
        dl.save(nn.Linear(2, 2), tmp_path / "x.pt", format="torch")
    with pytest.raises(TypeError, match="no PyTorch storage"):
        dl.save({"u": np.zeros(2, np.uint32)}, tmp_path / "x.pt", format="torch")
    with pytest.raises(ValueError, match="unknown format"):
        dl.save({}, tmp_path / "x", format="hdf5")
    assert not os.listdir(tmp_path)


# ---------------------------------------------------------------------------- malicious and broken files
class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))  # unpickling would create the file


class _SystemPayload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def _rezip(src, dst, change):
    """Copy a zip, replacing members by ``change(name, data) -> data | None`` (None drops it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)


def test_reduce_payloads_are_refused_and_not_run(tmp_path):
    target = tmp_path / "created_by_payload"
    torch.save({"w": torch.ones(2), "evil": _Payload(str(target))}, tmp_path / "evil.pt")
    with pytest.raises(SerializationError, match=r"refused global '(builtins|io)\.open'"):
        dl.load(tmp_path / "evil.pt")
    assert not target.exists()
    torch.save({"evil": _SystemPayload()}, tmp_path / "sys.pt")
    with pytest.raises(SerializationError, match=r"refused global '(posix|os)\.system'"):
        dl.load(tmp_path / "sys.pt")
    # a global hidden behind STACK_GLOBAL (protocol 4) is refused the same way
    raw = pickle.dumps({"evil": _Payload(str(target))}, protocol=4)
    _rezip(tmp_path / "evil.pt", tmp_path / "p4.pt", lambda n, d: raw if n.endswith("data.pkl") else d)
    with pytest.raises(SerializationError, match=r"refused global '(builtins|io)\.open'"):
        dl.load(tmp_path / "p4.pt")
    assert not target.exists()


def test_storage_larger_than_its_member_and_out_of_bounds_view(tmp_path):
    base = torch.arange(10, dtype=torch.float32)
    torch.save({"v": base[2:]}, tmp_path / "ok.pt")
    _rezip(tmp_path / "ok.pt", tmp_path / "short.pt", lambda n, d: d[:16] if "/data/" in n else d)
    with pytest.raises(SerializationError, match=r"claims 10 float32 elements \(40 bytes\) but its member holds 16"):
        dl.load(tmp_path / "short.pt")
    # a view reaching past its storage: offset 2 + 4 elements of a 4-element storage
    pkl = (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
           b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x02K\x04\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR.")
    with zipfile.ZipFile(tmp_path / "oob.pt", "w") as z:
        z.writestr("a/data.pkl", pkl)
        z.writestr("a/data/0", np.zeros(4, np.float32).tobytes())
    with pytest.raises(SerializationError, match="reaches element 5 of a storage of 4 elements"):
        dl.load(tmp_path / "oob.pt")
    expanded = pkl.replace(b"K\x02K\x04\x85K\x01\x85", b"K\x00J\x00\x00\x00\x40\x85K\x00\x85")  # 2**30 x stride 0
    with zipfile.ZipFile(tmp_path / "expanded.pt", "w") as z:
        z.writestr("a/data.pkl", expanded)
        z.writestr("a/data/0", np.zeros(4, np.float32).tobytes())
    with pytest.raises(SerializationError, match="larger than its storage of 4 elements"):
        dl.load(tmp_path / "expanded.pt")
    missing = pkl.replace(b"X\x01\x00\x00\x000", b"X\x01\x00\x00\x009")
    with zipfile.ZipFile(tmp_path / "missing.pt", "w") as z:
        z.writestr("a/data.pkl", missing)
    with pytest.raises(SerializationError, match="has no member 'a/data/9'"):
        dl.load(tmp_path / "missing.pt")


def test_zip_bomb_truncation_and_legacy_files(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.pt", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a/data.pkl", b"\x80\x02}.")
        z.writestr("a/data/0", bytes(64 << 20))  # 64 MiB of zeros in ~64 KiB
    assert os.path.getsize(tmp_path / "bomb.pt") < 1 << 20
    with pytest.raises(SerializationError, match="zip bomb"):
        dl.load(tmp_path / "bomb.pt")
    # a deepling (npz) checkpoint gets the same check before NumPy inflates anything
    with zipfile.ZipFile(tmp_path / "bomb.ckpt", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("__deepling__.npy", b"x")
        z.writestr("a0.npy", bytes(64 << 20))
    with pytest.raises(SerializationError, match="zip bomb"):
        dl.load(tmp_path / "bomb.ckpt")
    torch.save({"w": torch.ones(100)}, tmp_path / "ok.pt")
    data = (tmp_path / "ok.pt").read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 40):
        (tmp_path / "cut.pt").write_bytes(data[:cut])
        with pytest.raises(SerializationError, match="truncated or corrupted"):
            dl.load(tmp_path / "cut.pt")
    _rezip(tmp_path / "ok.pt", tmp_path / "trunc_pkl.pt", lambda n, d: d[:20] if n.endswith("data.pkl") else d)
    with pytest.raises(SerializationError, match="truncated"):
        dl.load(tmp_path / "trunc_pkl.pt")


def test_legacy_pytorch_files(tmp_path):
    """PyTorch < 1.6's format (pickles in a row, then raw storages) reads through the same interpreter."""
    torch.manual_seed(0)
    tm = tnn.Sequential(tnn.Linear(3, 4), tnn.BatchNorm1d(4))
    base = torch.arange(24.0).reshape(4, 6)
    obj = {"sd": tm.state_dict(), "view": base[1:, 2:5], "t": base.t(), "bf": torch.tensor([1.5], dtype=torch.bfloat16),
           "p": tnn.Parameter(torch.ones(2)), "i": torch.arange(3), "n": [1, (2, "x")], "e": torch.zeros(0, 2)}
    torch.save(obj, tmp_path / "old.pth", _use_new_zipfile_serialization=False)
    assert detect_format((tmp_path / "old.pth").read_bytes()) == "torch-legacy"
    got = dl.load(tmp_path / "old.pth")
    for k in ("view", "t", "i", "e"):
        assert got[k].shape == tuple(obj[k].shape) and got[k].dtype == obj[k].numpy().dtype, k
        np.testing.assert_array_equal(got[k].array, obj[k].numpy())
    for k, v in tm.state_dict().items():
        assert got["sd"][k].shape == tuple(v.shape), k
        np.testing.assert_array_equal(got["sd"][k].array, v.numpy())
    assert got["bf"].array.tolist() == [1.5] and isinstance(got["p"], nn.Parameter) and got["n"] == [1, (2, "x")]
    target = tmp_path / "created_by_payload"
    torch.save({"w": torch.ones(2), "evil": _Payload(str(target))}, tmp_path / "evil.pth",
               _use_new_zipfile_serialization=False)
    with pytest.raises(SerializationError, match=r"refused global '(builtins|io)\.open'"):
        dl.load(tmp_path / "evil.pth")
    assert not target.exists()
    data = (tmp_path / "old.pth").read_bytes()
    for cut in (len(data) - 3, len(data) // 2, 20):
        (tmp_path / "cut.pth").write_bytes(data[:cut])
        with pytest.raises(SerializationError, match="truncated|claims"):
            dl.load(tmp_path / "cut.pth")


def test_refused_opcodes_and_calls(tmp_path):
    def pt(pkl):
        with zipfile.ZipFile(tmp_path / "x.pt", "w") as z:
            z.writestr("a/data.pkl", pkl)
        return tmp_path / "x.pt"

    with pytest.raises(SerializationError, match="refused pickle opcode INST"):
        dl.load(pt(b"\x80\x02(ibuiltins\nobject\n."))
    with pytest.raises(SerializationError, match="refused pickle opcode NEWOBJ"):
        dl.load(pt(b"\x80\x02ccollections\nOrderedDict\n)\x81."))
    with pytest.raises(SerializationError, match="refused to call"):  # a dtype is data, not a callable
        dl.load(pt(b"\x80\x02ctorch\nfloat32\n)R."))
    with pytest.raises(SerializationError, match="refused BUILD"):
        dl.load(pt(b"\x80\x02}}b."))
    with pytest.raises(SerializationError, match="empty stack|no MARK"):
        dl.load(pt(b"\x80\x02u."))


# ---------------------------------------------------------------------------- whole modules (deepling format)
def test_whole_module_round_trip(tmp_path):
    dl.manual_seed(0)
    models = [MLP(6, [5, 4], 3, activation=nn.Tanh), resnet20(num_classes=4), CharRNN(11, 4, 6, cell="gru"),
              GPT(13, context=6, d_model=8, n_heads=2, n_layers=1, tie_weights=True),
              dense_autoencoder([6, 4, 2], tied=True), nn.Sequential(OrderedDict(a=nn.Linear(6, 2), b=nn.Sigmoid())),
              conv_autoencoder((2, 3))]
    inputs = [dl.randn(2, 6), dl.randn(2, 3, 8, 8), dl.randint(0, 11, (2, 5)), dl.randint(0, 13, (2, 6)),
              dl.randn(2, 6), dl.randn(2, 6), dl.rand(2, 1, 8, 8)]
    for m, x in zip(models, inputs):
        m.eval()
        dl.save(m, tmp_path / "m.ckpt")
        m2 = dl.load(tmp_path / "m.ckpt")
        assert type(m2) is type(m) and not m2.training
        np.testing.assert_array_equal(m2(x).array, m(x).array)
    dl.save(models[3], tmp_path / "g.ckpt")
    g = dl.load(tmp_path / "g.ckpt")
    assert g.head.weight is g.tok_emb.weight  # tying survives
    ae = models[4]
    dl.save(ae, tmp_path / "ae.ckpt")
    ae2 = dl.load(tmp_path / "ae.ckpt")
    assert ae2.decoder[0].weight is ae2.encoder[2].weight  # TiedLinear still shares the encoder's weight


class _LocalNet(nn.Module):
    def __init__(self, width=3):
        super().__init__()
        self.fc = nn.Linear(2, width)

    def forward(self, x):
        return self.fc(x)


def test_whole_module_needs_its_class_and_plain_arguments(tmp_path):
    dl.save(_LocalNet(4), tmp_path / "n.ckpt")
    assert dl.load(tmp_path / "n.ckpt").fc.out_features == 4
    data = (tmp_path / "n.ckpt").read_bytes().replace(b"test_interop_formats:_LocalNet", b"not_imported_mod:_LocalNet")
    (tmp_path / "n2.ckpt").write_bytes(data)
    with pytest.raises(SerializationError, match="CRC|corrupted"):  # the manifest's checksum no longer matches
        dl.load(tmp_path / "n2.ckpt")
    import json

    with np.load(tmp_path / "n.ckpt") as z:
        arrays = {k: z[k] for k in z.files}
    man = json.loads(arrays["__deepling__"].tobytes())
    man["tree"]["class"] = "some_plugin.models:BigNet"
    arrays["__deepling__"] = np.frombuffer(json.dumps(man).encode(), np.uint8)
    np.savez(tmp_path / "n3.ckpt", **arrays)
    with pytest.raises(SerializationError, match="needs class BigNet from module some_plugin.models, which is not "
                                                  "imported"):
        dl.load(tmp_path / "n3.ckpt.npz")
    man["tree"]["class"] = "os:system"
    arrays["__deepling__"] = np.frombuffer(json.dumps(man).encode(), np.uint8)
    np.savez(tmp_path / "n4.ckpt", **arrays)
    with pytest.raises(SerializationError, match="not a deepling Module class"):
        dl.load(tmp_path / "n4.ckpt.npz")
    with pytest.raises(TypeError, match="constructor argument is not plain data"):
        dl.save(MLP(2, 3, 1, activation=lambda: nn.ReLU()), tmp_path / "x.ckpt")


def test_damaged_files_only_raise_serialization_error(tmp_path):
    """Random byte damage to files of every format: each load returns or raises SerializationError,
    never a raw zipfile/zlib/struct/NumPy exception."""
    import random

    tm = tnn.Sequential(tnn.Linear(3, 4), tnn.BatchNorm1d(4))
    obj = {"sd": tm.state_dict(), "v": torch.arange(10.0)[2:].reshape(2, 4), "n": [1, (2.5, "s")]}
    files = []
    for kw in ({}, {"_use_new_zipfile_serialization": False}):
        buf = io.BytesIO()
        torch.save(obj, buf, **kw)
        files.append(buf.getvalue())
    for fmt in ("deepling", "safetensors", "torch"):
        buf = io.BytesIO()
        dl.save(nn.Linear(3, 4).state_dict(), buf, format=fmt)
        files.append(buf.getvalue())
    rng = random.Random(0)
    outcomes = {"loaded": 0, "refused": 0}
    for it in range(300):
        b = bytearray(files[it % len(files)])
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            if rng.random() < 0.7:
                b[i] = rng.randrange(256)
            else:
                del b[i:i + rng.randint(1, 8)]
        try:
            dl.load(io.BytesIO(bytes(b)))
            outcomes["loaded"] += 1
        except SerializationError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 200
    # members that zipfile cannot read (encrypted, other compression) are named, not a raw error
    with zipfile.ZipFile(tmp_path / "bz.pt", "w", zipfile.ZIP_BZIP2) as z:
        z.writestr("a/data.pkl", b"\x80\x02}.")
    with pytest.raises(SerializationError, match="compression method 12"):
        dl.load(tmp_path / "bz.pt")
    with zipfile.ZipFile(tmp_path / "st.pt", "w") as z:
        z.writestr("a/data.pkl", b"\x80\x02}.")
    data = bytearray((tmp_path / "st.pt").read_bytes())
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 8] |= 1  # the central directory's "encrypted" flag
    (tmp_path / "enc.pt").write_bytes(bytes(data))
    with pytest.raises(SerializationError, match="encrypted"):
        dl.load(tmp_path / "enc.pt")
