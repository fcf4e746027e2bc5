"""deepling.distributed, DistributedDataParallel, SyncBatchNorm, DistributedSampler, the launcher.

Multi-process checks run for real under ``mpiexec -n 2`` (the mpich wheel of the ``distributed``
extra): one job runs all of tests/distributed_checks.py and each test asserts on its results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import deepling
import deepling.distributed as dist
from deepling.data import DistributedSampler
from deepling.distributed.run import find_mpiexec, launch_command

HERE = Path(__file__).parent
SRC = HERE.parent / "src"
CHECKS = HERE / "distributed_checks.py"
TOL = 1e-5  # max |a - b| / (1 + max |b|) per tensor: float32 rounding, measured <= 2e-7


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"
    return env


def _mpiexec(*args: str, timeout: float = 120, n: int = 2, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([find_mpiexec(), "-n", str(n), sys.executable, str(CHECKS), *args], capture_output=True,
                          text=True, timeout=timeout, env=env or _env())


def _results(proc: subprocess.CompletedProcess, n: int, env: dict) -> dict[int, dict]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = {}
    for r in range(n):
        path = Path(env["DEEPLING_TEST_OUT"]) / f"rank{r}.json"
        out[r] = json.loads(path.read_text())["results"]
        path.unlink()
    return out


@pytest.fixture(scope="module")
def ckpt_env(tmp_path_factory) -> dict:
    env = _env()
    d = tmp_path_factory.mktemp("dist")
    env["DEEPLING_TEST_CKPT"], env["DEEPLING_TEST_OUT"] = str(d / "fit.ckpt"), str(d)
    return env


@pytest.fixture(scope="module")
def ranks(ckpt_env) -> dict[int, dict]:
    """Every check of distributed_checks.py, run once in one 2-rank job: {rank: results}."""
    proc = _mpiexec("all", env=ckpt_env)
    res = _results(proc, 2, ckpt_env)
    res["stderr"] = proc.stderr
    return res


# ---------------------------------------------------------------------------- 2 ranks
def test_collectives_in_place(ranks):
    for r in (0, 1):
        res = ranks[r]["collectives"]
        assert res.pop("rank") == r and res.pop("world_size") == 2
        assert all(res.values()), res


def test_construction_broadcasts_rank0_parameters_and_buffers(ranks):
    for r in (0, 1):
        b = ranks[r]["broadcast"]
        assert b["differ_before"] and b["identical_after"] and b["equals_rank0"]
        assert b["state_dict_keys"] == ["module.0.weight", "module.1.weight", "module.1.bias"]


def test_no_sync_accumulates_locally_then_syncs_the_sum(ranks):
    for r in (0, 1):
        n = ranks[r]["no_sync"]
        assert n["first_is_local"] == 0.0 and n["first_differs_across_ranks"]
        assert n["synced_diff"] < TOL and n["synced_identical"]


@pytest.mark.parametrize("opt", ["sgd", "adamw"])
@pytest.mark.parametrize("model", ["mlp", "lstm", "cnn_syncbn"])
def test_two_ranks_half_batch_equal_one_process_full_batch(ranks, model, opt):
    """20 steps, 2 ranks x B/2 vs 1 process x B: same parameters (and BN running stats) to float32 rounding."""
    for r in (0, 1):
        e = ranks[r]["equivalence"][f"{model}_{opt}"]
        assert e["diff"] < TOL, e
        assert e["identical_params"]


@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_plain_batchnorm_uses_per_rank_statistics(ranks, opt):
    """Plain BatchNorm under DDP normalizes each rank's B/2 by its own statistics, so it does NOT
    match 1 x B; it matches one process that normalizes each half separately, with rank 0's running
    statistics (DDP broadcasts rank 0's buffers before each forward)."""
    e0, e1 = ranks[0]["equivalence"][f"cnn_{opt}"], ranks[1]["equivalence"][f"cnn_{opt}"]
    assert e0["diff"] < TOL, e0  # rank 0: parameters and buffers
    assert e0["identical_params"] and e1["identical_params"]
    assert e0["diff_vs_full_batch"] > 1e-3  # the difference from 1 x B is real, not rounding


def _max_diff(a: list, b: list) -> float:
    return max(float(np.max(np.abs(np.array(x) - np.array(y)))) for x, y in zip(a, b))


def test_fit_two_ranks_equals_one_rank_and_resumes_on_another_count(ranks, ckpt_env):
    """fit on 2 ranks (global batch 8 = 2 x 4) takes the steps of 1 rank (batch 8, the same sampler
    order); its rank-0 checkpoints, after epoch 1 and in the middle of epoch 2, resume on 1 rank to
    the same end point and the same logged epoch means."""
    two = ranks[0]["fit"]["straight"]
    assert ranks[0]["fit"]["rank0_wrote"]
    assert _max_diff(two["params"], ranks[1]["fit"]["straight"]["params"]) == 0.0
    assert ranks["stderr"].count("epoch 2/2  accuracy") == 1  # only rank 0 reports
    one = _results(_mpiexec("fit_resume", n=1, env=ckpt_env), 1, ckpt_env)[0]["fit_resume"]
    assert _max_diff(two["params"], one["straight"]["params"]) < 1e-6
    for run in ("straight", "resumed", "resumed_mid_epoch"):
        assert _max_diff(two["params"], one[run]["params"]) < 1e-6, run
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(two["history"][key], one[run]["history"][key], rtol=1e-6, err_msg=run)


def test_a_raising_rank_ends_the_job_within_seconds():
    start = time.monotonic()
    proc = _mpiexec("raise", timeout=60)
    took = time.monotonic() - start
    assert proc.returncode != 0
    assert "rank 1 of 2 raised RuntimeError: boom on purpose" in proc.stderr
    assert took < 30, took  # rank 0 was blocked in all_reduce: aborted, not hung (~3 s: imports and the abort)


def test_a_stalled_collective_times_out_with_a_clear_error():
    start = time.monotonic()
    proc = _mpiexec("stall", timeout=60)
    took = time.monotonic() - start
    assert proc.returncode != 0
    assert "all_reduce on rank 0 of 2 timed out after 1 s" in proc.stderr
    assert took < 25, took  # rank 1 sleeps 30 s: the 1 s timeout, not rank 1, ended the job


def test_launcher_sets_torchrun_variables(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(
        "import os, deepling, deepling.distributed as dist\n"
        "dist.init_process_group('gloo')\n"
        "t = deepling.ones(1) * dist.get_rank(); dist.all_reduce(t)\n"
        "line = ' '.join(map(str, [os.environ['RANK'], os.environ['LOCAL_RANK'], os.environ['WORLD_SIZE'], "
        "dist.get_rank(), t.item()]))\n"
        f"open(r'{tmp_path}' + f'/r{{dist.get_rank()}}', 'w').write(line)\n")
    env = _env()
    env.pop("OMP_NUM_THREADS")
    proc = subprocess.run([sys.executable, "-m", "deepling.distributed.run", "-n", "2", "--", str(script)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r0").read_text() == "0 0 2 0 1.0" and (tmp_path / "r1").read_text() == "1 1 2 1 1.0"


def test_launch_command_is_mpmd_with_one_section_per_rank():
    line = launch_command(2, ["python", "x.py"], mpiexec="/nonexistent/mpiexec")
    assert line.count(":") == 1 and line.count("RANK") == 2 and line[-2:] == ["python", "x.py"]
    with pytest.raises(ValueError, match="-n must be at least 1"):
        launch_command(0, ["python"])
    with pytest.raises(ValueError, match="no command"):
        launch_command(2, [])


# ---------------------------------------------------------------------------- one process
def test_without_a_process_group():
    assert dist.is_available() and not dist.is_initialized()
    with pytest.raises(ValueError, match="has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="init_process_group"):
        deepling.nn.parallel.DistributedDataParallel(deepling.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="backend 'nccl' is not available"):
        dist.init_process_group("nccl")
    # SyncBatchNorm without a group is BatchNorm (PyTorch's fallback)
    deepling.manual_seed(0)
    x = deepling.randn(4, 3, 2, 2)
    sbn, bn = deepling.nn.SyncBatchNorm(3), deepling.nn.BatchNorm2d(3)
    np.testing.assert_array_equal(sbn(x).array, bn(x).array)


def test_convert_sync_batchnorm_shares_parameters():
    net = deepling.nn.Sequential(deepling.nn.Conv2d(1, 2, 3), deepling.nn.BatchNorm2d(2), deepling.nn.ReLU())
    w = net[1].weight
    conv = deepling.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(conv[1], deepling.nn.SyncBatchNorm) and conv[1].weight is w
    assert list(conv.state_dict()) == list(net.state_dict())
    tnet = torch.nn.SyncBatchNorm.convert_sync_batchnorm(
        torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU()))
    assert list(tnet.state_dict()) == list(conv.state_dict())


def test_post_accumulate_grad_hook_like_pytorch():
    seen, tseen = [], []
    w = deepling.tensor([1.0, 2.0], requires_grad=True)
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    h = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.array.copy()))
    tw.register_post_accumulate_grad_hook(lambda t: tseen.append(t.grad.numpy().copy()))
    for _ in range(2):  # the second pass sees the accumulated gradient
        ((w * w).sum() + w.sum()).backward()
        ((tw * tw).sum() + tw.sum()).backward()
    np.testing.assert_allclose(np.array(seen), np.array(tseen))
    h.remove()
    (w * 1).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)


# ---------------------------------------------------------------------------- the sampler
@pytest.mark.parametrize("n", [10, 11, 13, 3])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_matches_pytorch_without_shuffle(n, replicas, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    data = list(range(n))
    for rank in range(replicas):
        ours = DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("n", [10, 11, 3])
@pytest.mark.parametrize("replicas", [2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_sampler_partitions_are_disjoint_and_complete(n, replicas, drop_last, shuffle):
    data = list(range(n))
    parts = []
    for rank in range(replicas):
        s = DistributedSampler(data, replicas, rank, shuffle=shuffle, seed=5, drop_last=drop_last)
        s.set_epoch(2)
        parts.append(list(s))
    sizes = {len(p) for p in parts}
    assert len(sizes) == 1  # every rank gets the same number of samples (collectives stay in step)
    flat = [i for p in parts for i in p]
    if drop_last:
        assert len(set(flat)) == len(flat) == (n // replicas) * replicas  # disjoint, the remainder dropped
    else:
        assert set(flat) == set(data)  # complete
        assert len(flat) - len(set(flat)) == len(flat) - n  # only the padding repeats
    uncovered = max(0, n - len(flat))
    assert uncovered < replicas


def test_sampler_under_pytorchs_import_paths():
    import deepling.utils.data as dud
    from deepling.utils.data.distributed import DistributedSampler as FromPath

    assert FromPath is DistributedSampler and dud.DistributedSampler is DistributedSampler


def test_sampler_shuffle_is_seeded_by_seed_plus_epoch():
    a = DistributedSampler(range(20), 2, 0, seed=1)
    b = DistributedSampler(range(20), 2, 1, seed=1)
    first = list(a)
    assert list(a) == first  # same epoch, same order
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) != first and set(a).isdisjoint(set(b)) and sorted(list(a) + list(b)) == list(range(20))
    c = DistributedSampler(range(20), 2, 0, seed=0)
    c.set_epoch(1)
    assert list(c) == list(DistributedSampler(range(20), 2, 0, seed=1))  # seed + epoch is what counts
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), 2, 2)
    with pytest.raises(RuntimeError, match="process group"):
        DistributedSampler(range(4))


def test_cli_train_distributed_through_the_launcher(tmp_path):
    """deepling run -n 2 -- python -m deepling train --distributed: rank 0 alone prints and writes."""
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "deepling", "run", "-n", "2", "--", sys.executable, "-m", "deepling",
                           "train", "--distributed", "--epochs", "1", "--out", str(out), "--no-plots", "--no-progress"],
                          capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("on 2 ranks") == 1 and proc.stdout.count("test accuracy") == 1
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.ckpt", "history.json", "metrics.json"]
    acc = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    assert acc > 0.8  # one epoch of the digits MLP
    state = deepling.load(out / "checkpoint.ckpt")
    assert not any(k.startswith("module.") for k in state["model"])  # loads without DDP
