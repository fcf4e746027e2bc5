"""Convolution speed and LeNet-5 on MNIST, deepling beside PyTorch CPU in the same run.

    PYTHONPATH=src python -m benchmarks.conv                    # conv2d and resnet20 fwd+bwd ratios
    PYTHONPATH=src python -m benchmarks.conv --lenet-mnist 5    # + LeNet-5 on full MNIST, 5 epochs each
    PYTHONPATH=src python -m benchmarks.conv --threads 1        # limit BLAS (and torch) to 1 thread

Reports which BLAS (and kernel) ran, via threadpoolctl; torch gets as many threads as the BLAS.
Times are medians over repeats, deepling and torch runs interleaved.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as tnn

import deepling as dl
import deepling.nn.functional as F
from deepling.data import dataset_dir
from deepling.models.lenet import LeNet5
from deepling.models.resnet import resnet20


def blas_report() -> int:
    """Print the BLAS libraries in use and return their thread count."""
    from threadpoolctl import threadpool_info

    threads = 1
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            threads = info["num_threads"]
        print(f"  {info.get('internal_api')}: {info.get('version')} kernel={info.get('architecture')} "
              f"threads={info['num_threads']} ({Path(info['filepath']).name})")
    return threads


def timed(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    for f in fns.values():
        f()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def _ce(logits: dl.Tensor, y: np.ndarray) -> dl.Tensor:
    if hasattr(F, "cross_entropy"):
        return F.cross_entropy(logits, dl.tensor(y))
    logp = logits - logits.logsumexp(dim=1, keepdim=True)
    return -(logp * dl.tensor(np.eye(logits.shape[1], dtype=np.float32)[y])).sum() / logits.shape[0]


# ---------------------------------------------------------------------------- torch twins
class _TBlock(tnn.Module):
    def __init__(self, inp: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inp != planes:
            self.downsample = tnn.Sequential(tnn.Conv2d(inp, planes, 1, stride, bias=False), tnn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class _TResNet20(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(16)
        inp = 16
        for i, planes in enumerate((16, 32, 64)):
            blocks = []
            for j in range(3):
                blocks.append(_TBlock(inp, planes, 2 if (i and not j) else 1))
                inp = planes
            setattr(self, f"layer{i + 1}", tnn.Sequential(*blocks))
        self.fc = tnn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean(dim=(2, 3)))


def _t_lenet() -> tnn.Module:
    return tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(6, 16, 5), tnn.ReLU(),
                          tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84),
                          tnn.ReLU(), tnn.Linear(84, 10))


# ---------------------------------------------------------------------------- benchmarks
def bench_conv2d(repeats: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16, 28, 28)).astype(np.float32)
    w = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
    b = np.zeros(32, np.float32)
    g = rng.standard_normal((64, 32, 28, 28)).astype(np.float32)

    def ours() -> None:
        X, W, B = (dl.tensor(a, requires_grad=True) for a in (x, w, b))
        F.conv2d(X, W, B, padding=1).backward(g)

    tg = torch.tensor(g)

    def theirs() -> None:
        X, W, B = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        torch.nn.functional.conv2d(X, W, B, padding=1).backward(tg)

    t = timed({"deepling": ours, "torch": theirs}, repeats)
    print(f"conv2d fwd+bwd x(64,16,28,28) w(32,16,3,3) pad 1: deepling {t['deepling'] * 1e3:.1f} ms, "
          f"torch {t['torch'] * 1e3:.1f} ms, ratio {t['deepling'] / t['torch']:.2f}")


def _cifar_batch(n: int) -> tuple[np.ndarray, np.ndarray]:
    root = dataset_dir("cifar10")  # ../shared/data/cifar10-subset here (deepling.data.location)
    if root.exists():
        from deepling.data.datasets.cifar import CIFAR10

        ds = CIFAR10(root, train=True)
        x = ds.data[:n].transpose(0, 3, 1, 2).astype(np.float32) / 255
        return (x - 0.48) / 0.25, ds.targets[:n]
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, n)


def bench_resnet20(repeats: int) -> None:
    x, y = _cifar_batch(32)
    torch.manual_seed(0)
    tmodel = _TResNet20()
    model = resnet20()
    model.load_state_dict(tmodel.state_dict())
    tx, ty = torch.tensor(x), torch.tensor(y)

    def ours() -> None:
        model.zero_grad()
        _ce(model(dl.tensor(x)), y).backward()

    def theirs() -> None:
        tmodel.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(tx), ty).backward()

    t = timed({"deepling": ours, "torch": theirs}, repeats)
    print(f"resnet20 fwd+bwd, batch 32 CIFAR (3x32x32), train mode: deepling {t['deepling'] * 1e3:.0f} ms, "
          f"torch {t['torch'] * 1e3:.0f} ms, ratio {t['deepling'] / t['torch']:.2f}")


def _idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def bench_lenet_mnist(epochs: int, batch: int = 64, lr: float = 0.01, momentum: float = 0.9) -> None:
    root = dataset_dir("mnist")

    def load(prefix: str) -> tuple[np.ndarray, np.ndarray]:
        images = _idx(root / f"{prefix}-images-idx3-ubyte.gz")[:, None].astype(np.float32) / 255
        return (images - 0.1307) / 0.3081, _idx(root / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)

    (xtr, ytr), (xte, yte) = load("train"), load("t10k")
    print(f"LeNet-5 on MNIST ({len(xtr)} train / {len(xte)} test), SGD lr {lr} momentum {momentum}, batch {batch}")
    for name in ("deepling", "torch"):
        rng = np.random.default_rng(0)
        dl.manual_seed(0)
        torch.manual_seed(0)
        if name == "deepling":
            model = LeNet5()
            params = list(model.parameters())
            opt = dl.optim.SGD(params, lr=lr, momentum=momentum) if hasattr(dl, "optim") else None
            vel = [np.zeros_like(p.array) for p in params]
        else:
            tmodel = _t_lenet()
            topt = torch.optim.SGD(tmodel.parameters(), lr=lr, momentum=momentum)
        for epoch in range(epochs):
            order = rng.permutation(len(xtr))
            t0 = time.perf_counter()
            for i in range(0, len(order), batch):
                idx = order[i : i + batch]
                if name == "deepling":
                    loss = _ce(model(dl.tensor(xtr[idx])), ytr[idx])
                    model.zero_grad()
                    loss.backward()
                    if opt is not None:
                        opt.step()
                    else:
                        with dl.no_grad():
                            for p, v in zip(params, vel):
                                v *= momentum
                                v += p.grad.array
                                p.array -= lr * v
                else:
                    topt.zero_grad()
                    torch.nn.functional.cross_entropy(tmodel(torch.tensor(xtr[idx])), torch.tensor(ytr[idx])).backward()
                    topt.step()
            secs = time.perf_counter() - t0
            if name == "deepling":
                with dl.no_grad():
                    pred = np.concatenate([model(dl.tensor(xte[i : i + 1000])).array.argmax(1) for i in range(0, len(xte), 1000)])
            else:
                with torch.no_grad():
                    pred = tmodel(torch.tensor(xte)).argmax(1).numpy()
            print(f"  {name:8s} epoch {epoch + 1}: {secs:6.1f} s/epoch, test accuracy {(pred == yte).mean() * 100:.2f}%",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--lenet-mnist", type=int, default=0, metavar="EPOCHS", help="also train LeNet-5 on MNIST")
    parser.add_argument("--threads", type=int, default=0, help="BLAS and torch threads (default: the BLAS default)")
    parser.add_argument("--lr", type=float, default=0.01, help="LeNet SGD learning rate")
    parser.add_argument("--momentum", type=float, default=0.9, help="LeNet SGD momentum")
    parser.add_argument("--batch-size", type=int, default=64, help="LeNet mini-batch size")
    parser.add_argument("--skip-ops", action="store_true", help="only the LeNet run")
    args = parser.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads, user_api="blas")
    print("BLAS:")
    threads = blas_report()
    torch.set_num_threads(threads)
    print(f"torch {torch.__version__} with {torch.get_num_threads()} threads; numpy {np.__version__}")
    if not args.skip_ops:
        bench_conv2d(args.repeats)
        bench_resnet20(args.repeats)
    if args.lenet_mnist:
        bench_lenet_mnist(args.lenet_mnist, args.batch_size, args.lr, args.momentum)


if __name__ == "__main__":
    main()
