"""Saving under faults: clear messages naming the user's path, no debris, stale temporaries cleaned."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import deepling as dl

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_saving_into_a_missing_folder_names_that_folder(tmp_path):
    target = tmp_path / "missing" / "m.ckpt"
    with pytest.raises(FileNotFoundError, match=r"save: cannot write .*m\.ckpt: the folder .*missing does not exist"):
        dl.save({"w": dl.ones(2)}, target)
    assert not (tmp_path / "missing").exists()


def test_a_failing_save_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "m.ckpt"
    dl.save({"w": dl.ones(2)}, target)
    with pytest.raises(TypeError):
        dl.save({"w": object()}, target)
    assert dl.load(target)["w"].tolist() == [1.0, 1.0]
    assert sorted(os.listdir(tmp_path)) == ["m.ckpt"]


def test_temporaries_of_a_killed_writer_are_cleaned_by_the_next_save(tmp_path):
    target = tmp_path / "big.ckpt"
    # a writer that is killed in the middle of writing (SIGKILL: no cleanup runs)
    code = textwrap.dedent(f"""
        import os, signal, deepling as dl
        from deepling.serialization import fileio
        real = fileio.os.fsync
        def die(fd):
            os.kill(os.getpid(), signal.SIGKILL)
        fileio.os.fsync = die
        dl.save({{"w": dl.zeros(1000)}}, {str(target)!r})
    """)
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": SRC}, timeout=120)
        assert r.returncode == -signal.SIGKILL
    stale = [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]
    assert len(stale) == 1 and not target.exists()  # each writer removed the one killed before it
    dl.save({"w": dl.ones(3)}, target)
    assert os.listdir(tmp_path) == ["big.ckpt"]
    assert dl.load(target)["w"].tolist() == [1.0, 1.0, 1.0]


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    live = tmp_path / f".tmp-m.ckpt-{os.getppid()}-abcd"  # the parent process is alive
    live.write_bytes(b"partial")
    dl.save({"w": dl.ones(1)}, tmp_path / "m.ckpt")
    assert live.exists()
