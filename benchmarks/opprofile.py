"""Where a deepling step spends its time: per op family, BLAS vs the rest, and Python overhead.

``profile_steps(step, n, ms)`` installs timing wrappers for the duration of the run only (nothing
is installed otherwise, so the engine pays nothing when not profiling):

- every ``Function`` subclass's ``forward`` and ``backward`` (exclusive time, grouped by the module
  that defines the op: ``deepling.ops.conv`` -> ``conv``);
- the BLAS entry points the ops call through the ``numpy`` module (``np.matmul``, ``np.dot``,
  ``np.einsum``, ``np.tensordot``), charged to the op family that called them (the ``@`` operator
  is not visible and counts as that op's non-BLAS NumPy time);
- the engine's graph walk (``deepling.autograd.backward``, exclusive of the op backwards);
- the optimizer's ``step``.

What is left of the step's time is Python overhead outside the kernels: ``Module.__call__`` and
forward bodies, ``Function.apply`` dispatch, argument checks, ``zero_grad``. The wrappers add about
a microsecond per call, so the profile's total is somewhat above the unprofiled step time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any, Callable

import numpy as np

import deepling.autograd as ag

_BLAS_NAMES = ("matmul", "dot", "einsum", "tensordot")


def _all_functions() -> list[type]:
    seen, todo = [], [ag.Function]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return seen


def _family(cls: type) -> str:
    mod = cls.__module__
    if mod.startswith("deepling.ops."):
        return mod.rsplit(".", 1)[1]
    return mod.replace("deepling.", "")


class _Timer:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.excl: dict[tuple[str, str], float] = defaultdict(float)
        self.calls: dict[tuple[str, str], int] = defaultdict(int)
        self.stack: list[float] = []  # child time accumulated by each open frame
        self.families: list[str] = ["(outside ops)"]
        self.blas_depth = 0

    def wrap(self, fn: Callable, family: str | None, kind: str) -> Callable:
        timer, perf = self, self.clock

        def timed(*args: Any, **kwargs: Any) -> Any:
            blas = kind == "blas"
            if blas:
                if timer.blas_depth:  # tensordot calls dot: count the outer call only
                    return fn(*args, **kwargs)
                timer.blas_depth += 1
            fam = family or timer.families[-1]
            timer.families.append(fam)
            timer.stack.append(0.0)
            t0 = perf()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = perf() - t0
                child = timer.stack.pop()
                timer.families.pop()
                if blas:
                    timer.blas_depth -= 1
                timer.excl[(fam, kind)] += dt - child
                timer.calls[(fam, kind)] += 1
                if timer.stack:
                    timer.stack[-1] += dt

        return timed


def profile_steps(step: Callable[[], Any], n: int, unprofiled_ms: float,
                  clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Run ``step`` ``n`` times under the wrappers; returns ms per step by (family, kind)."""
    timer = _Timer(clock)
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, attr: str, family: str | None, kind: str) -> None:
        orig = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        saved.append((owner, attr, orig))
        setattr(owner, attr, timer.wrap(orig, family, kind))

    for cls in _all_functions():
        for meth in ("forward", "backward"):
            if meth in cls.__dict__:
                patch(cls, meth, _family(cls), meth)
    for name in _BLAS_NAMES:
        patch(np, name, None, "blas")
    patch(ag, "backward", "engine", "graph walk")
    opt = getattr(step, "optimizer", None)
    if opt is not None:
        patch(opt, "step", "optimizer", "step")
    try:
        step()  # warm
        timer.excl.clear()
        timer.calls.clear()
        t0 = clock()
        for _ in range(n):
            step()
        total = (clock() - t0) / n * 1e3
    finally:
        for owner, attr, orig in reversed(saved):
            if owner is opt:
                delattr(owner, attr)  # back to the class's method
            else:
                setattr(owner, attr, orig)
    parts = {f"{fam}|{kind}": v / n * 1e3 for (fam, kind), v in timer.excl.items()}
    calls = {f"{fam}|{kind}": c // n for (fam, kind), c in timer.calls.items()}
    measured = sum(parts.values())
    return {"profiled_ms": total, "unprofiled_ms": unprofiled_ms, "parts_ms": parts, "calls": calls,
            "python_overhead_ms": total - measured}


def format_profile(name: str, p: dict[str, Any]) -> str:
    """A markdown table: per op family forward / backward (non-BLAS NumPy) / BLAS ms per step."""
    fams: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for key, ms in p["parts_ms"].items():
        fam, kind = key.split("|")
        fams[fam][kind] += ms
    total = p["profiled_ms"]
    rows = sorted(fams.items(), key=lambda kv: -sum(kv[1].values()))
    blas = sum(v.get("blas", 0.0) for v in fams.values())
    lines = [f"\nprofile of deepling `{name}`: {total:.2f} ms/step profiled ({p['unprofiled_ms']:.2f} unprofiled); "
             f"BLAS {blas:.2f} ms ({100 * blas / total:.0f}%), Python overhead outside ops "
             f"{p['python_overhead_ms']:.2f} ms ({100 * p['python_overhead_ms'] / total:.0f}%)\n",
             "| op family | forward ms | backward ms | BLAS ms | other ms | share |", "|---|---:|---:|---:|---:|---:|"]
    for fam, kinds in rows:
        other = sum(v for k, v in kinds.items() if k not in ("forward", "backward", "blas"))
        s = sum(kinds.values())
        lines.append(f"| {fam} | {kinds.get('forward', 0):.2f} | {kinds.get('backward', 0):.2f} | "
                     f"{kinds.get('blas', 0):.2f} | {other:.2f} | {100 * s / total:.0f}% |")
    lines.append(f"| Python overhead (modules, apply, checks) | | | | {p['python_overhead_ms']:.2f} | "
                 f"{100 * p['python_overhead_ms'] / total:.0f}% |")
    return "\n".join(lines)
