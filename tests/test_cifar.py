"""CIFAR10 binary reader on small files the tests write (no network, no shared data needed)."""

import gzip
import hashlib
import io
import tarfile

import numpy as np
import pytest

from deepling.data.datasets import cifar
from deepling.data.datasets.cifar import CIFAR10, CIFARError, read_cifar_batch


def _records(n, seed):
    """n random CIFAR records: label byte, then R, G, B planes of 32x32."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    planes = rng.integers(0, 256, (n, 3, 32, 32)).astype(np.uint8)
    blob = np.concatenate([labels[:, None], planes.reshape(n, -1)], axis=1).tobytes()
    return blob, labels, planes


def test_reads_train_and_test_batches_in_hwc_layout(tmp_path):
    want = []
    for i in range(1, 6):
        blob, labels, planes = _records(3, i)
        (tmp_path / f"data_batch_{i}.bin").write_bytes(blob)
        want.append((labels, planes))
    blob, tlabels, tplanes = _records(4, 9)
    (tmp_path / "test_batch.bin").write_bytes(gzip.compress(blob))
    train = CIFAR10(tmp_path, train=True)
    assert len(train) == 15 and train.data.shape == (15, 32, 32, 3) and train.data.dtype == np.uint8
    np.testing.assert_array_equal(train.targets, np.concatenate([w[0] for w in want]))
    # Pixel (h, w) of channel c is plane c at (h, w): the HWC image is the transposed planes.
    np.testing.assert_array_equal(train.data[3], want[1][1][0].transpose(1, 2, 0))
    img, label = train[3]
    assert label == int(want[1][0][0]) and img.shape == (32, 32, 3)
    test = CIFAR10(tmp_path, train=False)  # a gzipped file under the .bin name is detected by its magic
    np.testing.assert_array_equal(test.targets, tlabels)
    np.testing.assert_array_equal(test.data, tplanes.transpose(0, 2, 3, 1))
    assert test.classes[0] == "airplane" and test.classes[9] == "truck"


def test_gz_files_extracted_folder_meta_and_transform(tmp_path):
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    blob, labels, planes = _records(5, 1)
    (d / "test_batch.bin.gz").write_bytes(gzip.compress(blob))
    (d / "batches.meta.txt").write_text("\n".join(f"class{i}" for i in range(10)) + "\n\n")
    ds = CIFAR10(tmp_path, train=False, transform=lambda a: a.astype(np.float32) / 255, target_transform=lambda t: -t)
    img, t = ds[2]
    assert img.dtype == np.float32 and img.max() <= 1.0 and t == -int(labels[2])
    assert ds.classes == [f"class{i}" for i in range(10)]
    assert ds._batch_fetcher() is None
    plain = CIFAR10(tmp_path, train=False)
    x, y = plain._batch_fetcher()(np.array([4, 0]))
    np.testing.assert_array_equal(y.array, labels[[4, 0]])
    assert x.shape == (2, 32, 32, 3)


def test_partial_subset_files_like_the_shared_subset(tmp_path):
    blob, labels, _ = _records(6, 3)
    (tmp_path / "data_batch_1_first6.bin.gz").write_bytes(gzip.compress(blob))
    blob2, labels2, _ = _records(2, 4)
    (tmp_path / "test_batch_first2.bin.gz").write_bytes(gzip.compress(blob2))
    assert len(CIFAR10(tmp_path, train=True)) == 6
    np.testing.assert_array_equal(CIFAR10(tmp_path, train=False).targets, labels2)


def test_corrupt_files_are_errors(tmp_path):
    blob, _, _ = _records(2, 0)
    bad = tmp_path / "truncated.bin"
    bad.write_bytes(blob[:-5])
    with pytest.raises(CIFARError, match="not a whole number of 3073-byte records"):
        read_cifar_batch(bad)
    labels_bad = bytearray(blob)
    labels_bad[0] = 12
    bad.write_bytes(bytes(labels_bad))
    with pytest.raises(CIFARError, match="label 12"):
        read_cifar_batch(bad)
    bad.write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(CIFARError, match="not valid gzip"):
        read_cifar_batch(bad)
    bad.write_bytes(b"")
    with pytest.raises(CIFARError):
        read_cifar_batch(bad)


def test_missing_files_and_offline_download_give_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"CIFAR10: no training batches \(data_batch_1.bin"):
        CIFAR10(tmp_path)

    def offline(url, timeout=60.0):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(cifar, "_fetch", offline)
    with pytest.raises(RuntimeError, match="download failed, are you offline"):
        CIFAR10(tmp_path, download=True)
    assert not any(tmp_path.rglob("*.bin"))


def _archive(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_download_checks_md5_and_extracts_only_expected_files(tmp_path, monkeypatch):
    blob, labels, _ = _records(3, 5)
    members = {f"cifar-10-batches-bin/data_batch_{i}.bin": blob for i in range(1, 6)}
    members["cifar-10-batches-bin/test_batch.bin"] = blob
    members["../evil.bin"] = blob
    archive = _archive(members)
    monkeypatch.setattr(cifar, "_fetch", lambda url, timeout=60.0: archive)
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        CIFAR10(tmp_path / "a", download=True)
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", hashlib.md5(archive).hexdigest())
    ds = CIFAR10(tmp_path / "b", download=True)
    assert len(ds) == 15
    np.testing.assert_array_equal(ds.targets[:3], labels)
    assert not (tmp_path / "evil.bin").exists() and not list(tmp_path.rglob("*.part"))


@pytest.mark.parametrize("model", ["lenet", "resnet20"])
def test_cli_trains_cnn_models_on_cifar10_files(tmp_path, capsys, model):
    from deepling import cli

    data = tmp_path / "data"
    data.mkdir()
    blob, _, _ = _records(48, 0)
    (data / "data_batch_1.bin").write_bytes(blob)
    blob, _, _ = _records(16, 1)
    (data / "test_batch.bin").write_bytes(blob)
    out = tmp_path / "run"
    args = ["train", "--model", model, "--dataset", "cifar10", "--data-dir", str(data), "--epochs", "1",
            "--batch-size", "16", "--threads", "1", "--no-plots", "--no-progress", "--out", str(out)]
    assert cli.main(args) == 0
    stdout = capsys.readouterr().out
    assert "test accuracy:" in stdout and model in stdout
    # The checkpoint rebuilds the same architecture (with BatchNorm buffers for resnet20); the data
    # folder is the user's to name (a checkpoint never chooses where deepling reads or downloads).
    assert cli.main(["evaluate", str(out / "checkpoint.ckpt"), "--data-dir", str(data), "--out", str(tmp_path / "ev")]) == 0
    assert "test accuracy" in capsys.readouterr().out
