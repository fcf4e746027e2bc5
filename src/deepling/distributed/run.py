"""The launcher (torchrun's role): ``deepling run -n 2 -- python train.py ...``.

Starts N copies of the command as the ranks of one MPI job (``mpiexec``), each with the variables
a torchrun-started script expects: ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
and ``OMP_NUM_THREADS=1`` unless already set (as torchrun does, so that N ranks do not each start
a BLAS thread per core). ``python -m deepling.distributed.run -n 2 train.py`` works too; a command
that starts with a ``.py`` file runs under this Python. Exits with the job's exit code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["find_mpiexec", "launch_command", "main"]


def find_mpiexec() -> str:
    """The ``mpiexec`` next to this Python (the mpich wheel installs it in the venv's bin), else on PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise RuntimeError("deepling run: no mpiexec found; pip install 'deepling[distributed]' (mpi4py and mpich)")
    return found


def _is_open_mpi(mpiexec: str) -> bool:
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Open MPI" in out or "OpenRTE" in out


def launch_command(nproc: int, command: list[str], mpiexec: str | None = None) -> list[str]:
    """The ``mpiexec`` command line that starts ``command`` as ranks 0..nproc-1, one per section
    (MPMD), each section setting that rank's torchrun variables."""
    if nproc < 1:
        raise ValueError(f"deepling run: -n must be at least 1, got {nproc}")
    if not command:
        raise ValueError("deepling run: no command given (usage: deepling run -n 2 -- python script.py)")
    if command[0].endswith(".py"):
        command = [sys.executable, *command]
    mpiexec = mpiexec or find_mpiexec()
    openmpi = _is_open_mpi(mpiexec)
    line = [mpiexec]
    if openmpi and os.geteuid() == 0:
        line.append("--allow-run-as-root")
    for rank in range(nproc):
        env = {"RANK": rank, "LOCAL_RANK": rank, "WORLD_SIZE": nproc, "LOCAL_WORLD_SIZE": nproc,
               "GROUP_RANK": 0, "ROLE_RANK": rank}
        if "OMP_NUM_THREADS" not in os.environ:
            env["OMP_NUM_THREADS"] = 1
        if rank:
            line.append(":")
        line += ["-n", "1"]
        for k, v in env.items():
            line += ["-x", f"{k}={v}"] if openmpi else ["-env", k, str(v)]
        line += command
    return line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="deepling run", description="Start a script on N local ranks (torchrun's role), "
                                "over MPI: deepling run -n 2 -- python train.py")
    p.add_argument("-n", "--nproc-per-node", "--nproc_per_node", dest="nproc", type=int, default=1,
                   help="number of ranks (processes) to start")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        line = launch_command(args.nproc, command)
    except (ValueError, RuntimeError) as e:
        p.error(str(e))
    return subprocess.call(line)


if __name__ == "__main__":
    sys.exit(main())
