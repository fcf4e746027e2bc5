"""Before/after of one framework's step across checkouts: ``python -m benchmarks.ab OLD NEW``.

Each round runs the suite's fresh child (``benchmarks.suite --fresh-child``: one framework alone in
a new process, default settings, 3 warm-up steps, ``--repeat`` blocks) once per checkout, in
alternating order; the median over all blocks of all rounds is printed per checkout. Each child
imports deepling from its own checkout's ``src``, so OLD and NEW can be two worktrees of the repo,
e.g. ``git worktree add ../base main~3`` then ``python -m benchmarks.ab ../base . --threads 2``.
With ``--framework torch`` it times PyTorch's twin instead (checkouts then only change the twins).
More rounds than the suite's two fresh processes: on a shared VM a process's speed moves by 10-30%.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path


def run_child(tree: Path, name: str, framework: str, threads: int, repeat: int, clock: str) -> list[float]:
    """ms/step samples of one fresh child importing deepling (and the twins) from ``tree``."""
    cmd = [sys.executable, "-m", "benchmarks.suite", "--fresh-child", name, framework, "--repeat", str(repeat),
           "--clock", clock, "--threads", str(threads)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree / "src"), str(tree)]))
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env=env, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{tree}: fresh {framework} {name} failed: {out.stderr[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["samples_ms"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trees", nargs="+", type=Path, help="checkouts to compare (repository roots)")
    p.add_argument("--workloads", default="mlp,autoencoder,lenet,cnn_bn,resnet20,lstm,gpt")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=6, help="fresh processes per checkout and workload")
    p.add_argument("--repeat", type=int, default=5, help="timed blocks per process")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    p.add_argument("--framework", choices=("deepling", "torch"), default="deepling")
    a = p.parse_args(argv)
    trees = [t.resolve() for t in a.trees]
    for t in trees:
        if not (t / "benchmarks" / "suite.py").is_file():
            p.error(f"{t} is not a deepling checkout (no benchmarks/suite.py)")
    print(f"{a.framework}, {a.threads} threads, clock {a.clock}, {a.rounds} rounds x {a.repeat} blocks; "
          "median ms/step per checkout")
    print("| workload | " + " | ".join(t.name for t in trees) + " |")
    print("|---|" + "---:|" * len(trees))
    for name in a.workloads.split(","):
        samples: dict[Path, list[float]] = {t: [] for t in trees}
        for r in range(a.rounds):
            for t in trees if r % 2 == 0 else trees[::-1]:
                samples[t] += run_child(t, name, a.framework, a.threads, a.repeat, a.clock)
        print(f"| {name} | " + " | ".join(f"{statistics.median(samples[t]):.2f}" for t in trees) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
