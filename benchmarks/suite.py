"""The benchmark suite: every workload of issue 9 in deepling and in PyTorch, in one run, as ratios.

    python -m benchmarks [--workloads mlp,gpt] [--repeat 15] [--threads 2] [--json OUT] [--profile]
    deepling bench ...                      (the same, from a checkout)

For each workload both frameworks build the same model (PyTorch's initial weights are copied into
deepling with ``load_state_dict``), take the same float32 batch, and use the same number of threads
(``deepling.set_num_threads`` and ``torch.set_num_threads``). After warm-up the two are timed
alternately in one process: a repeat runs ``inner`` steps of each, in alternating order, and the
median over repeats of ms/step is reported. A training step is zero_grad + forward + loss + backward
+ optimizer step; an inference step is a forward pass under ``no_grad`` in eval mode. The ``mlp``
workload is also timed as a hand-written NumPy forward/backward/SGD step (no autograd). Peak RSS is
measured per framework in a child process that imports only that framework (``ru_maxrss``), so the
two numbers do not contaminate each other.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT / "src") not in sys.path:
    sys.path.insert(0, str(_ROOT / "src"))  # this checkout's deepling before any installed one

import deepling as dl  # noqa: E402
from deepling import nn  # noqa: E402
from deepling.runtime import get_num_threads, set_num_threads, tune_malloc  # noqa: E402

# --------------------------------------------------------------------------------------- workloads
MLP_SIZES = [784, 512, 256, 10]
AE_SIZES = [784, 256, 64, 256, 784]
TARGETS = {"mlp": 0.9, "autoencoder": 0.9, "lenet": 1.2, "cnn_bn": 1.5, "resnet20": 1.75, "lstm": 1.4, "gpt": 1.0,
           "mlp_infer_b1": 1.0}


@dataclass
class Workload:
    name: str
    batch: int
    inner: int  # steps per timed repeat (a repeat should last ~0.1-0.3 s)
    train: bool
    description: str
    flops: float | None = None  # float32 GEMM FLOPs per step, for the dense workloads
    numpy_twin: bool = False


def _dense_flops(sizes: list[int], batch: int, train: bool) -> float:
    """GEMM FLOPs of a dense stack: forward 2*B*in*out per layer; training adds dW for every layer
    and dX for every layer but the first (the input needs no gradient)."""
    fwd = [2.0 * batch * a * b for a, b in zip(sizes[:-1], sizes[1:])]
    if not train:
        return sum(fwd)
    return sum(fwd) * 2 + sum(fwd[1:])


WORKLOADS: dict[str, Workload] = {w.name: w for w in [
    Workload("mlp", 128, 20, True, "784-512-256-10 ReLU, cross-entropy, SGD momentum 0.9",
             _dense_flops(MLP_SIZES, 128, True), numpy_twin=True),
    Workload("autoencoder", 128, 20, True, "784-256-64-256-784 ReLU, sigmoid output, MSE, SGD momentum 0.9",
             _dense_flops(AE_SIZES, 128, True)),
    Workload("lenet", 64, 10, True, "LeNet-5 (ReLU, max-pool) on 1x28x28, cross-entropy, SGD momentum 0.9"),
    Workload("cnn_bn", 64, 2, True, "[conv3x3 32, BN, ReLU]x2, maxpool, [conv3x3 64, BN, ReLU]x2, maxpool, "
             "fc 4096->10 on 3x32x32, SGD momentum 0.9"),
    Workload("resnet20", 32, 2, True, "CIFAR ResNet-20 on 3x32x32, cross-entropy, SGD momentum 0.9"),
    Workload("lstm", 32, 2, True, "char LSTM: Embedding(65, 64), LSTM(64, 256), Linear(256, 65), seq 64, AdamW"),
    Workload("gpt", 32, 2, True, "GPT 4 layers, d_model 128, 4 heads, context 64, vocab 65, AdamW"),
    Workload("mlp_infer_b1", 1, 400, False, "mlp forward, no_grad, eval", _dense_flops(MLP_SIZES, 1, False)),
    Workload("mlp_infer_b256", 256, 40, False, "mlp forward, no_grad, eval", _dense_flops(MLP_SIZES, 256, False)),
    Workload("lenet_infer_b1", 1, 200, False, "lenet forward, no_grad, eval"),
    Workload("lenet_infer_b256", 256, 5, False, "lenet forward, no_grad, eval"),
]}


def _inputs(name: str, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """The float32 batch and its targets (fixed seed, identical for both frameworks)."""
    rng = np.random.default_rng(0)
    base = name.split("_infer")[0]
    if base in ("mlp", "autoencoder"):
        x = rng.random((batch, 784), dtype=np.float32)
        y = x if base == "autoencoder" else rng.integers(0, 10, batch)
    elif base == "lenet":
        x, y = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch)
    elif base in ("cnn_bn", "resnet20"):
        x, y = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32), rng.integers(0, 10, batch)
    else:  # lstm, gpt: character ids, next-character targets
        ids = rng.integers(0, 65, (batch, 65))
        x, y = ids[:, :-1], ids[:, 1:]
    return x, y


def _deepling_model(name: str) -> Any:
    from deepling.models.lenet import LeNet5
    from deepling.models.resnet import resnet20

    base = name.split("_infer")[0]
    if base == "mlp":
        layers: list[Any] = []
        for i, (a, b) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:])):
            layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(MLP_SIZES) - 2 else [])
        return nn.Sequential(*layers)
    if base == "autoencoder":
        layers = []
        for i, (a, b) in enumerate(zip(AE_SIZES[:-1], AE_SIZES[1:])):
            layers += [nn.Linear(a, b), nn.ReLU() if i < len(AE_SIZES) - 2 else nn.Sigmoid()]
        return nn.Sequential(*layers)
    if base == "lenet":
        return LeNet5()
    if base == "cnn_bn":
        def block(c_in: int, c_out: int) -> list[Any]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

        return nn.Sequential(*block(3, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 64),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4096, 10))
    if base == "resnet20":
        return resnet20()
    if base == "lstm":
        from deepling.models.char_rnn import CharRNN

        return CharRNN(65, 64, 256, 1, cell="lstm")
    from deepling.models.gpt import GPT

    return GPT(65, 64, 128, 4, 4, 0.0)


def _torch_model(name: str) -> Any:
    from benchmarks import twins

    base = name.split("_infer")[0]
    return {"mlp": lambda: twins.mlp(MLP_SIZES), "autoencoder": lambda: twins.autoencoder(AE_SIZES),
            "lenet": twins.lenet, "cnn_bn": twins.cnn_bn, "resnet20": twins.resnet20,
            "lstm": lambda: twins.TorchCharLSTM(65, 64, 256),
            "gpt": lambda: twins.TorchGPT(65, 64, 128, 4, 4, 0.0)}[base]()


def _stepper(lib: Any, name: str, model: Any, x: np.ndarray, y: np.ndarray, train: bool) -> Callable[[], Any]:
    """One step of ``lib`` (deepling or torch) on ``model``: a training step or a no_grad forward."""
    is_torch = lib.__name__ == "torch"
    tx = lib.from_numpy(x) if is_torch else dl.tensor(x)
    ty = lib.from_numpy(y) if is_torch else dl.tensor(y)
    base = name.split("_infer")[0]
    if not train:
        model.eval()

        def infer() -> Any:
            with lib.no_grad():
                return model(tx)

        return infer
    F = lib.nn.functional
    opt_mod = lib.optim
    if base in ("lstm", "gpt"):
        opt = opt_mod.AdamW(model.parameters(), lr=2e-3 if base == "lstm" else 1e-3)

        def loss_fn(out: Any) -> Any:
            return F.cross_entropy(out.reshape(-1, 65), ty.reshape(-1))
    else:
        opt = opt_mod.SGD(model.parameters(), lr=0.01, momentum=0.9)
        if base == "autoencoder":
            def loss_fn(out: Any) -> Any:
                return F.mse_loss(out, ty)
        else:
            def loss_fn(out: Any) -> Any:
                return F.cross_entropy(out, ty)

    def step() -> Any:
        opt.zero_grad()
        loss = loss_fn(model(tx))
        loss.backward()
        opt.step()
        return loss

    step.optimizer = opt  # type: ignore[attr-defined]  # the profiler times opt.step separately
    return step


def _numpy_mlp(x: np.ndarray, y: np.ndarray, state: dict[str, np.ndarray], lr: float = 0.01,
               momentum: float = 0.9) -> Callable[[], float]:
    """The mlp training step written by hand in NumPy (no autograd): the reference deepling should be
    within 1.15x of. Weights (out, in) as in nn.Linear; fused softmax-cross-entropy gradient."""
    W = [state[f"{i}.weight"].copy() for i in (0, 2, 4)]
    b = [state[f"{i}.bias"].copy() for i in (0, 2, 4)]
    params = W + b
    bufs = [np.zeros_like(p) for p in params]
    n = x.shape[0]
    rows = np.arange(n)

    def step() -> float:
        h1 = x @ W[0].T
        h1 += b[0]
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ W[1].T
        h2 += b[1]
        np.maximum(h2, 0, out=h2)
        z = h2 @ W[2].T
        z += b[2]
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[rows, y]).mean()
        p[rows, y] -= 1.0
        p *= np.float32(1.0 / n)
        g2 = p @ W[2]
        g2 *= h2 > 0
        g1 = g2 @ W[1]
        g1 *= h1 > 0
        grads = [g1.T @ x, g2.T @ h1, p.T @ h2, g1.sum(0), g2.sum(0), p.sum(0)]
        for prm, g, buf in zip(params, grads, bufs):
            buf *= momentum
            buf += g
            prm -= lr * buf
        return float(loss)

    return step


# ----------------------------------------------------------------------------------- measurement
def machine_info(threads: int) -> dict[str, Any]:
    """BLAS kernel (threadpoolctl), thread counts and float32 GEMM GFLOP/s of the BLAS NumPy calls."""
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    numpy_blas = [i for i in blas if "numpy" in i.get("filepath", "")] or blas
    kernel = "unknown"
    if numpy_blas:
        i = numpy_blas[0]
        kernel = f"{i['internal_api']} {i.get('version')} {i.get('architecture')} ({i['num_threads']} threads)"
    n = 1024
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, a, out=c)
    samples = []
    for _ in range(15):
        t0 = _clock()
        np.matmul(a, a, out=c)
        samples.append(_clock() - t0)
    gflops = 2 * n**3 / min(samples) / 1e9  # the machine's capability: the best of 15
    return {"blas": kernel, "threads": threads, "sgemm_gflops": gflops, "numpy": np.__version__,
            "python": platform.python_version(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0],
            "machine": platform.machine()}


_clock: Callable[[], float] = time.perf_counter


_settle = 0.0  # seconds of idle before each timed block (set from --settle)


def time_interleaved(steppers: dict[str, Callable[[], Any]], inner: int, repeat: int, warmup: int = 3
                     ) -> dict[str, list[float]]:
    """ms/step samples of each stepper: ``repeat`` rounds of ``inner`` steps each, frameworks
    alternating (their order reversed every round) so that load changes hit all of them alike.

    Each block starts after ``_settle`` idle seconds: OpenBLAS's and OpenMP's worker threads spin
    for a while after their last call, and on a 2-core machine threads still spinning for one
    framework starve the next framework's threads (measured: torch's 2-thread mlp step 7 -> 80 ms
    right after a NumPy block)."""
    for _ in range(warmup):
        for fn in steppers.values():
            fn()
    samples: dict[str, list[float]] = {k: [] for k in steppers}
    names = list(steppers)
    for r in range(repeat):
        for k in (names if r % 2 == 0 else names[::-1]):
            fn = steppers[k]
            if _settle:
                time.sleep(_settle)
                fn()  # wake the pools up (not timed)
            t0 = _clock()
            for _ in range(inner):
                fn()
            samples[k].append((_clock() - t0) / inner * 1e3)
    return samples


def _build_pair(w: Workload) -> tuple[dict[str, Callable[[], Any]], dict[str, Any]]:
    import torch

    torch.manual_seed(0)
    tmodel = _torch_model(w.name)
    model = _deepling_model(w.name)
    model.load_state_dict(tmodel.state_dict())
    x, y = _inputs(w.name, w.batch)
    steppers = {"deepling": _stepper(dl, w.name, model, x, y, w.train),
                "torch": _stepper(torch, w.name, tmodel, x, y, w.train)}
    if w.numpy_twin:
        steppers["numpy"] = _numpy_mlp(x, y, {k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    # the same weights and data must give the same loss (or output): the frameworks do the same work
    out_d, out_t = steppers["deepling"](), steppers["torch"]()
    vd, vt = np.asarray(out_d.array), out_t.detach().numpy()
    if not np.allclose(vd, vt, rtol=2e-3, atol=2e-4):
        raise RuntimeError(f"{w.name}: deepling and torch disagree on the first step ({vd.ravel()[:3]} vs {vt.ravel()[:3]})")
    if w.numpy_twin:
        ln = steppers["numpy"]()
        if abs(ln - float(vt)) > 1e-3 * max(1.0, abs(float(vt))):
            raise RuntimeError(f"{w.name}: the NumPy step's loss {ln} differs from torch's {float(vt)}")
    return steppers, {"deepling": model, "torch": tmodel}


def rss_child(name: str, framework: str, threads: int, malloc: bool, steps: int = 8) -> dict[str, float]:
    """Run in a fresh process: build one framework's side of ``name``, run ``steps`` steps, report
    peak RSS (ru_maxrss) and the RSS right before the first step, in MiB."""
    if malloc:
        tune_malloc()
    set_num_threads(threads)
    w = WORKLOADS[name]
    x, y = _inputs(name, w.batch)
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        step = _stepper(torch, name, _torch_model(name), x, y, w.train)
    else:
        step = _stepper(dl, name, _deepling_model(name), x, y, w.train)
    before = _current_rss_mb()
    for _ in range(steps):
        step()
    return {"peak_mb": _peak_rss_mb(), "before_steps_mb": before}


def fresh_child(name: str, framework: str, threads: int | None, repeat: int) -> dict[str, Any]:
    """Run in a fresh process with default settings (no tune_malloc, nothing else imported): build
    one framework's side of ``name``, warm up 3 steps, time ``repeat`` blocks of ``inner`` steps;
    report the ms/step samples and the peak RSS. This is how a user's script runs."""
    if threads is not None:
        set_num_threads(threads)
    w = WORKLOADS[name]
    x, y = _inputs(name, w.batch)
    if framework == "torch":
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        step = _stepper(torch, name, _torch_model(name), x, y, w.train)
    else:
        step = _stepper(dl, name, _deepling_model(name), x, y, w.train)
    for _ in range(3):
        step()
    samples = []
    for _ in range(repeat):
        t0 = _clock()
        for _ in range(w.inner):
            step()
        samples.append((_clock() - t0) / w.inner * 1e3)
    return {"samples_ms": samples, "peak_mb": _peak_rss_mb()}


