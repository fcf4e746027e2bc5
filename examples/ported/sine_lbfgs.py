"""Fit a sine with L-BFGS, then keep training on endless random mini-batches: a PyTorch program.

Written for PyTorch; it runs on deepling by changing only the import lines (tests/test_ported_programs.py
does exactly that and runs both). Uses: LBFGS with the strong-Wolfe line search (closure), Adadelta,
Adamax, NAdam and RAdam, a RandomSampler drawing 10**10 samples with replacement (consumed for a
fixed number of steps), StepLR, and TensorBoard logging (scalars, a multi-curve chart, histograms,
text). Prints one line ``RESULT {...}`` with the losses.

    python examples/ported/sine_lbfgs.py --log-dir runs/sine
"""

import argparse
import json

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, RandomSampler, TensorDataset
from torch.utils.tensorboard import SummaryWriter


class Net(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.fc1 = nn.Linear(1, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.fc3(torch.tanh(self.fc2(torch.tanh(self.fc1(x)))))


def make_model(seed):
    """Weights from NumPy, so every framework starts from the same point."""
    model = Net().double()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, tuple(p.shape))))
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description="sine fit with LBFGS, then mini-batch optimizers")
    parser.add_argument("--lbfgs-steps", type=int, default=8)
    parser.add_argument("--batch-steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-dir", default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    x = torch.from_numpy(np.linspace(-3, 3, 64).reshape(-1, 1))
    y = torch.sin(x)
    writer = SummaryWriter(args.log_dir)
    writer.add_text("config", json.dumps(vars(args)))

    # 1. full-batch L-BFGS: each step() runs up to 20 iterations of the closure
    model = make_model(args.seed)
    opt = optim.LBFGS(model.parameters(), lr=1, history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss

    lbfgs = []
    for step in range(args.lbfgs_steps):
        loss = opt.step(closure)
        lbfgs.append(loss.item())
        writer.add_scalar("lbfgs/loss", loss.item(), step)
    for name, p in model.named_parameters():
        writer.add_histogram(name, p.detach().numpy().ravel(), args.lbfgs_steps)
    with torch.no_grad():
        final_lbfgs = F.mse_loss(model(x), y).item()

    # 2. each first-order optimizer from the same start, on batches from an endless sampler
    data = TensorDataset(x, y)
    sampler = RandomSampler(data, replacement=True, num_samples=10**10)
    results = {}
    for name, cls, kwargs in [("adadelta", optim.Adadelta, dict(lr=1.0)), ("adamax", optim.Adamax, dict(lr=0.02)),
                              ("nadam", optim.NAdam, dict(lr=0.01, weight_decay=1e-4, decoupled_weight_decay=True)),
                              ("radam", optim.RAdam, dict(lr=0.01))]:
        net = make_model(args.seed)
        o = cls(net.parameters(), **kwargs)
        sched = StepLR(o, step_size=args.batch_steps // 2, gamma=0.5)
        loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)
        for step, (xb, yb) in enumerate(loader):
            if step == args.batch_steps:
                break
            o.zero_grad()
            loss = F.mse_loss(net(xb), yb)
            loss.backward()
            o.step()
            sched.step()
        with torch.no_grad():
            results[name] = F.mse_loss(net(x), y).item()
        writer.add_scalars("batch/final_loss", {name: results[name]}, args.batch_steps)
    writer.close()
    print("RESULT " + json.dumps({"lbfgs": lbfgs, "lbfgs_final": final_lbfgs, "batches": results,
                                  "batches_per_epoch": len(loader)}))


if __name__ == "__main__":
    main()
