"""SummaryWriter writes event files that TensorBoard's own reader (EventAccumulator) reads back."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

import deepling as dl

pytest.importorskip("tensorboard")  # in the test extra; absent only on a core-only install
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from deepling.utils.tensorboard import SummaryWriter  # noqa: E402

PIL = pytest.importorskip("PIL.Image")


def _read(path) -> EventAccumulator:
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_scalars_round_trip(tmp_path):
    with SummaryWriter(tmp_path / "run") as w:
        assert w.get_logdir() == str(tmp_path / "run")
        for step in range(5):
            w.add_scalar("loss/train", 1.0 / (step + 1), step)
        w.add_scalar("acc", dl.tensor(0.75), global_step=dl.tensor(7), walltime=123.0)
        w.add_scalar("np", np.float32(2.5), 1)
    acc = _read(tmp_path / "run")
    assert set(acc.Tags()["scalars"]) == {"loss/train", "acc", "np"}
    events = acc.Scalars("loss/train")
    assert [e.step for e in events] == list(range(5))
    np.testing.assert_allclose([e.value for e in events], [1.0 / (s + 1) for s in range(5)], rtol=1e-6)
    (a,) = acc.Scalars("acc")
    assert (a.step, a.value, a.wall_time) == (7, 0.75, 123.0)
    with pytest.raises(ValueError, match="scalar should be 0D"):
        SummaryWriter(tmp_path / "bad").add_scalar("x", dl.ones(3))


def test_add_scalars_writes_one_run_per_tag(tmp_path):
    w = SummaryWriter(tmp_path)
    for step in range(3):
        w.add_scalars("loss", {"train": 1.0 - 0.1 * step, "test": 2.0 - 0.1 * step}, step)
    w.close()
    assert {"loss_train", "loss_test"} <= set(os.listdir(tmp_path))
    train = _read(tmp_path / "loss_train").Scalars("loss")
    test = _read(tmp_path / "loss_test").Scalars("loss")
    np.testing.assert_allclose([e.value for e in train], [1.0, 0.9, 0.8], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in test], [2.0, 1.9, 1.8], rtol=1e-6)


def test_histogram_round_trip(tmp_path):
    values = np.random.default_rng(0).standard_normal(1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("weights", dl.tensor(values, dtype=np.float64), 3)
        w.add_histogram("ten_bins", values, 4, bins=10)
        w.add_histogram("few", values, 5, bins=100, max_bins=7)
    acc = _read(tmp_path)
    h = acc.Histograms("weights")[0]
    assert h.step == 3
    v = h.histogram_value
    assert v.num == 1000 and v.min == values.min() and v.max == values.max()
    assert v.sum == pytest.approx(values.sum()) and v.sum_squares == pytest.approx((values**2).sum())
    assert sum(v.bucket) == 1000 and list(v.bucket_limit) == sorted(v.bucket_limit)
    ten = acc.Histograms("ten_bins")[0].histogram_value
    counts, edges = np.histogram(values, bins=10)
    assert list(ten.bucket) == counts.tolist() and np.allclose(ten.bucket_limit, edges[1:])
    few = acc.Histograms("few")[0].histogram_value
    assert len(few.bucket) <= 7 and sum(few.bucket) == 1000 and few.bucket_limit[-1] == pytest.approx(values.max())


def test_image_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    chw = rng.random((3, 5, 7)).astype(np.float32)
    with SummaryWriter(tmp_path) as w:
        w.add_image("rgb", dl.tensor(chw), 1)
        w.add_image("grey", (rng.random((4, 6)) * 255).astype(np.uint8), 2, dataformats="HW")
        w.add_image("hwc", chw.transpose(1, 2, 0), 3, dataformats="HWC")
        with pytest.raises(ValueError, match="dataformats"):
            w.add_image("bad", chw, dataformats="HW")
    acc = _read(tmp_path)
    img = acc.Images("rgb")[0]
    assert (img.step, img.width, img.height) == (1, 7, 5)
    decoded = np.asarray(PIL.open(io.BytesIO(img.encoded_image_string)))
    np.testing.assert_array_equal(decoded, np.clip(chw.transpose(1, 2, 0) * 255, 0, 255).astype(np.uint8))
    grey = acc.Images("grey")[0]
    assert (grey.width, grey.height) == (6, 4)
    assert acc.Images("hwc")[0].encoded_image_string == img.encoded_image_string


def test_text_round_trip(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "lr = **0.1**", 0)
        w.add_text("notes", "épsilon", 1)
    acc = _read(tmp_path)
    assert acc.Tags()["tensors"] == ["notes/text_summary"]
    events = acc.Tensors("notes/text_summary")
    assert [e.tensor_proto.string_val[0].decode() for e in events] == ["lr = **0.1**", "épsilon"]
    assert acc.SummaryMetadata("notes/text_summary").plugin_data.plugin_name == "text"


def test_flush_makes_events_readable_before_close(tmp_path):
    w = SummaryWriter(tmp_path, flush_secs=3600)
    w.add_scalar("x", 1.0, 0)
    w.flush()
    assert [e.value for e in _read(tmp_path).Scalars("x")] == [1.0]
    w.close()
    w.add_scalar("x", 2.0, 1)  # a closed writer reopens a new event file, as PyTorch's does
    w.close()
    assert sorted(e.value for e in _read(tmp_path).Scalars("x")) == [1.0, 2.0]


def test_default_log_dir_is_runs_date_host_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.close()
    (run,) = os.listdir(tmp_path / "runs")
    assert run.endswith("_lr0.1") and w.get_logdir() == os.path.join("runs", run)
    assert any(f.startswith("events.out.tfevents.") for f in os.listdir(tmp_path / "runs" / run))


def test_purge_step_is_recorded(tmp_path):
    with SummaryWriter(tmp_path, purge_step=5) as w:
        w.add_scalar("x", 1.0, 5)
    assert [e.step for e in _read(tmp_path).Scalars("x")] == [5]
