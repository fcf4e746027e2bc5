"""Data-parallel scaling: 1 vs 2 ranks, all-reduce bandwidth and latency, overlap, and the ring model.

    python -m benchmarks.distributed [--workloads mlp,lenet,cnn_bn,gpt] [--repeat 7] [--json OUT]

Starts one ``mpiexec -n 2`` job of itself (``--worker``), one BLAS thread per rank. In that job:

* **throughput**: for each workload of ``benchmarks/suite.py`` (same model, batch, loss and
  optimizer), rounds alternate between "1 rank" (rank 0 trains the plain model alone while rank 1
  sleeps in a barrier) and "2 ranks" (DistributedDataParallel on both), so load changes from other
  processes hit both alike. Strong scaling: the global batch B is fixed, 2 ranks take B/2 each
  (throughput B / step); weak scaling: each rank keeps batch B (throughput 2B / step).
* **overlap**: the DDP step is also timed under ``no_sync()`` (the same work without the gradient
  all-reduce): DDP's whole cost = DDP step - no_sync step. Inside it, the end-of-backward callback
  that waits for the buckets is timed on every rank with the machine's shared monotonic clock
  (both ranks run on this machine), so that its wait splits into the time spent waiting for the
  slower rank to finish its backward (``skew``: last arrival - own arrival) and the all-reduce time
  left after both arrived (``exposed``: first rank done - last arrival). The fraction hidden behind
  backward = 1 - exposed / (a blocking all-reduce of the same bytes, timed alone); the rest of DDP's
  cost (copies into the buckets, launching, the optimizer reading views) is the remainder.
* **all-reduce**: ``deepling.distributed.all_reduce`` of float32 tensors from 1 KB to 64 MB: median
  and best of up to 40 short timed blocks, and the bus bandwidth 2 (N-1) / N * bytes / t.
* **compute**: rank 0 alone times one process's CPU time per step at batch B and B/2 (steadier than
  wall time on a loaded machine); ``f = 2 t(B/2) - t(B)`` is the part of a step that does not shrink
  with the batch (optimizer step, per-op Python overhead).
* **model**: ``t(bytes) = 2 (N-1)/N * bytes / BW + 2 (N-1) * alpha`` fitted (least squares,
  relative error) to the best all-reduce times; then, for N machines on 10 and 100 Gbit/s links
  (alpha as fitted), step(N) = (compute - f) / N + f + t_N(gradient bytes), with f = 0 ("ideal")
  and f as measured ("fitted"), and the N where each workload stops scaling (throughput is highest)
  and where its efficiency drops below 50 %.

Every figure is printed for the median and the best of ``--repeat`` rounds, with the load average:
on a machine shared with other work, the best round is the closest to what the code can do.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT / "src") not in sys.path:
    sys.path.insert(0, str(_ROOT / "src"))

DEFAULT_WORKLOADS = ["mlp", "lenet", "cnn_bn", "gpt"]
SIZES = [2**k for k in range(10, 27, 2)]  # 1 KB .. 64 MB
LINKS = {"10 Gbit/s": 10e9 / 8, "100 Gbit/s": 100e9 / 8}


# ------------------------------------------------------------------------------------- the worker
STATS = {"median": statistics.median, "best": min}  # best: the least disturbed by other processes' load


def _time_steps(fn: Any, inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def _cpu_steps(fn: Any, inner: int) -> float:
    t0 = time.process_time()
    for _ in range(inner):
        fn()
    return (time.process_time() - t0) / inner


def _slowest(dist: Any, seconds: float) -> float:
    """The slowest rank's time (a data-parallel step is as slow as its slowest rank)."""
    import deepling as dl

    t = dl.tensor([seconds], dtype="float64")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def _allreduce_time(dist: Any, nbytes: int, budget_s: float = 0.4) -> dict[str, float]:
    """Seconds per ``all_reduce`` of ``nbytes``: median and best of up to 40 short timed blocks
    (short, so that some blocks run between the preemptions that other processes' load causes)."""
    import deepling as dl

    t = dl.Tensor._wrap(np.ones(max(1, nbytes // 4), np.float32))
    for _ in range(3):
        dist.all_reduce(t)
    dist.barrier()
    one = _slowest(dist, _time_steps(lambda: dist.all_reduce(t), 3))
    blocks = int(min(40, max(5, budget_s / max(one, 1e-7))))
    reps = int(max(1, min(50, budget_s / blocks / max(one, 1e-7))))
    samples = []
    for _ in range(blocks):
        dist.barrier()
        samples.append(_slowest(dist, _time_steps(lambda: dist.all_reduce(t), reps)))
    return {k: float(f(samples)) for k, f in STATS.items()}


class _WaitClock:
    """Times DDP's end-of-backward callback (the wait for its buckets) with the shared monotonic
    clock: per step, when this rank arrived there and when its all-reduces were done."""

    def __init__(self, ddp: Any) -> None:
        self.arrive: list[float] = []
        self.done: list[float] = []
        finish = ddp._finish_backward  # looked up at each backward (autograd.queue_callback(self._finish_backward))

        def timed() -> None:
            self.arrive.append(time.perf_counter())
            finish()
            self.done.append(time.perf_counter())

        ddp._finish_backward = timed

    def reset(self) -> None:
        self.arrive.clear()
        self.done.clear()

    def split(self, dist: Any) -> dict[str, float]:
        """Mean seconds per step, over the steps since ``reset``: ``wait`` (in the callback, this
        rank), ``skew`` (waiting for the last rank to arrive) and ``exposed`` (all-reduce left after
        the last arrival, until the first rank is done). Collective: every rank calls it."""
        import deepling as dl

        n = len(self.arrive)
        mine = dl.Tensor._wrap(np.array([self.arrive, self.done], dtype=np.float64))
        everyone = [dl.Tensor._wrap(np.zeros((2, n))) for _ in range(dist.get_world_size())]
        dist.all_gather(everyone, mine)
        arrive = np.stack([t.array[0] for t in everyone])  # (ranks, steps)
        done = np.stack([t.array[1] for t in everyone])
        last = arrive.max(axis=0)
        return {"wait": float(np.mean(mine.array[1] - mine.array[0])),
                "skew": float(np.mean(last - arrive[dist.get_rank()])),
                "exposed": float(np.mean(np.maximum(done.min(axis=0) - last, 0.0)))}


def _summary(step: dict[str, float], allreduce: float, batch: int, world: int) -> dict[str, Any]:
    """Throughputs, speedups, exposed communication and the fraction hidden, from step times."""
    res: dict[str, Any] = {"step_s": step, "allreduce_s": allreduce, "samples_per_s": {
        "1 rank": batch / step["single"], "2 ranks strong": batch / step["strong"],
        "2 ranks weak": world * batch / step["weak"]}}
    res["speedup_strong"] = res["samples_per_s"]["2 ranks strong"] / res["samples_per_s"]["1 rank"]
    res["speedup_weak"] = res["samples_per_s"]["2 ranks weak"] / res["samples_per_s"]["1 rank"]
    # the same steps without the all-reduce (no_sync): the most that removing communication could give
    res["speedup_strong_no_comm"] = step["single"] / step["strong_nosync"]
    res["speedup_weak_no_comm"] = world * step["single"] / step["weak_nosync"]
    for mode in ("strong", "weak"):
        cost = step[mode] - step[f"{mode}_nosync"]
        res[f"ddp_cost_{mode}_s"] = cost  # all that synchronizing adds to a step
        exposed, skew = step[f"{mode}_exposed"], step[f"{mode}_skew"]
        res[f"exposed_comm_{mode}_s"] = exposed
        res[f"skew_{mode}_s"] = skew
        res[f"other_{mode}_s"] = cost - exposed - skew  # copies into buckets, launches, Python
        res[f"hidden_fraction_{mode}"] = float(min(1.0, max(0.0, 1 - exposed / allreduce)))
    return res


def worker(workloads: list[str], repeat: int) -> dict[str, Any]:
    import deepling as dl
    import deepling.distributed as dist
    from benchmarks import suite
    from deepling.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    out: dict[str, Any] = {"world_size": world, "workloads": {}, "allreduce": []}
    for name in workloads:
        w = suite.WORKLOADS[name]
        x, y = suite._inputs(name, w.batch)
        dl.manual_seed(0)
        single = suite._stepper(dl, name, suite._deepling_model(name), x, y, True) if rank == 0 else None
        half = w.batch // world
        sl = slice(rank * half, (rank + 1) * half)
        steppers = {}
        ddps = {}
        clocks = {}
        for mode, (bx, by) in {"strong": (x[sl], y[sl]), "weak": (x, y)}.items():
            dl.manual_seed(0)
            ddp = DDP(suite._deepling_model(name))
            ddps[mode] = ddp
            clocks[mode] = _WaitClock(ddp)
            steppers[mode] = suite._stepper(dl, name, ddp, np.ascontiguousarray(bx), np.ascontiguousarray(by), True)
        grad_bytes = sum(p.array.nbytes for p in ddps["strong"].parameters() if p.requires_grad)
        inner = max(1, w.inner)
        cpu = {}
        if rank == 0:  # CPU time of one process at B and B/2: the compute, nearly independent of other load
            dl.manual_seed(0)
            halfstep = suite._stepper(dl, name, suite._deepling_model(name), x[:half], y[:half], True)
            for key, fn in (("B", single), ("B/2", halfstep)):
                fn()
                cpu[key] = min(_cpu_steps(fn, inner) for _ in range(5))
        dist.barrier()
        for fn in [single] + list(steppers.values()):
            if fn is not None:
                for _ in range(2):
                    fn()
        keys = ["single"] + [f"{m}{k}" for m in ("strong", "weak") for k in ("", "_nosync", "_wait", "_skew", "_exposed")]
        t: dict[str, list[float]] = {k: [] for k in keys}
        for _ in range(repeat):
            dist.barrier()
            if rank == 0:
                t["single"].append(_time_steps(single, inner))
            dist.barrier()  # rank 1 sleeps here while rank 0 trains alone
            for mode in ("strong", "weak"):
                dist.barrier()
                clocks[mode].reset()
                t[mode].append(_slowest(dist, _time_steps(steppers[mode], inner)))
                for k, v in clocks[mode].split(dist).items():
                    t[f"{mode}_{k}"].append(_slowest(dist, v))
                dist.barrier()
                with ddps[mode].no_sync():
                    t[f"{mode}_nosync"].append(_slowest(dist, _time_steps(steppers[mode], inner)))
        ar = _allreduce_time(dist, grad_bytes)
        if rank == 0:
            res = {"batch": w.batch, "grad_bytes": grad_bytes, "samples_s": t, "cpu_step_s": cpu}
            for stat, f in STATS.items():
                res[stat] = _summary({k: float(f(v)) for k, v in t.items()}, ar[stat], w.batch, world)
            out["workloads"][name] = res
            print(f"# {name}: {json.dumps(res['median'])}", file=sys.stderr, flush=True)
    for nbytes in SIZES:
        ar = _allreduce_time(dist, nbytes)
        out["allreduce"].append({"bytes": nbytes, **{f"{k}_s": v for k, v in ar.items()}})
    out["load_avg"] = os.getloadavg()
    dist.destroy_process_group()
    return out if rank == 0 else {}


# ------------------------------------------------------------------------------------- the model
def ring_time(n: int, nbytes: float, bw: float, alpha: float) -> float:
    """Ring all-reduce of ``nbytes`` over ``n`` ranks: 2 (n-1)/n * bytes / bw + 2 (n-1) * alpha."""
    return 2 * (n - 1) / n * nbytes / bw + 2 * (n - 1) * alpha if n > 1 else 0.0


def fit_ring(points: list[dict[str, float]], world: int) -> tuple[float, float]:
    """Least squares (relative error) of t = a * bytes + b with a = 2(N-1)/N / BW, b = 2(N-1) alpha."""
    bts = np.array([p["bytes"] for p in points], float)
    ts = np.array([p["s"] for p in points], float)
    A = np.stack([bts, np.ones_like(bts)], axis=1) / ts[:, None]
    (a, b), *_ = np.linalg.lstsq(A, np.ones_like(ts), rcond=None)
    bw = 2 * (world - 1) / world / a
    alpha = b / (2 * (world - 1))
    return float(bw), float(alpha)


def predict(compute: float, nbytes: float, bw: float, alpha: float, fixed: float = 0.0,
            n_max: int = 100000) -> dict[str, Any]:
    """Speedup over one machine of step(N) = (compute - fixed) / N + fixed + ring(N); ``fixed`` is
    the part of a step that does not shrink with the per-rank batch (optimizer step, Python)."""
    ns = np.arange(1, n_max + 1)
    step = (compute - fixed) / ns + fixed + np.array([ring_time(int(n), nbytes, bw, alpha) for n in ns])
    speed = compute / step
    best = int(ns[int(np.argmax(speed))])
    eff = speed / ns
    below = ns[eff < 0.5]
    return {"n_best": best, "speedup_at_best": float(speed.max()),
            "n_half_efficiency": int(below[0]) if len(below) else None,
            "speedup_at_8": float(speed[7]), "speedup_at_64": float(speed[63])}


def report(res: dict[str, Any]) -> str:
    lines = [f"load average during the run (1, 5, 15 min): {', '.join(f'{v:.1f}' for v in res['load_avg'])}"]
    for stat in STATS:
        lines += ["", f"{stat} of {res['repeat']} rounds:", "",
                  "| workload | batch B | grad MB | 1 rank samples/s | 2 ranks, B/2 each | speedup (no comm) | "
                  "2 ranks, B each | speedup (no comm) | all-reduce alone ms | DDP cost ms B/2, B | of which: "
                  "waiting for the slower rank | all-reduce after both arrived | other | hidden B/2, B |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, w in res["workloads"].items():
            r, s = w[stat], w[stat]["samples_per_s"]
            lines.append(
                f"| {name} | {w['batch']} | {w['grad_bytes'] / 1e6:.2f} | {s['1 rank']:.0f} | {s['2 ranks strong']:.0f} | "
                f"{r['speedup_strong']:.2f}x ({r['speedup_strong_no_comm']:.2f}x) | {s['2 ranks weak']:.0f} | "
                f"{r['speedup_weak']:.2f}x ({r['speedup_weak_no_comm']:.2f}x) | {r['allreduce_s'] * 1e3:.2f} | "
                + " | ".join(f"{r[f'{k}_strong_s'] * 1e3:.2f}, {r[f'{k}_weak_s'] * 1e3:.2f}"
                             for k in ("ddp_cost", "skew", "exposed_comm", "other"))
                + f" | {r['hidden_fraction_strong']:.0%}, {r['hidden_fraction_weak']:.0%} |")
    lines += ["", "all_reduce on loopback, 2 ranks (median and best of up to 40 blocks):", "",
              "| bytes | median | best | busbw GB/s (best) |", "|---:|---:|---:|---:|"]
    w = res["world_size"]
    for p in res["allreduce"]:
        size = p["bytes"]
        label = f"{size // 2**20} MB" if size >= 2**20 else f"{size // 2**10} KB"
        lines.append(f"| {label} | {p['median_s'] * 1e6:.1f} us | {p['best_s'] * 1e6:.1f} us | "
                     f"{2 * (w - 1) / w * size / p['best_s'] / 1e9:.2f} |")
    bw, alpha = res["fit"]["bw_Bps"], res["fit"]["alpha_s"]
    lines += ["", f"ring model fitted to the best all-reduce times: BW = {bw / 1e9:.2f} GB/s, alpha = "
              f"{alpha * 1e6:.1f} us per step; N machines on a link of bandwidth L: step(N) = compute / N + "
              "2 (N-1)/N * bytes / L + 2 (N-1) * alpha; compute = one process's CPU time per step at batch B", "",
              "ideal: all of compute divides by N; fitted: a part f = 2 t(B/2) - t(B) (CPU time at B/2 and B) does "
              "not shrink with the per-rank batch", "",
              "| workload | compute ms | fixed f ms | grad MB | link | ideal: N best | speedup | N at 50% eff. | "
              "fitted: N best | speedup | N at 50% eff. |",
              "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for name, pr in res["model"].items():
        for link, p in pr["links"].items():
            i, f = p["ideal"], p["fitted"]
            lines.append(f"| {name} | {pr['compute_s'] * 1e3:.1f} | {pr['fixed_s'] * 1e3:.1f} | {pr['grad_bytes'] / 1e6:.2f} | "
                         f"{link} | {i['n_best']} | {i['speedup_at_best']:.1f}x | {i['n_half_efficiency']} | "
                         f"{f['n_best']} | {f['speedup_at_best']:.1f}x | {f['n_half_efficiency']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workloads", default=",".join(DEFAULT_WORKLOADS))
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    names = [n for n in args.workloads.split(",") if n]
    if args.worker:
        res = worker(names, args.repeat)
        if res:
            print("RESULT " + json.dumps(res), flush=True)
        return 0
    from deepling.distributed.run import find_mpiexec

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = str(_ROOT) + os.pathsep + str(_ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [find_mpiexec(), "-n", "2", sys.executable, "-m", "benchmarks.distributed", "--worker",
           "--workloads", ",".join(names), "--repeat", str(args.repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=_ROOT)
    sys.stderr.write(proc.stderr)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        print(proc.stdout)
        return proc.returncode or 1
    res = json.loads(lines[-1][len("RESULT "):])
    res["repeat"] = args.repeat
    bw, alpha = fit_ring([{"bytes": p["bytes"], "s": p["best_s"]} for p in res["allreduce"]], res["world_size"])
    res["fit"] = {"bw_Bps": bw, "alpha_s": alpha}
    res["model"] = {}
    for name, r in res["workloads"].items():
        cpu = r["cpu_step_s"]
        compute = cpu["B"]
        # t(B) = c + f and t(B/2) = c / 2 + f give the part f that does not shrink with the batch
        fixed = float(min(max(2 * cpu["B/2"] - compute, 0.0), compute))
        res["model"][name] = {"compute_s": compute, "fixed_s": fixed, "grad_bytes": r["grad_bytes"],
                              "links": {link: {"ideal": predict(compute, r["grad_bytes"], lbw, alpha),
                                               "fitted": predict(compute, r["grad_bytes"], lbw, alpha, fixed)}
                                        for link, lbw in LINKS.items()}}
    text = report(res)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
