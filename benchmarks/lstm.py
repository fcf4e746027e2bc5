"""Char-LSTM training step, deepling next to ``torch.nn.LSTM`` in one run; optionally a full training run.

Run from the repository root:
  ``python -m benchmarks.lstm [--repeats 30]``            time one training step of each
  ``python -m benchmarks.lstm --train 1500 [--torch]``     train on Tiny Shakespeare, report val loss
  ``python -m benchmarks.lstm --cell gru``                 the same for a GRU (or rnn)

The model is the issue's char-LSTM: Embedding(65, 64) -> LSTM(64, 256) -> Linear(256, 65), batch 32
of 64-character windows; a step is forward, cross-entropy, backward, grad-norm clip 1.0 and an AdamW
(lr 2e-3) update. Both frameworks start from the same weights and see the same batches; their steps
are timed alternately and the medians reported with the ratio. PyTorch gets as many threads as the
BLAS that NumPy uses (threadpoolctl reports which kernel ran). The training run uses the first 90%
of the text for training and reports the mean loss in nats per character over the whole last 10%,
read as consecutive 64-character windows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import deepling as dl  # noqa: E402
from deepling import optim  # noqa: E402
from deepling.data import dataset_dir  # noqa: E402
from deepling.data.datasets.text import CharCorpus  # noqa: E402
from deepling.models.char_rnn import CharRNN  # noqa: E402
from deepling.nn import functional as F  # noqa: E402
from deepling.nn.utils import clip_grad_norm_  # noqa: E402

# ../shared/data/tinyshakespeare by deepling's data rule (deepling.data.location)
TEXT = dataset_dir("tinyshakespeare") / "input.txt"


def _blas() -> tuple[str, int]:
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            return f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture')})", int(info["num_threads"])
    return "unknown", 1


class TorchCharRNN(torch.nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int, cell: str = "lstm") -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embed)
        self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](embed, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.embedding(idx))[0])


TorchCharLSTM = TorchCharRNN  # the suite's name for the LSTM twin (cell='lstm' is the default)


def _models(vocab: int, embed: int, hidden: int, seed: int, cell: str = "lstm") -> tuple[CharRNN, TorchCharRNN]:
    dl.manual_seed(seed)
    model = CharRNN(vocab, embed, hidden, 1, cell=cell)
    tmodel = TorchCharRNN(vocab, embed, hidden, cell)
    tmodel.load_state_dict({k: torch.tensor(v.array) for k, v in model.state_dict().items()})
    return model, tmodel


def _steppers(model: CharRNN, tmodel: TorchCharRNN, lr: float, clip: float):
    vocab = model.vocab_size
    opt = optim.AdamW(model.parameters(), lr=lr)
    topt = torch.optim.AdamW(tmodel.parameters(), lr=lr)

    def step(x: np.ndarray, y: np.ndarray) -> float:
        loss = F.cross_entropy(model(dl.tensor(x)).reshape(-1, vocab), dl.tensor(y).reshape(-1))
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss.item()

    def tstep(x: np.ndarray, y: np.ndarray) -> float:
        loss = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)).reshape(-1, vocab), torch.from_numpy(y).reshape(-1))
        topt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tmodel.parameters(), clip)
        topt.step()
        return loss.item()

    return step, tstep


def _val_loss(forward, data: np.ndarray, context: int, vocab: int, batch: int = 256) -> float:
    """Mean next-character loss (nats) over ``data`` cut into consecutive windows of ``context``."""
    n = (len(data) - 1) // context
    x = data[: n * context].reshape(n, context)
    y = data[1 : n * context + 1].reshape(n, context)
    total = 0.0
    for s in range(0, n, batch):
        logits = forward(x[s : s + batch]).reshape(-1, vocab)
        shift = logits - logits.max(axis=1, keepdims=True)
        logp = shift - np.log(np.exp(shift).sum(axis=1, keepdims=True))
        total += -logp[np.arange(logp.shape[0]), y[s : s + batch].reshape(-1)].sum()
    return total / (n * context)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", type=Path, default=TEXT)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm", help="recurrent layer (the issue's model: lstm)")
    ap.add_argument("--threads", type=int, default=0, help="BLAS and torch threads (default: the BLAS default)")
    ap.add_argument("--train", type=int, default=0, metavar="STEPS", help="train this many steps and report val loss")
    ap.add_argument("--torch", action="store_true", help="with --train: train the torch twin too")
    ap.add_argument("--sample", type=int, default=300, help="characters to sample after training")
    a = ap.parse_args(argv)

    if a.threads:
        threadpool_limits(a.threads, user_api="blas")
    blas, threads = _blas()
    torch.set_num_threads(threads)
    corpus = CharCorpus.from_file(a.text)
    V = corpus.vocab_size
    model, tmodel = _models(V, a.embed, a.hidden, a.seed, a.cell)
    step, tstep = _steppers(model, tmodel, a.lr, a.clip)
    gen = dl.Generator(a.seed)
    print(f"BLAS: {blas}, {threads} threads; torch {torch.__version__} with {torch.get_num_threads()} threads")
    print(f"model: Embedding({V}, {a.embed}) -> {a.cell.upper()}({a.embed}, {a.hidden}) -> Linear({a.hidden}, {V}); "
          f"batch {a.batch} x context {a.context}")

    if not a.train:
        times: dict[str, list[float]] = {"deepling": [], "torch": []}
        for r in range(a.repeats + 3):
            x, y = (t.array for t in corpus.get_batch("train", a.batch, a.context, generator=gen))
            for name, fn in (("deepling", step), ("torch", tstep)):
                t0 = time.perf_counter()
                fn(x, y)
                if r >= 3:  # warm-up
                    times[name].append((time.perf_counter() - t0) * 1e3)
        d, t = statistics.median(times["deepling"]), statistics.median(times["torch"])
        print(f"training step, median of {a.repeats}: deepling {d:.1f} ms, torch.nn.{a.cell.upper()} {t:.1f} ms, "
              f"ratio {d / t:.2f}x")
        return

    fns = [("deepling", step)] + ([("torch", tstep)] if a.torch else [])
    spent = {name: 0.0 for name, _ in fns}
    t_start = time.perf_counter()
    for s in range(1, a.train + 1):
        x, y = (t.array for t in corpus.get_batch("train", a.batch, a.context, generator=gen))
        for name, fn in fns:
            t0 = time.perf_counter()
            loss = fn(x, y)
            spent[name] += time.perf_counter() - t0
            if s % 100 == 0 or s == 1:
                print(f"step {s:5d} {name:8s} train loss {loss:.4f}", flush=True)
    print(f"trained {a.train} steps in {time.perf_counter() - t_start:.0f} s")
    with dl.no_grad():
        vl = _val_loss(lambda x: model(dl.tensor(x)).array, corpus.val_data, a.context, V)
    print(f"deepling: val loss {vl:.4f} nats/char, {spent['deepling'] / a.train * 1e3:.1f} ms/step")
    if a.torch:
        with torch.no_grad():
            tvl = _val_loss(lambda x: tmodel(torch.from_numpy(x)).numpy(), corpus.val_data, a.context, V)
        print(f"torch:    val loss {tvl:.4f} nats/char, {spent['torch'] / a.train * 1e3:.1f} ms/step")
    if a.sample:
        out = model.generate(corpus.encode("ROMEO:"), a.sample, temperature=0.8, generator=dl.Generator(a.seed))
        print("sample (temperature 0.8):\n" + corpus.decode(out))


if __name__ == "__main__":
    main()
