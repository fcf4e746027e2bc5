"""Engine speed next to PyTorch, in one run: a raw-ops MLP step and per-op overhead on tiny tensors.

Run from the repository root (never from the tests)::

    python -m benchmarks.engine [--repeats 21] [--mlp-steps 10] [--op-calls 2000] [--threads N] [--clock wall|cpu]

PyTorch gets as many threads as NumPy's BLAS uses, and the BLAS kernel in use is printed
(threadpoolctl). Times are medians; ratios are deepling / PyTorch (lower is better for deepling).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this checkout's deepling

import torch  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import deepling as dl  # noqa: E402


def _blas() -> tuple[int, str]:
    """Threads and a description of the BLAS that NumPy calls."""
    for info in threadpool_info():
        if info.get("user_api") == "blas" and "numpy" in info.get("filepath", ""):
            desc = f"{info['internal_api']} {info.get('version')} ({info.get('architecture')}, {info['num_threads']} threads)"
            return int(info["num_threads"]), desc
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if blas:
        return int(blas[0]["num_threads"]), f"{blas[0]['internal_api']} ({blas[0].get('architecture')})"
    return 1, "unknown"


# perf_counter (wall) by default; process_time (CPU time of this process, all its threads) is
# steadier on a machine shared with other jobs.
_clock: Callable[[], float] = time.perf_counter


def _median_us(fn: Callable[[], Any], inner: int, repeats: int) -> float:
    """Median over ``repeats`` of the mean time of ``inner`` calls, in microseconds."""
    for _ in range(max(1, inner // 10)):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = _clock()
        for _ in range(inner):
            fn()
        samples.append((_clock() - t0) / inner * 1e6)
    return statistics.median(samples)


# ---------------------------------------------------------------------------- (a) MLP step
def _mlp_params(lib: Any, sizes: list[int], rng: np.random.Generator) -> list[Any]:
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        b = np.zeros(n_out, dtype=np.float32)
        params += [lib.tensor(w, requires_grad=True), lib.tensor(b, requires_grad=True)]
    return params


def _mlp_step(lib: Any, x: Any, y: Any, params: list[Any]) -> Any:
    """Forward + backward of a ReLU MLP with a logsumexp cross-entropy, written with raw ops."""
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n_layers - 1:
            h = h.relu()
    loss = (h.logsumexp(1) - h.gather(1, y).squeeze(1)).mean()
    for p in params:
        p.grad = None
    loss.backward()
    return loss


def bench_mlp(batch: int, sizes: list[int], steps: int, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], (batch, 1))
    out = {}
    for name, lib in (("torch", torch), ("deepling", dl)):
        params = _mlp_params(lib, sizes, np.random.default_rng(1))
        xt, yt = lib.tensor(x), lib.tensor(y)
        step = lambda lib=lib, xt=xt, yt=yt, params=params: _mlp_step(lib, xt, yt, params)  # noqa: E731
        out[name] = _median_us(step, steps, repeats) / 1000  # ms
    # same weights, same loss: a check that the two runs did the same work
    lt = _mlp_step(torch, torch.tensor(x), torch.tensor(y), _mlp_params(torch, sizes, np.random.default_rng(1)))
    ld = _mlp_step(dl, dl.tensor(x), dl.tensor(y), _mlp_params(dl, sizes, np.random.default_rng(1)))
    assert abs(lt.item() - ld.item()) < 1e-4 * max(1.0, abs(lt.item())), (lt.item(), ld.item())
    return out


# ---------------------------------------------------------------------------- (b) per-op overhead
OPS: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "matmul": lambda a, b: a @ b,
    "sum": lambda a, b: a.sum(),
    "relu": lambda a, b: a.relu(),
    "exp": lambda a, b: a.exp(),
    "add scalar": lambda a, b: a + 1.0,
    "getitem": lambda a, b: a[1:3],
    "reshape": lambda a, b: a.reshape(16),
}


def bench_ops(shape: tuple[int, ...], inner: int, repeats: int) -> list[tuple[str, str, float, float]]:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    rows = []
    for op_name, op in OPS.items():
        for mode in ("forward", "forward+backward"):
            times = {}
            for name, lib in (("torch", torch), ("deepling", dl)):
                ta, tb = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
                g = lib.ones_like(op(ta, tb))
                if mode == "forward":
                    fn = lambda op=op, ta=ta, tb=tb: op(ta, tb)  # noqa: E731
                else:
                    fn = lambda op=op, ta=ta, tb=tb, g=g: op(ta, tb).backward(g)  # noqa: E731
                times[name] = _median_us(fn, inner, repeats)
            rows.append((op_name, mode, times["deepling"], times["torch"]))
    # grad mode off: what an op costs when no graph is recorded
    for op_name in ("add", "matmul"):
        times = {}
        for name, lib in (("torch", torch), ("deepling", dl)):
            ta, tb = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)

            def fn(lib=lib, ta=ta, tb=tb, op=OPS[op_name]):
                with lib.no_grad():
                    return op(ta, tb)

            times[name] = _median_us(fn, inner, repeats)
        rows.append((op_name, "no_grad forward", times["deepling"], times["torch"]))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21, help="timed repetitions (the median is reported)")
    parser.add_argument("--mlp-steps", type=int, default=10, help="MLP steps per repetition")
    parser.add_argument("--op-calls", type=int, default=2000, help="op calls per repetition")
    parser.add_argument("--threads", type=int, default=None, help="BLAS and torch threads (default: NumPy's BLAS setting)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or CPU time of this process (steadier on a busy machine)")
    args = parser.parse_args(argv)
    global _clock
    _clock = time.process_time if args.clock == "cpu" else time.perf_counter

    if args.threads is not None:
        threadpool_limits(args.threads, user_api="blas")
    threads, blas = _blas()
    torch.set_num_threads(threads)
    print(f"numpy {np.__version__}, BLAS: {blas}; torch {torch.__version__} with {torch.get_num_threads()} threads")
    print(f"clock: {args.clock}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    sizes = [256, 256, 256, 10]
    mlp = bench_mlp(64, sizes, args.mlp_steps, args.repeats)
    print(f"\n(a) MLP {'-'.join(map(str, sizes))} on a 64x{sizes[0]} batch, forward+backward (median ms)\n")
    print("| step | deepling ms | torch ms | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| MLP fwd+bwd | {mlp['deepling']:.3f} | {mlp['torch']:.3f} | {mlp['deepling'] / mlp['torch']:.2f}x |")

    print("\n(b) per-op overhead on (4, 4) float32 tensors that require grad (median us per call)\n")
    print("| op | mode | deepling us | torch us | ratio |")
    print("|---|---|---:|---:|---:|")
    for op_name, mode, d, t in bench_ops((4, 4), args.op_calls, args.repeats):
        print(f"| {op_name} | {mode} | {d:.2f} | {t:.2f} | {d / t:.2f}x |")


if __name__ == "__main__":
    main()
