"""The lessons view: every lesson with its claim and options, and a run in a child process.

A run goes to a fresh Python process (``python -m deepling.studio.lessons NAME``, options as JSON on
stdin) with a time limit, so a lesson never blocks the server, one request cannot start unbounded
work, and Ctrl-C (or the limit) ends it for good. Options are the keyword arguments of the lesson's
``run()``; a value must have its default's type and stay within ten times the default's size.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import math
import os
import re
import sys
import tempfile
from typing import Any

import numpy as np

from deepling.studio._engine import BadRequest, Busy, NotFound, Stopping

TIME_LIMIT = 240.0  # seconds one run may take
_STR = re.compile(r"^[A-Za-z0-9_.\-]{0,40}$")


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if isinstance(default, (tuple, list)) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in default):
        return "list"
    if default is None:
        return "optional-int"
    return "fixed"  # shown, not editable (an object the form cannot express)


def options(name: str) -> list[dict[str, Any]]:
    from deepling import lessons

    sig = inspect.signature(lessons.load(name).run)
    out = []
    for p in sig.parameters.values():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) or p.default is p.empty:
            continue
        d = p.default
        out.append({"name": p.name, "kind": _kind(d), "default": list(d) if isinstance(d, tuple) else d})
    return out


_CATALOG: list[dict[str, Any]] | None = None


def catalog() -> list[dict[str, Any]]:
    """Every available lesson: name, claim (its first sentence), the rest of its docstring, options."""
    global _CATALOG
    if _CATALOG is None:
        from deepling import lessons

        items = []
        for name in lessons.available():
            doc = inspect.getdoc(lessons.load(name)) or ""
            items.append({"name": name, "claim": lessons.summary(name), "doc": doc, "options": options(name)})
        _CATALOG = items
    return _CATALOG


def _bound(v: float, default: float, name: str) -> None:
    limit = max(10 * abs(default), 10)
    if not math.isfinite(v) or abs(v) > limit:
        raise BadRequest(f"option {name}: {v!r} is outside what the studio runs (|value| <= {limit:g})")


def validate(name: str, raw: Any) -> dict[str, Any]:
    """The options to pass to ``run()``: names checked, types matched to the defaults, sizes bounded."""
    entry = next((e for e in catalog() if e["name"] == name), None)
    if entry is None:
        raise NotFound(f"unknown lesson {name!r}")
    if not isinstance(raw, dict):
        raise BadRequest("options must be an object")
    spec = {o["name"]: o for o in entry["options"]}
    out: dict[str, Any] = {}
    for key, v in raw.items():
        o = spec.get(key)
        if o is None:
            raise BadRequest(f"lesson {name} has no option {key!r} (it has: {', '.join(spec) or 'none'})")
        kind, d = o["kind"], o["default"]
        if kind == "fixed":
            raise BadRequest(f"option {key} cannot be set from the page")
        if kind == "bool":
            if not isinstance(v, bool):
                raise BadRequest(f"option {key} must be true or false")
        elif kind in ("int", "optional-int"):
            if v is None and kind == "optional-int":
                pass
            elif isinstance(v, bool) or not isinstance(v, int):
                raise BadRequest(f"option {key} must be an integer, got {v!r}")
            else:
                _bound(v, d if isinstance(d, int) else 100, key)
        elif kind == "float":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise BadRequest(f"option {key} must be a number, got {v!r}")
            _bound(float(v), d, key)
            v = float(v)
        elif kind == "str":
            if not isinstance(v, str) or not _STR.match(v):
                raise BadRequest(f"option {key} must be a short word (letters, digits, _ . -)")
        elif kind == "list":
            if not isinstance(v, list) or not 1 <= len(v) <= 16 or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v):
                raise BadRequest(f"option {key} must be a list of 1 to 16 numbers")
            ints = all(isinstance(x, int) for x in d)
            if ints and not all(isinstance(x, int) for x in v):
                raise BadRequest(f"option {key} must be a list of integers")
            top = max((abs(x) for x in d), default=1)
            for x in v:
                _bound(float(x), top, key)
            v = tuple(v)
        out[key] = v
    return out


# --------------------------------------------------------------------------- results to JSON

def _jsonable(v: Any, depth: int = 0) -> Any:
    if isinstance(v, (bool, str)) or v is None:
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else str(f)
    if isinstance(v, np.ndarray):
        if v.size > 200:
            return {"array": list(v.shape), "mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}
        return _jsonable(v.tolist(), depth)
    if hasattr(v, "array") and isinstance(v.array, np.ndarray):
        return _jsonable(v.array, depth)
    if depth > 4:
        return repr(v)[:80]
    if isinstance(v, (list, tuple)):
        items = [_jsonable(x, depth + 1) for x in v[:200]]
        return items + (["..."] if len(v) > 200 else [])
    if isinstance(v, dict):
        return {str(k): _jsonable(x, depth + 1) for k, x in list(v.items())[:200]}
    return repr(v)[:80]


def _verdict(module: Any, result: dict[str, Any]) -> Any:
    if "verdict" in result:
        return _jsonable(result["verdict"])
    fn = getattr(module, "verdict", None)
    if callable(fn):
        return _jsonable(fn(result))
    return None


def _child(name: str) -> None:
    """The child process: read options from stdin, run, plot, print one JSON line."""
    from deepling import lessons

    opts = json.loads(sys.stdin.read() or "{}")
    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()}
    module = lessons.load(name)
    result = module.run(**opts)
    figure = None
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "figure.png")
        try:
            lessons.plot(name, result, path)
            with open(path, "rb") as f:
                figure = "data:image/png;base64," + base64.b64encode(f.read()).decode("ascii")
        except Exception as e:  # a figure is a bonus; the numbers still count
            figure = None
            sys.stderr.write(f"figure failed: {type(e).__name__}: {e}\n")
    numbers = {k: _jsonable(v) for k, v in result.items() if not k.startswith("_") and k != "verdict"}
    print(json.dumps({"numbers": numbers, "verdict": _verdict(module, result), "figure": figure}))


class LessonRunner:
    """Runs one lesson at a time in a child process; ``stop()`` kills a run in progress."""

    def __init__(self, time_limit: float = TIME_LIMIT) -> None:
        self.time_limit = time_limit
        self._proc: asyncio.subprocess.Process | None = None
        self._lock: asyncio.Lock | None = None

    async def run(self, name: str, raw_options: Any) -> dict[str, Any]:
        opts = validate(name, raw_options)
        if self._lock is None:
            self._lock = asyncio.Lock()
        if self._lock.locked():
            raise Busy("another lesson is running; wait for it to finish")
        async with self._lock:
            # the child imports the same deepling as this process
            src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p))
            self._proc = proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "deepling.studio.lessons", name, env=env,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            sent = json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()}).encode()
            try:
                out, err = await asyncio.wait_for(proc.communicate(sent), self.time_limit)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise BadRequest(f"lesson {name} took longer than {self.time_limit:g} s and was stopped; "
                                 "try smaller options") from None
            except asyncio.CancelledError:  # the server is stopping (Ctrl-C): answer, do not crash
                raise Stopping(f"the studio is stopping; lesson {name} was not finished") from None
            finally:
                if proc.returncode is None:  # cancelled (the server is stopping): the child goes too
                    proc.kill()
                self._proc = None
        if proc.returncode != 0:
            last = (err.decode(errors="replace").strip().splitlines() or ["it exited with an error"])[-1]
            raise BadRequest(f"lesson {name} failed: {last[:300]}")
        lines = out.decode().strip().splitlines()
        payload = json.loads(lines[-1])
        payload.update(name=name, options={k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()})
        return payload

    def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()


if __name__ == "__main__":  # the child process
    _child(sys.argv[1])
