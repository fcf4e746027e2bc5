"""Where a deepling step spends its time: per op family, BLAS vs the rest, and Python overhead.

``profile_steps(step, n, ms)`` installs timing wrappers for the duration of the run only (nothing
is installed otherwise, so the engine pays nothing when not profiling):

- every ``Function`` subclass's ``forward`` and ``backward`` (exclusive time, grouped by the module
  that defines the op: ``deepling.ops.conv`` -> ``conv``);
- the BLAS entry points the ops call through the ``numpy`` module (``np.matmul``, ``np.dot``,
  ``np.tensordot``, and ``np.einsum`` when called with ``optimize=`` true, the only way it reaches
  BLAS; a plain einsum is NumPy's own C loop and stays in its op's time), charged to the op family
  that called them (the ``@`` operator
  is not visible and counts as that op's non-BLAS NumPy time, so the kernels call ``np.matmul``);
  the GEMM calls among them (``matmul``, ``dot``, ``tensordot``; an optimized ``einsum`` is not counted)
  also count their FLOPs from the operands' shapes (``gemm_flops``), which gives the step's GEMM
  share and the GEMMs' achieved GFLOP/s (``limit_summary``), convolutions included (their im2col
  and Winograd products are ``np.matmul`` calls);
- the engine's graph walk (``deepling.autograd.backward``, exclusive of the op backwards);
- the optimizer's ``step``.

What is left of the step's time is Python overhead outside the kernels: ``Module.__call__`` and
forward bodies, ``Function.apply`` dispatch, argument checks, ``zero_grad``. The wrappers add about
a microsecond per call, so the profile's total is somewhat above the unprofiled step time.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any, Callable

import numpy as np

import deepling.autograd as ag

_BLAS_NAMES = ("matmul", "dot", "einsum", "tensordot")
_GEMM_NAMES = ("matmul", "dot", "tensordot")  # einsum here is used for reductions, not products


def _einsum_uses_blas(args: tuple, kwargs: dict) -> bool:
    """Whether an ``np.einsum`` call can reach BLAS: only with ``optimize`` true (NumPy's default is
    False, which runs its own C loop, e.g. the row sums of the norms)."""
    return bool(kwargs.get("optimize", False))


def gemm_flops(name: str, args: tuple, kwargs: dict) -> float:
    """FLOPs (2 per multiply-add) of one ``np.matmul`` / ``np.dot`` / ``np.tensordot`` call, from shapes.

    matmul (..., M, K) @ (..., K, N): 2 * batch * M * K * N (1-D operands as PyTorch/NumPy: a row or a
    column); dot: 2 * a.size * b.size / K; tensordot: 2 * a.size * b.size / (contracted size).
    """
    a, b = np.shape(args[0]), np.shape(args[1])
    if not a or not b:
        return 0.0
    if name == "matmul":
        a2 = (1,) + a if len(a) == 1 else a
        b2 = b + (1,) if len(b) == 1 else b
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
        return 2.0 * math.prod(batch) * a2[-2] * a2[-1] * b2[-1]
    if name == "dot":
        return 2.0 * math.prod(a) * math.prod(b) / a[-1]
    axes = kwargs.get("axes", args[2] if len(args) > 2 else 2)
    if isinstance(axes, int):
        k = math.prod(a[len(a) - axes:]) if axes else 1
    else:
        ax = axes[0] if isinstance(axes[0], (list, tuple)) else [axes[0]]
        k = math.prod(a[i] for i in ax)
    return 2.0 * math.prod(a) * math.prod(b) / k


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
        self.gemm_s = 0.0  # time inside the GEMM calls (matmul, dot, tensordot)
        self.gemm_flops = 0.0
        self.gemm_calls = 0

    def wrap(self, fn: Callable, family: str | None, kind: str, name: str = "") -> Callable:
        timer, perf = self, self.clock
        gemm = name in _GEMM_NAMES

        def timed(*args: Any, **kwargs: Any) -> Any:
            if name == "einsum" and not _einsum_uses_blas(args, kwargs):
                return fn(*args, **kwargs)  # not BLAS: the calling op's own time
            blas = kind == "blas"
            if blas:
                if timer.blas_depth:  # tensordot calls dot: count the outer call only
                    return fn(*args, **kwargs)
                timer.blas_depth += 1
                if gemm:
                    timer.gemm_flops += gemm_flops(name, args, kwargs)
                    timer.gemm_calls += 1
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
                    if gemm:
                        timer.gemm_s += dt
                timer.excl[(fam, kind)] += dt - child
                timer.calls[(fam, kind)] += 1
                if timer.stack:
                    timer.stack[-1] += dt

        return timed


def count_gemm_flops(step: Callable[[], Any]) -> float:
    """GEMM FLOPs of one call of ``step``, counted from the shapes of its ``np.matmul`` / ``np.dot`` /
    ``np.tensordot`` calls (a counting wrapper, installed for this one call only)."""
    total = [0.0]
    saved = {name: getattr(np, name) for name in _GEMM_NAMES}
    depth = [0]

    def counting(name: str, fn: Callable) -> Callable:
        def counted(*args: Any, **kwargs: Any) -> Any:
            if not depth[0]:
                total[0] += gemm_flops(name, args, kwargs)
            depth[0] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                depth[0] -= 1

        return counted

    try:
        for name, fn in saved.items():
            setattr(np, name, counting(name, fn))
        step()
    finally:
        for name, fn in saved.items():
            setattr(np, name, fn)
    return total[0]


def profile_steps(step: Callable[[], Any], n: int, unprofiled_ms: float,
                  clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Run ``step`` ``n`` times under the wrappers; returns ms per step by (family, kind)."""
    timer = _Timer(clock)
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, attr: str, family: str | None, kind: str) -> None:
        orig = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        saved.append((owner, attr, orig))
        setattr(owner, attr, timer.wrap(orig, family, kind, attr if kind == "blas" else ""))

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
        timer.gemm_s = timer.gemm_flops = 0.0
        timer.gemm_calls = 0
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
    gemm_ms = timer.gemm_s / n * 1e3
    flops = timer.gemm_flops / n
    return {"profiled_ms": total, "unprofiled_ms": unprofiled_ms, "parts_ms": parts, "calls": calls,
            "python_overhead_ms": total - measured, "gemm_ms": gemm_ms, "gemm_flops": flops,
            "gemm_calls": timer.gemm_calls // n, "gemm_share": gemm_ms / total,
            "gemm_gflops": flops / (timer.gemm_s / n) / 1e9 if timer.gemm_s else 0.0}


