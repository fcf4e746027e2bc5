"""PyTorch's DistributedDataParallel (gloo) on the same workloads and cores, beside deepling's.

    python -m benchmarks.distributed_torch [--workloads mlp,lenet,cnn_bn,gpt] [--repeat 7] [--json OUT]

The yardstick for ``benchmarks/distributed.py``: what the reference implementation reaches on this
machine with the same models, batches, optimizers and one compute thread per rank. It starts 2 ranks
itself (``torch.distributed`` with the gloo backend over 127.0.0.1, as a user without MPI runs
PyTorch on CPUs) and, as ``benchmarks/distributed.py`` does, alternates rounds between "1 rank"
(rank 0 trains the plain model while rank 1 waits in a barrier) and "2 ranks" with B/2 each
(strong scaling) or B each (weak scaling). Printed: samples/s and speedups, median and best of the
rounds, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))
if str(_ROOT / "src") not in sys.path:
    sys.path.insert(0, str(_ROOT / "src"))

DEFAULT_WORKLOADS = ["mlp", "lenet", "cnn_bn", "gpt"]


def _time(fn: Any, inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def worker(workloads: list[str], repeat: int) -> dict[str, Any]:
    import numpy as np
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from benchmarks import suite

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()

    def slowest(seconds: float) -> float:
        t = torch.tensor([seconds], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    out: dict[str, Any] = {}
    for name in workloads:
        w = suite.WORKLOADS[name]
        x, y = suite._inputs(name, w.batch)
        half = w.batch // world
        sl = slice(rank * half, (rank + 1) * half)
        torch.manual_seed(0)
        single = suite._stepper(torch, name, suite._torch_model(name), x, y, True) if rank == 0 else None
        steppers = {}
        for mode, (bx, by) in {"strong": (x[sl], y[sl]), "weak": (x, y)}.items():
            torch.manual_seed(0)
            steppers[mode] = suite._stepper(torch, name, DDP(suite._torch_model(name)), np.ascontiguousarray(bx),
                                            np.ascontiguousarray(by), True)
        inner = max(1, w.inner)
        for fn in [single, *steppers.values()]:
            if fn is not None:
                for _ in range(2):
                    fn()
        t: dict[str, list[float]] = {"single": [], "strong": [], "weak": []}
        for r in range(repeat):
            order = ["single", "strong", "weak"] if r % 2 == 0 else ["weak", "strong", "single"]
            for mode in order:
                dist.barrier()
                if mode == "single":
                    s = _time(single, inner) if rank == 0 else 0.0
                else:
                    s = _time(steppers[mode], inner)
                t[mode].append(slowest(s))
        if rank == 0:
            res: dict[str, Any] = {"batch": w.batch, "step_s": t}
            for stat, f in (("median", statistics.median), ("best", min)):
                s = {k: float(f(v)) for k, v in t.items()}
                res[stat] = {"1 rank": w.batch / s["single"], "speedup_strong": s["single"] / s["strong"],
                             "speedup_weak": world * s["single"] / s["weak"]}
            out[name] = res
            print(f"# {name}: {json.dumps(res)}", flush=True)
    dist.destroy_process_group()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _table(results: dict[str, Any], stat: str) -> str:
    lines = [f"{stat} of the rounds:", "",
             "| workload | batch B | 1 rank samples/s | 2 ranks, B/2 each | 2 ranks, B each |",
             "|---|---:|---:|---:|---:|"]
    for name, r in results.items():
        s = r[stat]
        lines.append(f"| {name} | {r['batch']} | {s['1 rank']:.0f} | {s['speedup_strong']:.2f}x | {s['speedup_weak']:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default=",".join(DEFAULT_WORKLOADS))
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    names = [n for n in a.workloads.split(",") if n]
    if a.worker:
        res = worker(names, a.repeat)
        if int(os.environ["RANK"]) == 0 and a.json is not None:
            a.json.write_text(json.dumps(res, indent=1))
        return 0
    import torch

    load0 = os.getloadavg()
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": "2",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    tmp = a.json or Path(f".distributed_torch-{os.getpid()}.json")
    cmd = [sys.executable, "-m", "benchmarks.distributed_torch", "--worker", "--workloads", ",".join(names),
           "--repeat", str(a.repeat), "--json", str(tmp)]
    procs = [subprocess.Popen(cmd, cwd=_ROOT, env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}) for r in range(2)]
    codes = [q.wait() for q in procs]
    if any(codes):
        print(f"distributed_torch: a rank failed (exit codes {codes})", file=sys.stderr)
        return 1
    results = json.loads(tmp.read_text())
    if a.json is None:
        tmp.unlink()
    load1 = os.getloadavg()
    print(f"PyTorch {torch.__version__} DistributedDataParallel, gloo over 127.0.0.1, 2 ranks, 1 thread each; "
          f"load average {load0[0]:.1f} -> {load1[0]:.1f}\n")
    print(_table(results, "median"))
    print()
    print(_table(results, "best"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
