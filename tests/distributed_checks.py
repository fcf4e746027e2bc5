"""Checks run inside ``mpiexec -n 2`` by tests/test_distributed.py (one job runs them all).

Each rank writes ``{"rank": r, "results": {...}}`` as JSON to ``$DEEPLING_TEST_OUT/rank{r}.json``
(or prints it); the test asserts on rank 0's
(and, where it matters, every rank's) numbers. Usage: ``python distributed_checks.py CHECK...``
or ``python distributed_checks.py all``; ``raise`` and ``stall`` are the failure scenarios.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

import deepling as torch
import deepling.distributed as dist
import deepling.nn as nn
import deepling.nn.functional as F
from deepling.nn.parallel import DistributedDataParallel as DDP

B = 16  # global batch; each of the 2 ranks takes B / 2


def params_and_buffers(model: nn.Module) -> list[np.ndarray]:
    return [t.array.copy() for t in list(model.parameters()) + [b for b in model.buffers() if b.dtype.kind == "f"]]


def max_rel_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """max |a - b| / (1 + max |b|) over all tensors (relative to each tensor's scale)."""
    return max(float(np.max(np.abs(x - y)) / (1.0 + np.max(np.abs(y)))) for x, y in zip(a, b))


def same_on_all_ranks(arrays: list[np.ndarray]) -> bool:
    """True when every rank's arrays equal rank 0's bit for bit."""
    ok = True
    for a in arrays:
        t = torch.Tensor._wrap(a.copy())
        dist.broadcast(t, 0)
        ok &= bool(np.array_equal(t.array, a))
    flag = torch.Tensor._wrap(np.array([0.0 if ok else 1.0]))
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.array[0] == 0)


# ----------------------------------------------------------------------------- models and data
def make_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 3))


def make_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


class LSTMNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(5, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


MODELS = {"mlp": make_mlp, "cnn": make_cnn, "lstm": LSTMNet}


def batch(kind: str, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(1000 + step)
    if kind == "mlp":
        return torch.tensor(rng.standard_normal((B, 10)), dtype="float32"), torch.tensor(rng.integers(0, 3, B))
    if kind == "cnn":
        return torch.tensor(rng.standard_normal((B, 1, 8, 8)), dtype="float32"), torch.tensor(rng.integers(0, 3, B))
    return torch.tensor(rng.standard_normal((B, 6, 5)), dtype="float32"), torch.tensor(
        rng.standard_normal((B, 2)), dtype="float32")


def loss_fn(kind: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(out, y) if kind == "lstm" else F.cross_entropy(out, y)


def optimizer(name: str, params: object) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.1, momentum=0.9) if name == "sgd" else torch.optim.AdamW(params, lr=1e-2)


def reference(kind: str, opt_name: str, halves: bool, steps: int = 20) -> list[np.ndarray]:
    """One process, rank 0's initial weights. ``halves``: BatchNorm sees each half of the batch
    separately (what plain BN does under 2-rank DDP: loss = mean of the two half-batch losses,
    running statistics from rank 0's half, which DDP broadcasts before each forward)."""
    torch.manual_seed(100)  # rank 0's seed
    model = MODELS[kind]()
    opt = optimizer(opt_name, model.parameters())
    h = B // 2
    for step in range(steps):
        x, y = batch(kind, step)
        opt.zero_grad()
        if halves:
            bufs = [b.array.copy() for b in model.buffers()]
            l1 = loss_fn(kind, model(x[h:]), y[h:])
            for b, saved in zip(model.buffers(), bufs):  # rank 1's statistics are overwritten by rank 0's
                b.array[...] = saved
            l0 = loss_fn(kind, model(x[:h]), y[:h])
            loss = (l0 + l1) / 2
        else:
            loss = loss_fn(kind, model(x), y)
        loss.backward()
        opt.step()
    return params_and_buffers(model)


def data_parallel(kind: str, opt_name: str, sync_bn: bool, steps: int = 20, **ddp_kwargs: object) -> list[np.ndarray]:
    rank = dist.get_rank()
    torch.manual_seed(100 + rank)  # different on each rank: DDP's broadcast must make them equal
    model = MODELS[kind]()
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = DDP(model, **ddp_kwargs)
    opt = optimizer(opt_name, ddp.parameters())
    h = B // 2
    for step in range(steps):
        x, y = batch(kind, step)
        opt.zero_grad()
        loss_fn(kind, ddp(x[rank * h:(rank + 1) * h]), y[rank * h:(rank + 1) * h]).backward()
        opt.step()
    return params_and_buffers(ddp.module)


def check_equivalence() -> dict:
    res = {}
    for kind in ("mlp", "cnn", "lstm"):
        for opt_name in ("sgd", "adamw"):
            variants = [("", False)] if kind != "cnn" else [("", False), ("_syncbn", True)]
            for suffix, sync_bn in variants:
                halves = kind == "cnn" and not sync_bn
                ref = reference(kind, opt_name, halves)
                got = data_parallel(kind, opt_name, sync_bn, bucket_cap_mb=0.001)  # several buckets
                full = reference(kind, opt_name, False) if halves else ref
                n_params = len(list(MODELS[kind]().parameters()))
                res[f"{kind}{suffix}_{opt_name}"] = {
                    "diff": max_rel_diff(got, ref), "identical_params": same_on_all_ranks(got[:n_params]),
                    "diff_vs_full_batch": max_rel_diff(got, full)}
    return res


def check_broadcast() -> dict:
    rank = dist.get_rank()
    torch.manual_seed(7 + rank)
    model = make_cnn()
    with torch.no_grad():
        model[1].running_mean.array[...] = rank + 1.0  # a buffer too
    before = same_on_all_ranks(params_and_buffers(model))
    ddp = DDP(model)
    torch.manual_seed(7)
    rank0 = make_cnn()
    rank0[1].running_mean.array[...] = 1.0
    return {"differ_before": not before, "identical_after": same_on_all_ranks(params_and_buffers(ddp.module)),
            "equals_rank0": max_rel_diff(params_and_buffers(ddp.module), params_and_buffers(rank0)) == 0.0,
            "state_dict_keys": list(ddp.state_dict())[:3]}


def check_no_sync() -> dict:
    """PyTorch's semantics: backward inside no_sync accumulates local gradients only; the next
    backward outside it all-reduces the accumulated sum (average over ranks of g1 + g2)."""
    rank = dist.get_rank()
    torch.manual_seed(3)
    model = make_mlp()
    ddp = DDP(model)
    x1, y1 = batch("mlp", 1)
    x2, y2 = batch("mlp", 2)
    h = B // 2
    s = slice(rank * h, (rank + 1) * h)
    with ddp.no_sync():
        F.cross_entropy(ddp(x1[s]), y1[s]).backward()
    local_after_first = [p.grad.array.copy() for p in model.parameters()]
    F.cross_entropy(ddp(x2[s]), y2[s]).backward()
    synced = [p.grad.array.copy() for p in model.parameters()]
    # Expected: the same model without DDP, both backwards locally, then the average over ranks.
    torch.manual_seed(3)
    plain = make_mlp()
    F.cross_entropy(plain(x1[s]), y1[s]).backward()
    first = [p.grad.array.copy() for p in plain.parameters()]
    F.cross_entropy(plain(x2[s]), y2[s]).backward()
    expected = []
    for p in plain.parameters():
        t = torch.Tensor._wrap(p.grad.array.copy())
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        expected.append(t.array)
    return {"first_is_local": max_rel_diff(local_after_first, first),
            "first_differs_across_ranks": not same_on_all_ranks(local_after_first),
            "synced_diff": max_rel_diff(synced, expected), "synced_identical": same_on_all_ranks(synced)}


def check_collectives() -> dict:
    rank, n = dist.get_rank(), dist.get_world_size()
    out = {}
    for op, want in ((dist.ReduceOp.SUM, 3.0), (dist.ReduceOp.AVG, 1.5), (dist.ReduceOp.MAX, 2.0),
                     (dist.ReduceOp.MIN, 1.0), (dist.ReduceOp.PRODUCT, 2.0)):
        t = torch.full((2, 3), rank + 1.0)
        dist.all_reduce(t, op=op)
        out[f"all_reduce_{op}"] = bool(np.all(t.array == want))
    t = torch.arange(12.0).reshape(3, 4)[:, ::2] * (rank + 1)  # a non-contiguous view, reduced in place
    dist.all_reduce(t)
    out["all_reduce_view"] = bool(np.array_equal(t.array, 3 * np.arange(12.0).reshape(3, 4)[:, ::2]))
    t = torch.full((4,), float(rank))
    dist.broadcast(t, src=1)
    out["broadcast"] = bool(np.all(t.array == 1.0))
    parts = [torch.zeros(2, dtype="int64") for _ in range(n)]
    dist.all_gather(parts, torch.tensor([rank, 10 * rank]))
    out["all_gather"] = [p.tolist() for p in parts] == [[0, 0], [1, 10]]
    whole = torch.zeros(2 * n)
    dist.all_gather_into_tensor(whole, torch.full((2,), float(rank)))
    out["all_gather_into_tensor"] = whole.tolist() == [0.0, 0.0, 1.0, 1.0]
    o = torch.zeros(2)
    dist.reduce_scatter(o, [torch.full((2,), 1.0 + rank), torch.full((2,), 10.0 + rank)])
    out["reduce_scatter"] = o.tolist() == ([3.0, 3.0] if rank == 0 else [21.0, 21.0])
    w = dist.all_reduce(torch.ones(3), async_op=True)
    out["async_wait"] = w.wait() and w.is_completed()
    dist.barrier()
    try:
        dist.all_reduce(torch.ones(2, dtype="int64"), op=dist.ReduceOp.AVG)
        out["avg_int_error"] = False
    except TypeError as e:
        out["avg_int_error"] = "AVG" in str(e)
    out["rank"], out["world_size"] = dist.get_rank(), dist.get_world_size()
    return out


def _fit_run(epochs: int, checkpoint: str | None = None, resume: object = False, max_steps: int | None = None) -> dict:
    """fit on whatever ranks this job has: an MLP on 40 samples, global batch 8, shuffled, validation."""
    from deepling.data import DataLoader, TensorDataset
    from deepling.train import fit

    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((40, 10)), dtype="float32")
    y = torch.tensor(rng.integers(0, 3, 40))
    torch.manual_seed(11 + dist.get_rank())  # DDP inside fit makes the replicas equal
    model = make_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    val = DataLoader(TensorDataset(x[:13], y[:13]), batch_size=4)
    torch.manual_seed(5)  # the sampler seed is drawn on rank 0 from this
    hist = fit(model, train, F.cross_entropy, opt, epochs, val_loader=val, checkpoint=checkpoint, resume=resume,
               progress=True, max_steps=max_steps)
    return {"params": [p.array.ravel().tolist() for p in model.parameters()], "history": hist.to_dict()["history"]}


def check_fit() -> dict:
    """2 epochs straight, and 1 epoch with a checkpoint (resumed by a 1-rank job in the test)."""
    ckpt = os.environ["DEEPLING_TEST_CKPT"]
    straight = _fit_run(2)
    _fit_run(1, checkpoint=ckpt)
    _fit_run(2, checkpoint=ckpt + ".mid", max_steps=7)  # 5 batches per epoch: stops at batch 2 of epoch 2
    return {"straight": straight, "rank0_wrote": os.path.exists(ckpt)}


def check_fit_resume() -> dict:
    ckpt = os.environ["DEEPLING_TEST_CKPT"]
    return {"resumed": _fit_run(2, checkpoint=ckpt + ".resumed", resume=ckpt), "straight": _fit_run(2),
            "resumed_mid_epoch": _fit_run(2, checkpoint=ckpt + ".mid.resumed", resume=ckpt + ".mid")}


CHECKS = {"fit": check_fit, "fit_resume": check_fit_resume, "collectives": check_collectives, "broadcast": check_broadcast, "no_sync": check_no_sync,
          "equivalence": check_equivalence}


def main(argv: list[str]) -> None:
    if argv and argv[0] == "raise":
        dist.init_process_group("mpi")
        if dist.get_rank() == 1:
            time.sleep(0.2)
            raise RuntimeError("boom on purpose")
        dist.all_reduce(torch.ones(3))  # rank 0 waits here for a rank that is gone
        return
    if argv and argv[0] == "stall":
        dist.init_process_group("mpi", timeout=1.0)
        if dist.get_rank() == 1:
            time.sleep(30)  # never joins
        dist.all_reduce(torch.ones(3))
        return
    dist.init_process_group("mpi")
    names = [n for n in CHECKS if n != "fit_resume"] if argv in ([], ["all"]) else argv
    results = {name: CHECKS[name]() for name in names}
    text = json.dumps({"rank": dist.get_rank(), "results": results})
    out_dir = os.environ.get("DEEPLING_TEST_OUT")
    if out_dir:  # one file per rank: the ranks' stdout lines may interleave
        with open(os.path.join(out_dir, f"rank{dist.get_rank()}.json"), "w") as f:
            f.write(text)
    else:
        print(text, flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])
