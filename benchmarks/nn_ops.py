"""Forward + backward time of the fused activations and losses, deepling next to PyTorch in one run.

Run from the repository root:  ``python -m benchmarks.nn_ops [--repeats 30] [--batch 256] [--classes 1000]``

Each case builds the same float32 input for both frameworks, then times ``f(x).backward()``
(for activations, a weighted sum of the output is differentiated so that backward does real
work). Blocks of both frameworks alternate so machine load affects them alike; the medians and
their ratio are printed. Elementwise NumPy code runs on one thread, so PyTorch is pinned to one,
and times are CPU time of this process (``time.process_time``), which a busy shared machine
disturbs far less than wall time.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

import deepling as dl  # noqa: E402
import deepling.nn.functional as F  # noqa: E402


def _cases(n: int, c: int) -> list[tuple[str, Callable[..., Any], Callable[..., Any], str]]:
    """(name, torch fn, deepling fn, target kind): fn(x, target, weights) -> scalar to differentiate."""
    act = lambda tf, df: (lambda x, t, w: (tf(x) * w).sum(), lambda x, t, w: (df(x) * w).sum())  # noqa: E731
    cases = [
        ("softmax(dim=1)", *act(lambda x: TF.softmax(x, dim=1), lambda x: F.softmax(x, dim=1)), "none"),
        ("log_softmax(dim=1)", *act(lambda x: TF.log_softmax(x, dim=1), lambda x: F.log_softmax(x, dim=1)), "none"),
        ("gelu", *act(TF.gelu, F.gelu), "none"),
        ("gelu(approximate='tanh')", *act(lambda x: TF.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")), "none"),
        ("silu", *act(TF.silu, F.silu), "none"),
        ("elu", *act(TF.elu, F.elu), "none"),
        ("leaky_relu", *act(TF.leaky_relu, F.leaky_relu), "none"),
        ("softplus", *act(TF.softplus, F.softplus), "none"),
        ("mish", *act(TF.mish, F.mish), "none"),
        ("cross_entropy (indices)", lambda x, t, w: TF.cross_entropy(x, t), lambda x, t, w: F.cross_entropy(x, t), "index"),
        ("cross_entropy (smoothing 0.1)", lambda x, t, w: TF.cross_entropy(x, t, label_smoothing=0.1),
         lambda x, t, w: F.cross_entropy(x, t, label_smoothing=0.1), "index"),
        ("cross_entropy (probabilities)", lambda x, t, w: TF.cross_entropy(x, t), lambda x, t, w: F.cross_entropy(x, t), "probs"),
        ("nll_loss(log_softmax)", lambda x, t, w: TF.nll_loss(TF.log_softmax(x, 1), t),
         lambda x, t, w: F.nll_loss(F.log_softmax(x, 1), t), "index"),
        ("mse_loss", lambda x, t, w: TF.mse_loss(x, t), lambda x, t, w: F.mse_loss(x, t), "probs"),
        ("binary_cross_entropy_with_logits", lambda x, t, w: TF.binary_cross_entropy_with_logits(x, t),
         lambda x, t, w: F.binary_cross_entropy_with_logits(x, t), "probs"),
        ("kl_div(batchmean)", lambda x, t, w: TF.kl_div(TF.log_softmax(x, 1), t, reduction="batchmean"),
         lambda x, t, w: F.kl_div(F.log_softmax(x, 1), t, reduction="batchmean"), "probs"),
    ]
    return cases


def _blas() -> str:
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            return f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture')})"
    return "unknown"


def _timed(step: Callable[[], None], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.process_time()
        step()
        out.append((time.process_time() - t0) * 1e3)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--classes", type=int, default=1000)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    n, c = args.batch, args.classes
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((n, c)) * 3).astype(np.float32)
    w = rng.standard_normal((n, c)).astype(np.float32)
    idx = rng.integers(0, c, n)
    probs = rng.uniform(0, 1, (n, c)).astype(np.float32)
    probs /= probs.sum(1, keepdims=True)
    print(f"forward + backward on a ({n}, {c}) float32 batch; median of {args.repeats} runs")
    print(f"numpy {np.__version__}, BLAS {_blas()}; torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"| {'op':<34} | {'deepling ms':>11} | {'torch ms':>9} | {'ratio':>6} |  (CPU ms)")
    print(f"|{'-' * 36}|{'-' * 13}|{'-' * 11}|{'-' * 8}|")
    for name, tf, df, kind in _cases(n, c):
        target = {"index": idx, "probs": probs, "none": probs}[kind]
        tx, dx = torch.tensor(x, requires_grad=True), dl.tensor(x, requires_grad=True)
        tt, dt = torch.tensor(target), dl.tensor(target)
        tw, dw = torch.tensor(w), dl.tensor(w)

        def t_step(tf=tf, tx=tx, tt=tt, tw=tw) -> None:
            tx.grad = None
            tf(tx, tt, tw).backward()

        def d_step(df=df, dx=dx, dt=dt, dw=dw) -> None:
            dx.grad = None
            df(dx, dt, dw).backward()

        t_step()
        d_step()
        np.testing.assert_allclose(dx.grad.array, tx.grad.numpy(), rtol=1e-3, atol=1e-5)  # same work
        times: dict[str, list[float]] = {"dl": [], "t": []}
        for _ in range(5):
            times["dl"] += _timed(d_step, max(args.repeats // 5, 1))
            times["t"] += _timed(t_step, max(args.repeats // 5, 1))
        d, t = statistics.median(times["dl"]), statistics.median(times["t"])
        print(f"| {name:<34} | {d:>11.3f} | {t:>9.3f} | {d / t:>5.2f}x |")
    print("ratio = deepling / torch (below 1: deepling is faster)")


if __name__ == "__main__":
    main()