def limit_summary(p: dict[str, Any], sgemm_gflops: float) -> dict[str, float]:
    """How far a profiled step is from the BLAS limit.

    ``gemm_share``: the fraction of the (profiled) step spent inside GEMM calls; ``gemm_fraction``: the
    GEMMs' achieved GFLOP/s (counted FLOPs / time in them) over the machine's 1024^3 sgemm rate;
    ``step_fraction``: the counted GEMM FLOPs over the unprofiled step time, over the sgemm rate (what
    the step achieves; 100% would be a step made only of GEMMs running at the 1024^3 rate).
    """
    step_gflops = p["gemm_flops"] / (p["unprofiled_ms"] / 1e3) / 1e9
    return {"gemm_share": p["gemm_share"], "gemm_gflops": p["gemm_gflops"],
            "gemm_fraction": p["gemm_gflops"] / sgemm_gflops, "step_gflops": step_gflops,
            "step_fraction": step_gflops / sgemm_gflops, "gflop_per_step": p["gemm_flops"] / 1e9}


def format_profile(name: str, p: dict[str, Any]) -> str:
    """A markdown table: per op family forward / backward (non-BLAS NumPy) / BLAS ms per step."""
    fams: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for key, ms in p["parts_ms"].items():
        fam, kind = key.split("|")
        fams[fam][kind] += ms
    total = p["profiled_ms"]
    rows = sorted(fams.items(), key=lambda kv: -sum(kv[1].values()))
    blas = sum(v.get("blas", 0.0) for v in fams.values())
    gemm = ""
    if p.get("gemm_calls"):
        gemm = (f"; GEMMs {p['gemm_ms']:.2f} ms ({100 * p['gemm_share']:.0f}%, {p['gemm_calls']} calls, "
                f"{p['gemm_flops'] / 1e9:.2f} GFLOP at {p['gemm_gflops']:.1f} GFLOP/s)")
    lines = [f"\nprofile of deepling `{name}`: {total:.2f} ms/step profiled ({p['unprofiled_ms']:.2f} unprofiled); "
             f"BLAS {blas:.2f} ms ({100 * blas / total:.0f}%){gemm}, Python overhead outside ops "
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
