"""``deepling.utils.tensorboard.SummaryWriter``: TensorBoard event files, as ``torch.utils.tensorboard`` writes them.

Needs the ``tensorboard`` package (``pip install "deepling[tensorboard]"``); its event-file writer
and protocol buffers do the file format, so ``tensorboard --logdir runs`` shows what deepling logs.
Images are encoded with deepling's own PNG writer.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime
from typing import Any

import numpy as np

try:
    from tensorboard.compat.proto.event_pb2 import Event, SessionLog
    from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "deepling.utils.tensorboard needs the tensorboard package: pip install 'deepling[tensorboard]' "
        f"(or pip install tensorboard) ({e})"
    ) from None

from deepling.tensor import Tensor
from deepling.vision.png import encode_png

__all__ = ["SummaryWriter"]


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.array
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # another framework's tensor
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _scalar(op: str, value: Any) -> float:
    a = _numpy(value)
    if a.squeeze().ndim != 0:
        raise ValueError(f"{op}: scalar should be 0D (got shape {a.shape})")
    return float(a.reshape(()))


# TensorBoard's default histogram buckets ('tensorflow'): +-1e-12 * 1.1**k up to 1e20, and 0.
_POS = 1e-12 * 1.1 ** np.arange(0, int(np.ceil(np.log(1e20 / 1e-12) / np.log(1.1))) + 1)
_TF_EDGES = np.concatenate([-_POS[::-1], [0.0], _POS])


def _histogram(op: str, values: Any, bins: Any, max_bins: int | None) -> HistogramProto:
    v = _numpy(values).astype(np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError(f"{op}: the input has no values")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{op}: the input has NaN or infinite values")
    edges = _TF_EDGES if isinstance(bins, str) and bins == "tensorflow" else bins
    counts, limits = np.histogram(v, bins=edges)
    if max_bins is not None and len(counts) > max_bins:  # merge neighbours until at most max_bins remain
        k = -(-len(counts) // max_bins)
        pad = (-len(counts)) % k
        limits = np.append(limits[:-1][::k], limits[-1])  # the left edge of each group, then the last right edge
        counts = np.concatenate([counts, np.zeros(pad, counts.dtype)]).reshape(-1, k).sum(axis=1)
    # keep the occupied range, plus one empty bucket in front so its right edge marks where data begins
    nz = np.flatnonzero(counts)
    lo, hi = max(nz[0] - 1, 0), nz[-1] + 1
    bucket, bucket_limit = counts[lo:hi], limits[lo + 1 : hi + 1]
    return HistogramProto(min=float(v.min()), max=float(v.max()), num=int(v.size), sum=float(v.sum()),
                          sum_squares=float(v.dot(v)), bucket_limit=bucket_limit.tolist(), bucket=bucket.tolist())


def _hwc(op: str, img: Any, dataformats: str) -> np.ndarray:
    a = _numpy(img)
    fmt = dataformats.upper()
    if len(fmt) != a.ndim or sorted(fmt) not in (sorted("CHW"), sorted("HW"), sorted("NCHW")):
        raise ValueError(f"{op}: dataformats {dataformats!r} does not fit an image of shape {a.shape}")
    if "N" in fmt:
        if a.shape[fmt.index("N")] != 1:
            raise ValueError(f"{op}: one image expected (got {a.shape[fmt.index('N')]}; use add_image per image)")
        a = np.take(a, 0, axis=fmt.index("N"))
        fmt = fmt.replace("N", "")
    if "C" not in fmt:
        a, fmt = a[..., None], fmt + "C"
    a = a.transpose([fmt.index(c) for c in "HWC"])
    if a.shape[2] == 1:
        a = np.concatenate([a, a, a], axis=2)
    if a.shape[2] not in (3, 4):
        raise ValueError(f"{op}: an image has 1, 3 or 4 channels (got {a.shape[2]})")
    # float images are in [0, 1], uint8 images in 0..255 (as torch.utils.tensorboard scales them)
    scale = 1 if a.dtype == np.uint8 else 255
    return np.clip(a.astype(np.float32) * scale, 0, 255).astype(np.uint8)


class SummaryWriter:
    """Writes scalars, histograms, images and text to an event file in ``log_dir`` for TensorBoard.

    ``log_dir`` defaults to ``runs/<Mon><DD>_<HH-MM-SS>_<hostname><comment>`` as PyTorch's. Events
    are queued (``max_queue``) and written at least every ``flush_secs`` seconds, on ``flush()`` and
    on ``close()``. ``purge_step`` tells TensorBoard to drop events from a crashed run at or after
    that step.
    """

    def __init__(self, log_dir: str | os.PathLike | None = None, comment: str = "", purge_step: int | None = None,
                 max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = "") -> None:
        if not log_dir:
            current_time = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", current_time + "_" + socket.gethostname() + comment)
        self.log_dir = os.fspath(log_dir)
        self.purge_step = purge_step
        self.max_queue, self.flush_secs, self.filename_suffix = max_queue, flush_secs, filename_suffix
        self.file_writer: EventFileWriter | None = None
        self.all_writers: dict[str, EventFileWriter] = {}
        self._get_file_writer()

    def _get_file_writer(self) -> EventFileWriter:
        if self.file_writer is None:
            self.file_writer = EventFileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.log_dir: self.file_writer}
            if self.purge_step is not None:
                self.file_writer.add_event(Event(step=self.purge_step, session_log=SessionLog(status=SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self) -> str:
        return self.log_dir

    @staticmethod
    def _event(summary: Summary, global_step: Any, walltime: float | None) -> Event:
        event = Event(summary=summary, wall_time=time.time() if walltime is None else float(walltime))
        if global_step is not None:
            event.step = int(_scalar("global_step", global_step))
        return event

    def _add(self, summary: Summary, global_step: Any, walltime: float | None) -> None:
        self._get_file_writer().add_event(self._event(summary, global_step, walltime))

    # ------------------------------------------------------------------ summaries
    def add_scalar(self, tag: str, scalar_value: Any, global_step: Any = None, walltime: float | None = None,
                   new_style: bool = False, double_precision: bool = False) -> None:
        """One number (a Python/NumPy scalar or a one-element Tensor) at ``global_step``."""
        value = _scalar("add_scalar", scalar_value)
        self._add(Summary(value=[Summary.Value(tag=tag, simple_value=value)]), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any], global_step: Any = None,
                    walltime: float | None = None) -> None:
        """Several curves on one chart: each ``tag`` goes to its own run ``<log_dir>/<main_tag>_<tag>``."""
        walltime = time.time() if walltime is None else walltime
        for tag, value in tag_scalar_dict.items():
            path = os.path.join(self._get_file_writer().get_logdir(), main_tag.replace("/", "_") + "_" + tag)
            writer = self.all_writers.get(path)
            if writer is None:
                writer = EventFileWriter(path, self.max_queue, self.flush_secs, self.filename_suffix)
                self.all_writers[path] = writer
            summary = Summary(value=[Summary.Value(tag=main_tag, simple_value=_scalar("add_scalars", value))])
            writer.add_event(self._event(summary, global_step, walltime))

    def add_histogram(self, tag: str, values: Any, global_step: Any = None, bins: Any = "tensorflow",
                      walltime: float | None = None, max_bins: int | None = None) -> None:
        """The distribution of ``values`` (any shape); ``bins`` as ``numpy.histogram`` or ``'tensorflow'``."""
        histo = _histogram("add_histogram", values, bins, max_bins)
        self._add(Summary(value=[Summary.Value(tag=tag, histo=histo)]), global_step, walltime)

    def add_image(self, tag: str, img_tensor: Any, global_step: Any = None, walltime: float | None = None,
                  dataformats: str = "CHW") -> None:
        """An image ``(C, H, W)`` (``dataformats`` also ``HWC``, ``HW``, ``NCHW`` with N = 1): floats in
        [0, 1] or uint8 in 0..255, 1 (grey), 3 (RGB) or 4 (RGBA) channels, stored as PNG."""
        img = _hwc("add_image", img_tensor, dataformats)
        h, w, c = img.shape
        image = Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=encode_png(img))
        self._add(Summary(value=[Summary.Value(tag=tag, image=image)]), global_step, walltime)

    def add_text(self, tag: str, text_string: str, global_step: Any = None, walltime: float | None = None) -> None:
        """Text (Markdown) under ``<tag>/text_summary``, as PyTorch's writer names it."""
        plugin = SummaryMetadata.PluginData(plugin_name="text", content=TextPluginData(version=0).SerializeToString())
        tensor = TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf_8")],
                             tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
        value = Summary.Value(tag=tag + "/text_summary", metadata=SummaryMetadata(plugin_data=plugin), tensor=tensor)
        self._add(Summary(value=[value]), global_step, walltime)

    # ------------------------------------------------------------------ files
    def flush(self) -> None:
        """Write every queued event to disk."""
        for writer in self.all_writers.values():
            writer.flush()

    def close(self) -> None:
        """Flush and close the event files (a later add_* opens a new file in the same ``log_dir``)."""
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer, self.all_writers = None, {}

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
