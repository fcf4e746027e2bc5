"""Time of one optimizer ``step()`` on a ~1M-parameter model, deepling next to PyTorch in one run.

Run from the repository root:  ``python -m benchmarks.optim_step [--repeats 50] [--size 1024]``

The model is ``Linear(size, size)`` (1024: 1,049,600 float32 parameters) with fixed random
gradients; each optimizer takes a few warm-up steps, then the steps of both frameworks are timed
alternately and the medians are reported with their ratio. PyTorch runs with as many threads as
the BLAS NumPy uses (as a training script would), and again with one thread, since NumPy's
elementwise ufuncs (all an optimizer step uses) run on one thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

import deepling as dl  # noqa: E402
import deepling.optim as optim  # noqa: E402

CONFIGS = [
    ("SGD momentum=0.9", optim.SGD, torch.optim.SGD, dict(lr=0.01, momentum=0.9)),
    ("SGD momentum+nesterov+wd", optim.SGD, torch.optim.SGD, dict(lr=0.01, momentum=0.9, nesterov=True,
                                                                  weight_decay=1e-4)),
    ("Adam", optim.Adam, torch.optim.Adam, dict(lr=1e-3)),
    ("AdamW", optim.AdamW, torch.optim.AdamW, dict(lr=1e-3)),
    ("RMSprop", optim.RMSprop, torch.optim.RMSprop, dict(lr=1e-3)),
    ("Adagrad", optim.Adagrad, torch.optim.Adagrad, dict(lr=1e-2)),
]


def _blas() -> tuple[str, int]:
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            desc = f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture')})"
            return desc, int(info.get("num_threads", 1))
    return "unknown", 1


def _models(size: int, seed: int = 0) -> tuple[dl.nn.Module, torch.nn.Module]:
    model = dl.nn.Linear(size, size)
    tmodel = torch.nn.Linear(size, size)
    tmodel.load_state_dict({k: torch.tensor(v.array) for k, v in model.state_dict().items()})
    rng = np.random.default_rng(seed)
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        g = rng.standard_normal(p.shape).astype(np.float32)
        p.grad = dl.tensor(g)
        tp.grad = torch.tensor(g)
    return model, tmodel


def _time(step, repeats: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        step()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--size", type=int, default=1024)
    args = ap.parse_args(argv)
    blas, threads = _blas()
    torch.set_num_threads(threads)
    model, _ = _models(args.size)
    n = sum(p.numel() for p in model.parameters())
    print(f"optimizer step() on Linear({args.size}, {args.size}): {n:,} float32 parameters")
    print(f"numpy {np.__version__}, BLAS {blas}, threads {threads}; torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}; median of {args.repeats} steps")
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    tn = f"torch {threads}T ms"
    print(f"| {'optimizer':<26} | {'deepling ms':>11} | {tn:>12} | {'ratio':>6} | {'torch 1T ms':>11} | {'ratio':>6} |")
    print(f"|{'-' * 28}|{'-' * 13}|{'-' * 14}|{'-' * 8}|{'-' * 13}|{'-' * 8}|")
    for name, dl_cls, t_cls, opts in CONFIGS:
        model, tmodel = _models(args.size)
        dopt, topt = dl_cls(model.parameters(), **opts), t_cls(tmodel.parameters(), **opts)
        times: dict[str, list[float]] = {"dl": [], "tN": [], "t1": []}
        for _ in range(5):  # alternate blocks so that machine load hits all alike
            times["dl"] += _time(dopt.step, args.repeats // 5)
            torch.set_num_threads(threads)
            times["tN"] += _time(topt.step, args.repeats // 5)
            torch.set_num_threads(1)
            times["t1"] += _time(topt.step, args.repeats // 5)
        d, tn_ms, t1 = (statistics.median(times[k]) for k in ("dl", "tN", "t1"))
        print(f"| {name:<26} | {d:>11.3f} | {tn_ms:>12.3f} | {d / tn_ms:>5.2f}x | {t1:>11.3f} | {d / t1:>5.2f}x |")
    print("ratio = deepling / torch (below 1: deepling is faster)")


if __name__ == "__main__":
    main()
