"""A small CNN on MNIST with torchvision's data sets and transforms, Adadelta and StepLR: a PyTorch program.

Written for PyTorch + torchvision; it runs on deepling by changing only the import lines
(``import deepling as torch``, ``import deepling.vision as torchvision``; tests/test_ported_programs.py
does that on small IDX files it writes). Uses ``datasets.MNIST(root, train, download, transform)``
with ``.data`` / ``.targets`` / ``.classes``, ``transforms.Compose/ToTensor/Normalize/RandomCrop``,
a ``RandomSampler`` drawing 10**10 samples with replacement (the run's budget is ``--steps``),
``utils.save_image`` / ``make_grid``, and TensorBoard logging. Prints ``RESULT {...}``.

    python examples/ported/mnist_vision.py --data ../shared/data/mnist --steps 300 --out /tmp/mnist
"""

import argparse
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, RandomSampler
from torch.utils.tensorboard import SummaryWriter
from torchvision import datasets, transforms


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(16 * 5 * 5, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(torch.flatten(x, 1))
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


def evaluate(model, loader):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in loader:
            output = model(data)
            loss += F.nll_loss(output, target, reduction="sum").item()
            correct += output.argmax(dim=1).eq(target).sum().item()
    n = len(loader.dataset)
    return loss / n, correct / n


def main(argv=None):
    parser = argparse.ArgumentParser(description="MNIST with torchvision-shaped data")
    parser.add_argument("--data", default="../data")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=".")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    normalize = transforms.Normalize((0.1307,), (0.3081,))
    train_set = datasets.MNIST(args.data, train=True, download=False, transform=transforms.Compose([
        transforms.RandomCrop(28, padding=2), transforms.ToTensor(), normalize]))
    test_set = datasets.MNIST(args.data, train=False, transform=transforms.Compose([transforms.ToTensor(), normalize]))
    info = {"train_shape": list(train_set.data.shape), "train_dtype": str(train_set.data.dtype).split(".")[-1],
            "targets": type(train_set.targets).__name__, "classes": train_set.classes[:2],
            "max_target": int(train_set.targets.max())}

    sampler = RandomSampler(train_set, replacement=True, num_samples=10**10)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    test_loader = DataLoader(test_set, batch_size=256)

    model = Net()
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=max(args.steps // 3, 1), gamma=args.gamma)
    writer = SummaryWriter(os.path.join(args.out, "runs"))
    first = None
    model.train()
    for step, (data, target) in enumerate(train_loader):
        if step == args.steps:
            break
        if first is None:
            first = data
            writer.add_image("first_batch", torchvision.utils.make_grid(data[:16], normalize=True), 0)
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % 10 == 0:
            writer.add_scalar("train/loss", loss.item(), step)
    writer.add_histogram("conv1.weight", model.conv1.weight.detach().numpy(), args.steps)
    test_loss, accuracy = evaluate(model, test_loader)
    writer.add_scalar("test/accuracy", accuracy, args.steps)
    writer.close()
    torchvision.utils.save_image(first[:16] * 0.3081 + 0.1307, os.path.join(args.out, "batch.png"), nrow=4)
    info.update(test_loss=test_loss, accuracy=accuracy, last_lr=scheduler.get_last_lr()[0], batches=len(train_loader))
    print("RESULT " + json.dumps(info))


if __name__ == "__main__":
    main()
