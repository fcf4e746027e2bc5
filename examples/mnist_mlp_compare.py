"""MNIST MLP, deepling next to PyTorch: the same 784-512-256-10 network, data, schedule and threads.

    python examples/mnist_mlp_compare.py [--data-dir DIR] [--epochs 10] [--threads 2]

The data is found as everywhere in deepling (``deepling.data.location``: $DEEPLING_DATA/mnist,
../shared/data/mnist, ~/.cache/deepling/mnist) unless ``--data-dir`` says otherwise.

ReLU, dropout 0.2, Adam lr 1e-3, batch 128, shuffled each epoch. Both frameworks start from the same
initial weights and see the same normalized data; BLAS (deepling's NumPy) and torch are both limited
to ``--threads`` threads. Prints test accuracy and seconds per epoch of each, and which BLAS ran.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np


def load_mnist(data_dir: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from deepling.data import load_dataset

    def prep(train: bool) -> tuple[np.ndarray, np.ndarray]:
        x, y, _ = load_dataset("mnist", train, data_dir)
        return (x.reshape(len(x), -1) - np.float32(0.1307)) / np.float32(0.3081), y

    return (*prep(True), *prep(False))


def run_deepling(init: dict, data: tuple, epochs: int, seed: int) -> dict:
    import deepling as dl
    from deepling import nn, optim
    from deepling.data import DataLoader, TensorDataset
    from deepling.models import MLP

    Xtr, ytr, Xte, yte = data
    dl.manual_seed(seed)
    model = MLP(784, [512, 256], 10, dropout=0.2)
    model.load_state_dict(init)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=128, shuffle=True)
    times = []
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        total = 0.0
        for x, y in loader:
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
        times.append(time.perf_counter() - t0)
        print(f"  deepling epoch {epoch + 1}: loss {total / len(ytr):.4f}  {times[-1]:.2f}s", flush=True)
    model.eval()
    with dl.no_grad():
        pred = np.concatenate([model(dl.tensor(Xte[i : i + 1000])).array.argmax(1) for i in range(0, len(Xte), 1000)])
    acc = float((pred == yte).mean())
    print(f"  deepling test accuracy: {100 * acc:.2f}%", flush=True)
    return {"test_accuracy": acc, "epoch_seconds": times}


def run_torch(init: dict, data: tuple, epochs: int, seed: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    Xtr, ytr, Xte, yte = (torch.from_numpy(a) for a in data)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(256, 10))
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in init.items()})
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        total = 0.0
        perm = torch.randperm(len(ytr))
        for i in range(0, len(ytr), 128):  # index batches directly, as deepling's DataLoader does
            idx = perm[i : i + 128]
            x, y = Xtr[idx], ytr[idx]
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
        times.append(time.perf_counter() - t0)
        print(f"  torch    epoch {epoch + 1}: loss {total / len(ytr):.4f}  {times[-1]:.2f}s", flush=True)
    model.eval()
    with torch.no_grad():
        pred = model(Xte).argmax(1)
    acc = float((pred == yte).float().mean())
    print(f"  torch    test accuracy: {100 * acc:.2f}%", flush=True)
    return {"test_accuracy": acc, "epoch_seconds": times}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--framework", choices=["both", "deepling", "torch"], default="both")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = p.parse_args(argv)

    from threadpoolctl import threadpool_info, threadpool_limits

    import deepling as dl
    from deepling.models import MLP

    data = load_mnist(a.data_dir)
    dl.manual_seed(a.seed)
    init = {k: v.array.copy() for k, v in MLP(784, [512, 256], 10, dropout=0.2).state_dict().items()}
    results: dict = {"python": platform.python_version(), "numpy": np.__version__, "threads": a.threads,
                     "epochs": a.epochs}
    with threadpool_limits(limits=a.threads):
        results["blas"] = [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                           for i in threadpool_info() if i.get("user_api") == "blas"]
        print(f"BLAS: {results['blas']}", flush=True)
        if a.framework in ("both", "deepling"):
            results["deepling"] = run_deepling(init, data, a.epochs, a.seed)
        if a.framework in ("both", "torch"):
            import torch

            results["torch_version"] = torch.__version__
            results["torch"] = run_torch(init, data, a.epochs, a.seed, a.threads)
    print()
    print(f"{'framework':<10} {'test acc':>9} {'s/epoch (mean)':>15} {'s/epoch (median)':>17}")
    for name in ("deepling", "torch"):
        if name in results:
            r = results[name]
            s = np.asarray(r["epoch_seconds"])
            print(f"{name:<10} {100 * r['test_accuracy']:>8.2f}% {s.mean():>15.2f} {np.median(s):>17.2f}")
    if "deepling" in results and "torch" in results:
        ratio = np.median(results["deepling"]["epoch_seconds"]) / np.median(results["torch"]["epoch_seconds"])
        results["time_ratio_deepling_over_torch"] = float(ratio)
        print(f"deepling / torch time per epoch (median): {ratio:.2f}x")
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
