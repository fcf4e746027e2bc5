"""`deepling studio` (here `python -m deepling studio`): serves on 127.0.0.1 and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from studio_browser import free_port  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=2) as r:  # 127.0.0.1 only: no network
        return json.loads(r.read())


def _post(url: str, body: dict) -> None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=60).read()
    except OSError:
        pass  # the server stops under it: that is the point


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _children(pid: int, wait_for: int, timeout: float = 30) -> list[int]:
    """Child processes of ``pid`` (Linux /proc), once there are ``wait_for`` of them."""
    deadline = time.time() + timeout
    while True:
        kids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(stat.parent.name))
        if len(kids) >= wait_for or time.time() > deadline:
            return kids
        time.sleep(0.1)


def test_serves_on_localhost_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "deepling", "studio", "--port", str(port), "--cache", str(tmp_path)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                assert _get(f"http://127.0.0.1:{port}/api/health") == {"ok": True}
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        _get(f"http://127.0.0.1:{port}/api/digits/status")  # the digit model is training in the background
        # a long lesson in flight: Ctrl-C must not wait for it, and must not leave its process behind
        lesson = threading.Thread(target=_post, args=(f"http://127.0.0.1:{port}/api/lessons/run",
                                                      {"name": "rnn_vs_lstm_memory"}), daemon=True)
        lesson.start()
        children = _children(proc.pid, wait_for=1)
        t0 = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert time.time() - t0 < 15
        time.sleep(0.5)
        assert children and not any(os.path.exists(f"/proc/{c}") and _state(c) != "Z" for c in children)
        assert f"http://127.0.0.1:{port}/" in out
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_cli_documents_the_command_and_refuses_a_bad_port(capsys):
    from deepling.cli import main

    with pytest.raises(SystemExit):
        main(["studio", "--help"])
    out = capsys.readouterr().out
    assert "--port" in out and "--host" in out and "127.0.0.1" in out
    assert main(["studio", "--port", "70000"]) == 1
    assert "deepling studio: error: --port must be in 1..65535" in capsys.readouterr().err
