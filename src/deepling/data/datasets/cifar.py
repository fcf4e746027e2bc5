"""CIFAR-10 (Krizhevsky 2009): 32x32 colour images in 10 classes, 50000 train + 10000 test.

Read from the official *binary* version (no pickle): each record is 3073 bytes, one label byte then
1024 red, 1024 green and 1024 blue bytes (each plane 32x32, row-major). Files ``data_batch_1.bin`` ..
``data_batch_5.bin`` and ``test_batch.bin`` (raw or ``.gz``) are looked up in ``root`` and
``root/cifar-10-batches-bin``. A directory holding only partial batches named like
``data_batch_1_first4000.bin.gz`` / ``test_batch_first1000.bin.gz`` (the shared subset) also works.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import Callable

import numpy as np

from deepling.data.dataset import ImageLabelDataset
from deepling.data.download import fetch as _fetch  # module-level: tests replace it
from deepling.data.location import dataset_dir

__all__ = ["CIFAR10", "CIFARError", "read_cifar_batch"]

RECORD = 3073  # 1 label byte + 3 * 32 * 32 pixel bytes
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
ARCHIVE_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
FOLDER = "cifar-10-batches-bin"


class CIFARError(ValueError):
    """A CIFAR file that is truncated, corrupt or not in the binary record format."""


def read_cifar_batch(path: str | os.PathLike, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Parse one binary batch file (raw or gzipped) into images uint8 (N, 32, 32, 3) and labels int64 (N,)."""
    blob = Path(path).read_bytes()
    if blob[:2] == b"\x1f\x8b":
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError) as e:
            raise CIFARError(f"CIFAR10: {path} is not valid gzip data ({e})") from None
    if len(blob) == 0 or len(blob) % RECORD:
        raise CIFARError(
            f"CIFAR10: {path} has {len(blob)} bytes, not a whole number of {RECORD}-byte records "
            "(truncated or not a CIFAR-10 binary batch)"
        )
    records = np.frombuffer(blob, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= num_classes:
        raise CIFARError(f"CIFAR10: {path} has label {int(labels.max())}, expected 0..{num_classes - 1}")
    # Planes are stored channel-first (R, G, B); keep torchvision's (N, H, W, C) layout.
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


class CIFAR10(ImageLabelDataset):
    """CIFAR-10 from the binary batches.

    Args: ``root`` (directory with the ``.bin`` files or the extracted ``cifar-10-batches-bin``; default
    ``dataset_dir('cifar10')``, see ``deepling.data.location``),
    ``train`` (training batches or the test batch), ``transform`` (applied to the uint8 (32, 32, 3)
    image), ``target_transform``, ``download`` (fetch and check the official archive when files are
    missing). Attributes: ``data`` uint8 (N, 32, 32, 3), ``targets`` int64 (N,), ``classes``.
    """

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        if root is None:
            root = dataset_dir("cifar10")
        self.root, self.train = Path(root), train
        self.transform, self.target_transform = transform, target_transform
        files = self._find_files()
        if not files:
            if not download:
                raise FileNotFoundError(self._missing_message())
            self._download()
            files = self._find_files()
        parts = [read_cifar_batch(f) for f in files]
        self.data = np.concatenate([p[0] for p in parts])
        self.targets = np.concatenate([p[1] for p in parts])
        self.files = files
        meta = self._meta_file()
        if meta is not None:
            names = [line.strip() for line in meta.read_text().splitlines() if line.strip()]
            if len(names) == 10:
                self.classes = names

    # ------------------------------------------------------------------ files
    def _dirs(self) -> list[Path]:
        return [self.root, self.root / FOLDER]

    def _find_files(self) -> list[Path]:
        """The official batches if present, else partial batches (``<name>_*.bin[.gz]``) in one directory."""
        names = self.train_list if self.train else self.test_list
        for d in self._dirs():
            found = []
            for name in names:
                for candidate in (d / name, d / (name + ".gz")):
                    if candidate.is_file():
                        found.append(candidate)
                        break
            if found:
                return found
        for d in self._dirs():
            partial = sorted(p for name in names for p in d.glob(name[: -len(".bin")] + "_*.bin*")
                             if p.name.endswith((".bin", ".bin.gz")))
            if partial:
                return partial
        return []

    def _meta_file(self) -> Path | None:
        for d in self._dirs():
            if (d / "batches.meta.txt").is_file():
                return d / "batches.meta.txt"
        return None

    def _missing_message(self, detail: str = "") -> str:
        names = ", ".join(self.train_list if self.train else self.test_list)
        return (f"CIFAR10: no {'training' if self.train else 'test'} batches ({names}, raw or .gz) in {self.root} "
                f"or {self.root / FOLDER}{detail}. Extract {URL} there, or pass download=True.")

    def _download(self) -> None:
        """Fetch the archive, check its MD5, and extract only the expected regular files (atomically)."""
        try:
            blob = _fetch(URL)
        except Exception as e:  # noqa: BLE001  (offline, DNS, HTTP errors: one clear message)
            raise RuntimeError(self._missing_message(f" (download failed, are you offline? {e})")) from None
        if hashlib.md5(blob).hexdigest() != ARCHIVE_MD5:
            raise RuntimeError(f"CIFAR10: checksum mismatch for {URL}: the download is corrupt or incomplete")
        wanted = {f"{FOLDER}/{n}" for n in self.train_list + self.test_list} | {f"{FOLDER}/batches.meta.txt"}
        dest = self.root / FOLDER
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            for member in tar.getmembers():
                if member.name not in wanted or not member.isfile():
                    continue  # never follow links or write outside dest
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                target = dest / Path(member.name).name
                tmp = target.with_name(target.name + ".part")
                tmp.write_bytes(data)
                os.replace(tmp, target)


    def __repr__(self) -> str:
        return f"Dataset CIFAR10\n    Number of datapoints: {len(self)}\n    Root location: {self.root}\n    Split: {'Train' if self.train else 'Test'}"
