"""The digit pad's model: a small CNN trained once by deepling in a background thread, then cached.

It learns from MNIST when the IDX files are found (``data_dir``, else deepling's data rule:
``$DEEPLING_DATA/mnist``, ``../shared/data/mnist``, ``~/.cache/deepling/mnist``), else from scikit-learn's embedded 8x8 digits scaled up to 28x28. Every
image, drawn or loaded, is normalized the way MNIST was made: the ink's bounding box scaled to fit
20x20 and its center of mass put at the center of a 28x28 frame, so a drawing looks like the data.
``predict`` returns the class probabilities, the first convolution's feature maps and the saliency
(|d top-class logit / d pixel|) of the drawing.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

import deepling as dl
from deepling.studio._engine import BadRequest, engine, pack

SIDE = 28
ARCH = "c8k5-p2-c16k5-p2-fc10-v1"  # part of the cache key: a changed network never loads old weights


def build_cnn() -> dl.nn.Sequential:
    """(N, 1, 28, 28) -> (N, 10) logits: two 5x5 conv + ReLU + 2x2 max-pool stages, then a linear layer."""
    nn = dl.nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10),
    )


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize of a 2-D image to ``(h, w)`` (whole-array gathers, no loop over pixels)."""
    H, W = img.shape
    ys = np.clip((np.arange(h) + 0.5) * H / h - 0.5, 0, H - 1)
    xs = np.clip((np.arange(w) + 0.5) * W / w - 0.5, 0, W - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, H - 1), np.minimum(x0 + 1, W - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def normalize(img: np.ndarray) -> np.ndarray:
    """MNIST's framing of one image in [0, 1]: ink box scaled to fit 20x20, mass centered in 28x28."""
    img = np.asarray(img, dtype=np.float32)
    rows, cols = np.flatnonzero(img.max(1) > 0.05), np.flatnonzero(img.max(0) > 0.05)
    out = np.zeros((SIDE, SIDE), np.float32)
    if len(rows) == 0:
        return out
    box = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20.0 / max(box.shape)
    h, w = max(1, round(box.shape[0] * scale)), max(1, round(box.shape[1] * scale))
    small = np.clip(_resize(box, h, w), 0, 1)
    mass = small.sum()
    cy = (small.sum(1) * np.arange(h)).sum() / mass
    cx = (small.sum(0) * np.arange(w)).sum() / mass
    top, left = int(round(SIDE / 2 - cy - 0.5)), int(round(SIDE / 2 - cx - 0.5))
    top, left = min(max(top, 0), SIDE - h), min(max(left, 0), SIDE - w)
    out[top : top + h, left : left + w] = small
    return out


def _mnist_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The directory holding MNIST's training files: ``data_dir`` (or its ``mnist/``), else where
    deepling's one data rule (``deepling.data.dataset_dir``) says; None when they are not there."""
    from deepling.data import dataset_dir

    for d in ((Path(data_dir), Path(data_dir) / "mnist") if data_dir is not None else (dataset_dir("mnist"),)):
        if (d / "train-labels-idx1-ubyte.gz").exists() or (d / "train-labels-idx1-ubyte").exists():
            return d
    return None


def load_training_data(source: str, data_dir: str | os.PathLike | None, n_max: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Images ``(N, 1, 28, 28)`` float32, labels ``(N,)`` and the name of the data set used."""
    root = _mnist_dir(data_dir) if source in ("auto", "mnist") else None
    if source == "mnist" and root is None:
        raise FileNotFoundError("MNIST not found: pass --data-dir DIR or set DEEPLING_DATA (see deepling.data.location)")
    if root is not None:
        from deepling.data.datasets.mnist import MNIST

        ds = MNIST(root, train=True)
        x, y = ds.data[:n_max].astype(np.float32) / 255.0, ds.targets[:n_max]
        name = "mnist"
    else:
        from deepling.data.datasets.digits import Digits

        ds = Digits(train=True, flatten=False)
        x = np.stack([normalize(_resize(im, 20, 20)) for im in ds.data[:n_max]])
        y = ds.targets[:n_max]
        name = "digits"
    return x[:, None].astype(np.float32), y.astype(np.int64), name


class DigitModel:
    """The pad's classifier: ``start()`` trains it in the background (or loads it from the cache);
    ``status()`` tells how far it got; ``predict(pixels)`` classifies one 28x28 drawing."""

    def __init__(self, cache_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                 source: str = "auto", epochs: int = 2, n_max: int = 20000, seed: int = 0) -> None:
        self.cache_dir = Path(cache_dir)
        self.data_dir, self.source, self.epochs, self.n_max, self.seed = data_dir, source, epochs, n_max, seed
        self.model: dl.nn.Sequential | None = None
        self.state = "idle"
        self.progress = 0.0
        self.message = ""
        self.meta: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="deepling-studio-digits", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "progress": round(self.progress, 3), "message": self.message, **self.meta}

    def _cache_path(self, name: str) -> Path:
        return self.cache_dir / f"digit-cnn-{name}-{ARCH}-e{self.epochs}-n{self.n_max}-s{self.seed}.dlpt"

    def _run(self) -> None:
        try:
            self.state = "loading"
            x, y, name = load_training_data(self.source, self.data_dir, self.n_max)
            path = self._cache_path(name)
            with engine():
                dl.manual_seed(self.seed)  # the same weights whatever else used the generator before
                model = build_cnn()
            if path.exists():
                saved = dl.load(path)
                with engine():
                    model.load_state_dict(saved["state_dict"])
                self.meta = dict(saved["meta"], cached=True)
            else:
                self.state = "training"
                self.meta = {"source": name, "images": int(len(x)), "epochs": self.epochs}
                self._train(model, x, y)
                if self._stop.is_set():
                    self.state = "stopped"
                    return
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                dl.save({"state_dict": model.state_dict(), "meta": self.meta}, path)
                self.meta["cached"] = False
            model.eval()
            self.model = model
            self.progress = 1.0
            self.state = "ready"
        except Exception as e:  # shown on the page; the server keeps running
            self.state, self.message = "error", f"{type(e).__name__}: {e}"

    def _train(self, model: dl.nn.Sequential, x: np.ndarray, y: np.ndarray) -> None:
        rng = np.random.default_rng(self.seed)
        n_val = max(1, len(x) // 10)
        perm = rng.permutation(len(x))
        val, tr = perm[:n_val], perm[n_val:]
        with engine() as box:
            dl.manual_seed(self.seed + 1)
            opt = dl.optim.Adam(model.parameters(), lr=2e-3)
        rng_state, batch = box["rng"], 32 if len(tr) < 5000 else 64  # a small set: more, smaller steps
        steps = self.epochs * ((len(tr) + batch - 1) // batch)
        done, t0 = 0, time.perf_counter()
        for _ in range(self.epochs):
            order = rng.permutation(tr)
            for i in range(0, len(order), batch):
                if self._stop.is_set():
                    return
                idx = order[i : i + batch]
                with engine(rng_state) as box:  # one batch per hold: the other views stay responsive
                    loss = dl.nn.functional.cross_entropy(model(dl.from_numpy(x[idx])), dl.from_numpy(y[idx]))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                rng_state = box["rng"]
                done += 1
                self.progress = done / steps
        with engine(), dl.no_grad():
            model.eval()
            pred = np.concatenate([model(dl.from_numpy(x[val[i : i + 500]])).array.argmax(1) for i in range(0, n_val, 500)])
        self.meta.update(val_accuracy=round(float((pred == y[val]).mean()), 4),
                         train_seconds=round(time.perf_counter() - t0, 1))

    def predict(self, pixels: Any) -> dict[str, Any]:
        if self.model is None:
            raise BadRequest(f"the digit model is not ready yet ({self.state}, {self.progress:.0%})")
        if not isinstance(pixels, list) or len(pixels) != SIDE * SIDE:
            raise BadRequest(f"pixels must be a list of {SIDE * SIDE} numbers in [0, 1]")
        try:
            img = np.asarray(pixels, dtype=np.float32).reshape(SIDE, SIDE)
        except (TypeError, ValueError):
            raise BadRequest("pixels must be numbers in [0, 1]") from None
        if not np.isfinite(img).all() or img.min() < 0 or img.max() > 1:
            raise BadRequest("pixels must be numbers in [0, 1]")
        norm = normalize(img)
        with engine():
            x = dl.tensor(norm[None, None], requires_grad=True)
            h = self.model[1](self.model[0](x))  # first conv + ReLU: the feature maps
            logits = self.model[2:](h)
            probs = dl.softmax(logits, 1).array[0]
            top = int(probs.argmax())
            logits[0, top].backward()
            sal = np.abs(x.grad.array[0, 0])
            maps = h.array[0]
        sal = sal / (sal.max() or 1.0)
        peak = maps.max(axis=(1, 2), keepdims=True)
        maps = maps / np.where(peak > 0, peak, 1.0)
        return {"probs": [round(float(p), 5) for p in probs], "top": top, "input": pack(norm, 0, 1),
                "maps": [pack(m, 0, 1) for m in maps], "saliency": pack(sal, 0, 1), "side": SIDE}