def _run_fresh(name: str, framework: str, threads: int | None, repeat: int, clock: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.suite", "--fresh-child", name, framework, "--repeat", str(repeat),
           "--clock", clock]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(_ROOT / "src"), str(_ROOT), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=_ROOT, env=env, timeout=1200)
    if out.returncode != 0:
        raise RuntimeError(f"fresh {framework} {name} failed: {out.stderr[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_fresh(names: list[str], threads: int | None, repeat: int, clock: str, rounds: int) -> list[dict[str, Any]]:
    """Each framework alone in its own fresh process with default settings, ``rounds`` times in
    alternating order; the median over all blocks of all rounds is reported."""
    rows = []
    for n in names:
        samples: dict[str, list[float]] = {"deepling": [], "torch": []}
        peak: dict[str, float] = {}
        order = ["deepling", "torch"]
        for r in range(rounds):
            for fw in (order if r % 2 == 0 else order[::-1]):
                res = _run_fresh(n, fw, threads, repeat, clock)
                samples[fw] += res["samples_ms"]
                peak[fw] = max(peak.get(fw, 0.0), res["peak_mb"])
        med = {k: statistics.median(v) for k, v in samples.items()}
        row = {"workload": n, "batch": WORKLOADS[n].batch, "ms": med, "ratio": med["deepling"] / med["torch"],
               "target": TARGETS.get(n), "peak_mb": peak, "spread_ms": {k: [min(v), max(v)] for k, v in samples.items()}}
        rows.append(row)
        print(_fmt_fresh(row), flush=True)
    return rows


def _fmt_fresh(r: dict[str, Any]) -> str:
    target = r["target"]
    tgt = "" if target is None else f"<= {target}" + (" met" if r["ratio"] <= target else " **not met**")
    ms, pk = r["ms"], r["peak_mb"]
    return (f"| {r['workload']} | {r['batch']} | {ms['deepling']:.3f} | {ms['torch']:.3f} | {r['ratio']:.2f}x | {tgt} | "
            f"{pk['deepling']:.0f} / {pk['torch']:.0f} |")


FRESH_HEADER = ("| workload | batch | deepling ms | torch ms | ratio | target | peak RSS MiB dl / torch |\n"
                "|---|---:|---:|---:|---:|---|---:|")


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    return float("nan")


def _current_rss_mb() -> float:
    return _status_mb("VmRSS") if sys.platform == "linux" else float("nan")


def _peak_rss_mb() -> float:
    """This process's peak RSS. On Linux VmHWM, not ru_maxrss: ru_maxrss survives exec, so a child
    would report its parent's peak if that was higher."""
    if sys.platform == "linux":
        return _status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # bytes on macOS


def _measure_rss(name: str, framework: str, threads: int, malloc: bool) -> dict[str, float]:
    cmd = [sys.executable, "-m", "benchmarks.suite", "--rss-child", name, framework, "--threads", str(threads)]
    if malloc:
        cmd.append("--tune-malloc")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(_ROOT / "src"), str(_ROOT), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=_ROOT, env=env, timeout=600)
    if out.returncode != 0:
        return {"peak_mb": float("nan"), "before_steps_mb": float("nan"), "error": out.stderr[-300:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_workload(w: Workload, repeat: int, threads: int, sgemm: float, rss: bool, malloc: bool,
                 profile: bool) -> dict[str, Any]:
    steppers, models = _build_pair(w)
    samples = time_interleaved(steppers, w.inner, repeat)
    med = {k: statistics.median(v) for k, v in samples.items()}
    row: dict[str, Any] = {"workload": w.name, "batch": w.batch, "train": w.train, "description": w.description,
                           "ms": med, "ratio": med["deepling"] / med["torch"], "target": TARGETS.get(w.name),
                           "samples_per_s": {k: w.batch / (v / 1e3) for k, v in med.items()},
                           "spread_ms": {k: [min(v), max(v)] for k, v in samples.items()}}
    if "numpy" in med:
        row["ratio_vs_numpy"] = med["deepling"] / med["numpy"]
    from benchmarks.opprofile import count_gemm_flops, limit_summary

    # GEMM FLOPs of deepling's step as executed (convolutions' im2col products included), from the
    # shapes of its np.matmul calls; the dense workloads' analytic count must agree (tests).
    row["gemm_flops_per_step"] = count_gemm_flops(steppers["deepling"])
    flops = w.flops or row["gemm_flops_per_step"]
    if flops:
        row["gflops"] = {k: flops / (v / 1e3) / 1e9 for k, v in med.items()}
        row["fraction_of_sgemm"] = {k: g / sgemm for k, g in row["gflops"].items()}
    if rss:
        row["rss_mb"] = {fw: _measure_rss(w.name, fw, threads, malloc) for fw in ("deepling", "torch")}
    if profile:
        from benchmarks.opprofile import profile_steps

        row["profile"] = profile_steps(steppers["deepling"], max(3, w.inner), med["deepling"], _clock)
        row["limit"] = limit_summary(row["profile"], sgemm)
    return row


# ----------------------------------------------------------------------------------------- output
def _fmt_row(r: dict[str, Any]) -> str:
    ms, sps = r["ms"], r["samples_per_s"]
    target = r["target"]
    met = "" if target is None else (" met" if r["ratio"] <= target else " **not met**")
    tgt = "" if target is None else f"<= {target}{met}"
    gf = ""
    if "gflops" in r:
        gf = f"{r['gflops']['deepling']:.1f} ({100 * r['fraction_of_sgemm']['deepling']:.0f}%)"
    rss = ""
    if "rss_mb" in r:
        d, t = r["rss_mb"]["deepling"], r["rss_mb"]["torch"]
        rss = (f"{d['peak_mb']:.0f} (+{d['peak_mb'] - d['before_steps_mb']:.0f}) / "
               f"{t['peak_mb']:.0f} (+{t['peak_mb'] - t['before_steps_mb']:.0f})")
    lim = ""
    if "limit" in r:
        li = r["limit"]
        lim = f" {100 * li['gemm_share']:.0f}% | {li['gemm_gflops']:.1f} ({100 * li['gemm_fraction']:.0f}%) |"
    extra = f" numpy {ms['numpy']:.2f} ms, deepling/numpy {r['ratio_vs_numpy']:.2f}x" if "numpy" in ms else ""
    return (f"| {r['workload']} | {r['batch']} | {ms['deepling']:.3f} | {ms['torch']:.3f} | {r['ratio']:.2f}x | {tgt} | "
            f"{sps['deepling']:.0f} / {sps['torch']:.0f} | {gf} | {rss} |{lim}{extra}")


def print_table(info: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    print(f"\nBLAS {info['blas']}; deepling and torch threads: {info['threads']}; sgemm 1024^3: "
          f"{info['sgemm_gflops']:.1f} GFLOP/s; numpy {info['numpy']}, torch {info.get('torch')}; "
          f"clock {info['clock']}; load average {info['load_avg']:.1f} on {info['cpus']} CPUs; malloc tuned: {info['tune_malloc']}\n")
    prof = any("limit" in r for r in rows)
    print("| workload | batch | deepling ms | torch ms | ratio | target | samples/s dl / torch | dl GFLOP/s (% sgemm) "
          "| peak RSS MiB dl / torch (+step) |" + (" dl GEMM share | dl GEMM GFLOP/s (% sgemm) |" if prof else ""))
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|" + ("---:|---:|" if prof else ""))
    for r in rows:
        print(_fmt_row(r))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="all", help=f"comma-separated, from {','.join(WORKLOADS)} (default all)")
    ap.add_argument("--repeat", type=int, default=15, help="timed rounds per workload; medians are reported")
    ap.add_argument("--threads", type=int, default=None, help="BLAS and torch threads (default: the BLAS default)")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    ap.add_argument("--profile", action="store_true", help="also profile deepling's step per op family")
    ap.add_argument("--no-rss", action="store_true", help="skip the peak-RSS child processes")
    ap.add_argument("--tune-malloc", action="store_true", help="deepling.tune_malloc() first (glibc mmap/trim thresholds)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time (default), or this process's CPU time (steadier on a loaded machine; "
                         "with several threads it counts the CPU time of all of them)")
    ap.add_argument("--settle", type=float, default=None,
                    help="idle seconds before each timed block, so one framework's spinning BLAS/OpenMP "
                         "threads do not steal the cores from the next (default 0.3 with >1 thread, else 0)")
    ap.add_argument("--fresh", choices=("first", "only", "no"), default="first",
                    help="also time each framework alone in a fresh process with default settings, as a user "
                         "runs it (default: first, before the interleaved view; 'only' skips the interleaved view)")
    ap.add_argument("--fresh-rounds", type=int, default=2, help="fresh processes per framework and workload")
    ap.add_argument("--rss-child", nargs=2, metavar=("WORKLOAD", "FRAMEWORK"), help=argparse.SUPPRESS)
    ap.add_argument("--fresh-child", nargs=2, metavar=("WORKLOAD", "FRAMEWORK"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    global _clock, _settle
    _clock = time.process_time if a.clock == "cpu" else time.perf_counter
    if a.fresh_child:
        print(json.dumps(fresh_child(a.fresh_child[0], a.fresh_child[1], a.threads, a.repeat)))
        return 0
    threads = a.threads or get_num_threads()
    _settle = a.settle if a.settle is not None else (0.3 if threads > 1 else 0.0)
    if a.rss_child:
        print(json.dumps(rss_child(a.rss_child[0], a.rss_child[1], threads, a.tune_malloc)))
        return 0
    names = list(WORKLOADS) if a.workloads == "all" else [s.strip() for s in a.workloads.split(",") if s.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    fresh_rows: list[dict[str, Any]] = []
    if a.fresh != "no":
        print(f"Each framework alone in a fresh process, default settings, threads {a.threads or 'default'}, "
              f"clock {a.clock}, load average {os.getloadavg()[0]:.1f}\n\n{FRESH_HEADER}", flush=True)
        fresh_rows = run_fresh(names, a.threads, a.repeat, a.clock, a.fresh_rounds)
        print(f"(load average {os.getloadavg()[0]:.1f} at the end)\n", flush=True)
        if a.fresh == "only":
            if a.json:
                Path(a.json).write_text(json.dumps({"fresh": fresh_rows, "load_avg_end": os.getloadavg()[0],
                                                    "command": " ".join(sys.argv)}, indent=2))
            return 0
    if a.tune_malloc:
        tune_malloc()
    import torch

    set_num_threads(threads)
    torch.set_num_threads(threads)
    info = machine_info(threads)
    info.update(torch=torch.__version__, tune_malloc=a.tune_malloc or dl.runtime.malloc_tuned_at_import, repeat=a.repeat, clock=a.clock, settle_s=_settle,
                command="python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"BLAS {info['blas']}; sgemm {info['sgemm_gflops']:.1f} GFLOP/s; load {info['load_avg']:.1f}", flush=True)
    rows = []
    for n in names:
        t0 = time.perf_counter()
        r = run_workload(WORKLOADS[n], a.repeat, threads, info["sgemm_gflops"], not a.no_rss, a.tune_malloc, a.profile)
        rows.append(r)
        print(_fmt_row(r) + f"   [{time.perf_counter() - t0:.0f} s]", flush=True)
        if a.profile:
            from benchmarks.opprofile import format_profile

            print(format_profile(n, r["profile"]), flush=True)
    info["load_avg_end"] = os.getloadavg()[0]
    if fresh_rows:
        print(f"\nFresh processes, each framework alone, default settings:\n\n{FRESH_HEADER}")
        for fr in fresh_rows:
            print(_fmt_fresh(fr))
        print("\nInterleaved in one process:")
    print_table(info, rows)
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": info, "fresh": fresh_rows, "results": rows}, indent=2))
        print(f"\nwrote {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
