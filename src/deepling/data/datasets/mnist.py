"""MNIST and Fashion-MNIST: 28x28 grayscale images, 10 classes, 60000 train + 10000 test.

Files are looked up in ``root``, ``root/<ClassName>/raw`` (torchvision's layout) and
``root/<lowercase name>``, raw or ``.gz``. ``download=True`` fetches missing files from the public
mirrors and checks the MD5 of the decompressed bytes before keeping them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np

from deepling.data.dataset import ImageLabelDataset
from deepling.data.datasets.idx import IMAGES_MAGIC, LABELS_MAGIC, IDXError, parse_idx, read_idx
from deepling.data.download import fetch as _fetch  # module-level: tests replace it
from deepling.data.location import dataset_dir

__all__ = ["MNIST", "FashionMNIST"]


class MNIST(ImageLabelDataset):
    """Handwritten digits 0-9 (LeCun, Cortes, Burges).

    Args: ``root`` (directory holding the IDX files; default ``dataset_dir('mnist')``, see
    ``deepling.data.location``),
    ``train`` (60000 training or 10000 test images), ``transform`` (applied to the ``(28, 28)``
    uint8 image array), ``target_transform``, ``download`` (fetch missing files).
    Attributes: ``data`` uint8 ``(N, 28, 28)``, ``targets`` int64 ``(N,)`` (NumPy arrays), ``classes``.
    Item: ``(image, label)``; with no transform, the image is the uint8 ``(28, 28)`` array.
    """

    dataset_name = "mnist"  # its name in deepling.data.location (the default root)
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/"]  # https only
    # MD5 of each decompressed file (what we verify) and of the published .gz (what the mirrors serve)
    resources = {
        "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", "d53e105ee54ea40749a09fcbcd1e9432"),
        "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", "9fb629c4189551a2d022fa330f9573f3"),
        "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", "ec29112dd5afa0611ce80d1b7f02629c"),
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        self.root = Path(root) if root is not None else dataset_dir(self.dataset_name)
        self.train = train
        self.transform, self.target_transform = transform, target_transform
        prefix = "train" if train else "t10k"
        names = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
        paths = [self._find(n) for n in names]
        if any(p is None for p in paths):
            if not download:
                raise FileNotFoundError(self._missing_message([n for n, p in zip(names, paths) if p is None], download=False))
            paths = [p if p is not None else self._download(n) for n, p in zip(names, paths)]
        self.data = read_idx(paths[0], IMAGES_MAGIC)
        self.targets = read_idx(paths[1], LABELS_MAGIC).astype(np.int64)
        if self.data.ndim != 3 or self.targets.ndim != 1 or len(self.data) != len(self.targets):
            raise IDXError(f"{type(self).__name__}: images {self.data.shape} and labels {self.targets.shape} do not match")

    # ------------------------------------------------------------------ files
    def _search_dirs(self) -> list[Path]:
        name = type(self).__name__
        return [self.root, self.root / name / "raw", self.root / name.lower()]

    def _download_dir(self) -> Path:
        """Where ``download=True`` writes the files (``root`` itself; torchvision's layout in ``deepling.vision``)."""
        return self.root

    def _find(self, name: str) -> Path | None:
        for d in self._search_dirs():
            for candidate in (d / name, d / (name + ".gz")):
                if candidate.is_file():
                    return candidate
        return None

    def _missing_message(self, names: list[str], download: bool, detail: str = "") -> str:
        cls = type(self).__name__
        files = ", ".join(n + ".gz" for n in names)
        where = f"Put the files (raw or .gz) in {self.root} (or {self.root / cls / 'raw'})"
        if download:  # it was tried: asking for it again would not help
            return f"{cls}: could not download {files}{detail}. {where}, or try again when online"
        return f"{cls}: missing {files}. {where}, or pass download=True to fetch them from {self.mirrors[0]}"

    def _download(self, name: str) -> Path:
        raw_md5, gz_md5 = self.resources[name]
        errors = []
        for mirror in self.mirrors:
            url = mirror + name + ".gz"
            try:
                blob = _fetch(url)
            except Exception as e:  # noqa: BLE001  (any network failure: try the next mirror)
                errors.append(f"{url}: {e}")
                continue
            try:
                raw = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
            except (OSError, EOFError) as e:
                errors.append(f"{url}: bad gzip data ({e})")
                continue
            ok = hashlib.md5(raw).hexdigest() == raw_md5 if raw_md5 else hashlib.md5(blob).hexdigest() == gz_md5
            if not ok:
                errors.append(f"{url}: checksum mismatch")
                continue
            parse_idx(raw, url)  # structure check before anything is written
            folder = self._download_dir()
            folder.mkdir(parents=True, exist_ok=True)
            dest = folder / (name + ".gz")
            tmp = dest.with_suffix(".gz.part")
            try:
                tmp.write_bytes(blob if blob[:2] == b"\x1f\x8b" else gzip.compress(raw, mtime=0))
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)  # a failed write leaves no partial file
            return dest
        raise RuntimeError(self._missing_message([name], download=True, detail=" (" + "; ".join(errors) + ")"))

    def check_integrity(self) -> bool:
        """True when the files found have the published MD5 of their decompressed bytes."""
        for name, (raw_md5, _) in self.resources.items():
            path = self._find(name)
            if path is None:
                return False
            if raw_md5:
                blob = path.read_bytes()
                raw = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
                if hashlib.md5(raw).hexdigest() != raw_md5:
                    return False
        return True



class FashionMNIST(MNIST):
    """Zalando's article images (Xiao, Rasul, Vollgraf 2017): MNIST's format, 10 clothing classes.

    The decompressed MD5s were not pinned, so a download is checked against the published MD5 of
    the ``.gz`` files (served unchanged by the official mirror) and then parsed as IDX.
    """

    dataset_name = "fashion-mnist"
    mirrors = ["https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"]  # https only
    resources = {
        "train-images-idx3-ubyte": ("", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte": ("", "25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte": ("", "bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte": ("", "bb300cfdad3c16e7a12a480ee83cd310"),
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
