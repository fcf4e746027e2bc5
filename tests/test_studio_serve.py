"""`python -m deepling.studio`: serves on 127.0.0.1 and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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


def test_serves_on_localhost_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "deepling.studio", "--port", str(port), "--cache", str(tmp_path)],
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
        t0 = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert time.time() - t0 < 15
        assert f"http://127.0.0.1:{port}/" in out
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_bad_port_is_refused():
    from deepling.studio.__main__ import main

    with pytest.raises(ValueError, match="--port"):
        main(["--port", "70000"])
