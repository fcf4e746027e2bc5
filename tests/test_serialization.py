"""deepling.save / deepling.load: round trips, no pickle, atomic writes, clear errors on bad files."""

import io
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import deepling as dl
from deepling import nn
from deepling.serialization import SerializationError


def _tree():
    return {
        "w": dl.randn(3, 4),
        "idx": dl.arange(5),
        "mask": dl.tensor([True, False]),
        "arr": np.arange(6, dtype=np.int16).reshape(2, 3),
        "scalar": np.float32(1.5),
        "zero_d": np.array(2.0),
        "nums": [1, 2.5, float("inf"), -0.0, 10**30],
        "flags": (True, False, None),
        "text": "héllo",
        3: {"nested": [dl.zeros(0), {"deep": "x"}]},
        "od": OrderedDict([("b", 1), ("a", 2)]),
        "rng": dl.get_rng_state(),
    }


def _assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dl.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.array, b.array)
    elif isinstance(a, np.ndarray | np.generic):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b or (a != a and b != b)


def test_round_trip_nested(tmp_path):
    obj = _tree()
    dl.save(obj, tmp_path / "c.pt")
    _assert_same(obj, dl.load(tmp_path / "c.pt"))
    buf = io.BytesIO()
    dl.save(obj, buf)
    buf.seek(0)
    _assert_same(obj, dl.load(buf))


def test_model_state_dict_round_trip(tmp_path):
    dl.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    dl.save(m.state_dict(), str(tmp_path / "m.ckpt"))
    m2 = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    m2.load_state_dict(dl.load(str(tmp_path / "m.ckpt")))
    x = dl.randn(3, 4)
    np.testing.assert_array_equal(m(x).array, m2(x).array)


def test_rng_state_restores_the_stream(tmp_path):
    dl.manual_seed(5)
    dl.randn(3)
    dl.save({"rng": dl.get_rng_state()}, tmp_path / "r")
    expected = dl.randn(4).array
    dl.manual_seed(99)
    dl.set_rng_state(dl.load(tmp_path / "r")["rng"])
    np.testing.assert_array_equal(dl.randn(4).array, expected)


def test_file_is_npz_without_pickle(tmp_path):
    dl.save(_tree(), tmp_path / "c")
    with np.load(tmp_path / "c", allow_pickle=False) as z:  # loadable by plain NumPy, no pickle needed
        for name in z.files:
            assert z[name].dtype != object


def test_unsupported_objects_raise(tmp_path):
    with pytest.raises(TypeError, match="cannot save objects of type"):
        dl.save({"f": lambda: 0}, tmp_path / "x")
    with pytest.raises(TypeError, match="Python objects"):
        dl.save({"o": np.array([object()])}, tmp_path / "x")
    with pytest.raises(TypeError, match="dict keys"):
        dl.save({(1, 2): 0}, tmp_path / "x")
    assert not os.listdir(tmp_path)  # nothing half-written left behind


def test_truncated_file_raises(tmp_path):
    dl.save(_tree(), tmp_path / "c")
    data = (tmp_path / "c").read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10):
        (tmp_path / "t").write_bytes(data[:cut])
        with pytest.raises(SerializationError, match="truncated or corrupted|not a deepling"):
            dl.load(tmp_path / "t")


def test_corrupted_member_raises(tmp_path):
    dl.save({"w": np.arange(1000, dtype=np.float64)}, tmp_path / "c")
    data = bytearray((tmp_path / "c").read_bytes())
    i = data.find(np.arange(1000, dtype=np.float64)[500:504].tobytes())
    data[i] ^= 0xFF  # flips a stored byte; the zip CRC no longer matches
    (tmp_path / "c").write_bytes(bytes(data))
    with pytest.raises(SerializationError, match="corrupted"):
        dl.load(tmp_path / "c")


def test_foreign_files_raise(tmp_path):
    (tmp_path / "text").write_text("hello")
    with pytest.raises(SerializationError, match="not a deepling checkpoint"):
        dl.load(tmp_path / "text")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(SerializationError, match="no manifest"):
        dl.load(tmp_path / "plain.npz")
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SerializationError, match="not a deepling checkpoint"):
        dl.load(tmp_path / "pickled.npy")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(SerializationError):
        dl.load(tmp_path / "other.zip")
    with pytest.raises(FileNotFoundError):
        dl.load(tmp_path / "missing")


def test_future_version_and_bad_magic(tmp_path):
    for manifest, match in [(b'{"magic": "deepling-checkpoint", "version": 99, "tree": null}', "version 99"),
                            (b'{"magic": "other", "version": 1, "tree": null}', "bad magic"),
                            (b"\xff\xfe not json", "manifest is corrupted")]:
        np.savez(tmp_path / "v.npz", __deepling__=np.frombuffer(manifest, dtype=np.uint8))
        with pytest.raises(SerializationError, match=match):
            dl.load(tmp_path / "v.npz")


def test_crash_while_writing_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    dl.save({"epoch": 1, "w": np.ones(100)}, path)
    before = path.read_bytes()
    real_savez = np.savez

    def crashing_savez(f, **arrays):
        f.write(b"PK partial garbage")
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the write

    monkeypatch.setattr(np, "savez", crashing_savez)
    with pytest.raises(KeyboardInterrupt):
        dl.save({"epoch": 2, "w": np.zeros(100)}, path)
    monkeypatch.setattr(np, "savez", real_savez)
    assert path.read_bytes() == before
    assert dl.load(path)["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["ckpt"]  # the temp file was removed
