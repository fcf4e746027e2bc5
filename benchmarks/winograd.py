"""Issue 18, lever 3: Winograd F(2x2, 3x3) against im2col for 3x3 / stride 1 convolutions.

    PYTHONPATH=src python -m benchmarks.winograd [--repeat 7] [--threads 1]

At the 3x3 / pad 1 shapes of ``cnn_bn`` and ``resnet20`` (and LeNet's first layer for scale) it
times deepling's conv2d forward and forward+backward (dX and dW) with ``deepling.ops.conv.use_winograd``
off (im2col) and on (Winograd, ``deepling.ops.winograd``), CPU clock, best of ``--repeat``, and
measures both paths' float32 error against a float64 direct convolution (PyTorch, float64): the
largest absolute error of the output, dX and dW, and that error relative to the largest reference
magnitude. The Winograd column times the kernel at every shape; "(rule: im2col)" marks the shapes
where ``winograd.applies`` keeps conv2d on im2col.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import deepling as dl
import deepling.nn.functional as F
from deepling.ops import conv, winograd
from deepling.runtime import set_num_threads

SHAPES = [("cnn_bn", 64, 3, 32, 32), ("cnn_bn", 64, 32, 32, 32), ("cnn_bn", 64, 32, 16, 64),
          ("cnn_bn", 64, 64, 16, 64), ("resnet20", 32, 16, 32, 16), ("resnet20", 32, 32, 16, 32),
          ("resnet20", 32, 64, 8, 64), ("small batch", 4, 64, 16, 64), ("small batch", 8, 64, 8, 64)]


def _run(x: np.ndarray, w: np.ndarray, g: np.ndarray, backward: bool) -> tuple[np.ndarray, ...]:
    xt, wt = dl.tensor(x, requires_grad=True), dl.tensor(w, requires_grad=True)
    out = F.conv2d(xt, wt, padding=1)
    if not backward:
        return (out.array,)
    out.backward(dl.tensor(g))
    return out.array, xt.grad.array, wt.grad.array


def best_ms(x: np.ndarray, w: np.ndarray, g: np.ndarray, backward: bool, repeat: int) -> float:
    _run(x, w, g, backward)
    ts = []
    for _ in range(repeat):
        t0 = time.process_time()
        _run(x, w, g, backward)
        ts.append(time.process_time() - t0)
    return min(ts) * 1e3


def reference(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, ...]:
    import torch

    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    wt = torch.tensor(w.astype(np.float64), requires_grad=True)
    out = torch.nn.functional.conv2d(xt, wt, padding=1)
    out.backward(torch.tensor(g.astype(np.float64)))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


def errors(got: tuple[np.ndarray, ...], ref: tuple[np.ndarray, ...]) -> list[tuple[float, float]]:
    return [(float(np.abs(a - r).max()), float(np.abs(a - r).max() / np.abs(r).max())) for a, r in zip(got, ref)]


def _always(*args: object) -> bool:
    return True


def fmt(e: list[tuple[float, float]] | None) -> str:
    return "" if e is None else " / ".join(f"{r:.1e}" for _, r in e)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-accuracy", action="store_true")
    a = ap.parse_args(argv)
    set_num_threads(a.threads)
    print(f"threads {a.threads}, CPU clock, best of {a.repeat}; load average {os.getloadavg()}\n")
    print("| workload | (N,C,H) -> O | im2col fwd ms | Winograd fwd ms | im2col fwd+bwd ms | Winograd fwd+bwd ms "
          "| fwd+bwd speedup | max rel err out / dX / dW im2col | Winograd |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|")
    rng = np.random.default_rng(0)
    saved, rule = conv.use_winograd, winograd.applies
    try:
        for wl, n, c, h, o in SHAPES:
            x = rng.standard_normal((n, c, h, h), dtype=np.float32)
            w = (rng.standard_normal((o, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
            g = rng.standard_normal((n, o, h, h), dtype=np.float32)
            ok = winograd.applies(x.shape, w.shape, (1, 1), (1, 1), 1)
            winograd.applies = _always  # time the kernel even where the rule refuses it
            res = {}
            for wino in (False, True):
                conv.use_winograd = wino
                res[wino] = (best_ms(x, w, g, False, a.repeat), best_ms(x, w, g, True, a.repeat),
                             None if a.no_accuracy else errors(_run(x, w, g, True), reference(x, w, g)))
            winograd.applies = rule
            (f0, b0, e0), (f1, b1, e1) = res[False], res[True]
            tag = "" if ok else " (rule: im2col)"
            print(f"| {wl} | ({n},{c},{h}) -> {o} | {f0:.2f} | {f1:.2f}{tag} | {b0:.2f} | {b1:.2f}{tag} | "
                  f"{b0 / b1:.2f}x | {fmt(e0)} | {fmt(e1)} |", flush=True)
            if e0 is not None:
                print(f"|   | max abs err | | | | | | {' / '.join(f'{v:.1e}' for v, _ in e0)} | "
                      f"{' / '.join(f'{v:.1e}' for v, _ in e1)} |", flush=True)
    finally:
        conv.use_winograd, winograd.applies = saved, rule
    print(f"\nload average at the end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
