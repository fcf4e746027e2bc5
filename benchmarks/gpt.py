"""Train the same character GPT in deepling and in PyTorch, side by side, on Tiny Shakespeare.

    nice python -m benchmarks.gpt [--steps 1500] [--text PATH] [--out DIR]

Both models start from the same weights and see the same batches (90/10 split, context 64, batch 32,
AdamW lr 1e-3, grad-norm clip 1.0, fixed seed). Reports per-step training time of each framework
(PyTorch with as many threads as the BLAS deepling uses), the validation losses, 300 sampled
characters and an attention heatmap PNG.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as TF
from threadpoolctl import threadpool_info

import deepling as dl
from deepling.data import dataset_dir
from deepling.models.gpt import GPT, plot_attention
from deepling.nn.utils import clip_grad_norm_
from deepling.ops.loss import cross_entropy
from deepling.optim import AdamW

# ../shared/data/tinyshakespeare by deepling's data rule (deepling.data.location)
DEFAULT_TEXT = dataset_dir("tinyshakespeare") / "input.txt"


class _TorchPos(torch.nn.Module):
    def __init__(self, context: int, d: int) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(context, d))


class _TorchAttn(torch.nn.Module):
    def __init__(self, d: int, h: int, dropout: float) -> None:
        super().__init__()
        self.h, self.p = h, dropout
        self.qkv, self.proj = torch.nn.Linear(d, 3 * d), torch.nn.Linear(d, d)
        self.resid_dropout = torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, T, E = x.shape
        q, k, v = self.qkv(x).view(N, T, 3, self.h, E // self.h).permute(2, 0, 3, 1, 4)
        y = TF.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.p if self.training else 0.0)
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(N, T, E)))


class _TorchMLP(torch.nn.Module):
    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.fc, self.proj, self.dropout = torch.nn.Linear(d, 4 * d), torch.nn.Linear(4 * d, d), torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(TF.gelu(self.fc(x), approximate="tanh")))


class _TorchBlock(torch.nn.Module):
    def __init__(self, d: int, h: int, dropout: float) -> None:
        super().__init__()
        self.ln1, self.attn = torch.nn.LayerNorm(d), _TorchAttn(d, h, dropout)
        self.ln2, self.mlp = torch.nn.LayerNorm(d), _TorchMLP(d, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TorchGPT(torch.nn.Module):
    """PyTorch twin of ``deepling.models.GPT`` with the same parameter names (state_dicts transfer)."""

    def __init__(self, vocab_size: int, context: int, d_model: int, n_heads: int, n_layers: int,
                 dropout: float = 0.0, tie_weights: bool = False) -> None:
        super().__init__()
        self.tok_emb = torch.nn.Embedding(vocab_size, d_model)
        self.pos_emb = _TorchPos(context, d_model)
        self.drop = torch.nn.Dropout(dropout)
        self.blocks = torch.nn.ModuleList([_TorchBlock(d_model, n_heads, dropout) for _ in range(n_layers)])
        self.ln_f = torch.nn.LayerNorm(d_model)
        self.head = torch.nn.Linear(d_model, vocab_size, bias=False)
        if tie_weights:
            self.head.weight = self.tok_emb.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.tok_emb(idx) + self.pos_emb.weight[: idx.shape[1]])
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))


def _batches(data: np.ndarray, steps: int, batch: int, context: int, seed: int):
    rng = np.random.default_rng(seed)
    offsets = np.arange(context + 1)
    for _ in range(steps):
        start = rng.integers(0, len(data) - context - 1, batch)
        chunk = data[start[:, None] + offsets]
        yield chunk[:, :-1], chunk[:, 1:]


def _val_windows(data: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    n = (len(data) - 1) // context
    x = data[: n * context].reshape(n, context)
    y = data[1: n * context + 1].reshape(n, context)
    return x, y


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", default=str(DEFAULT_TEXT))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-heads", type=int, default=4)
    ap.add_argument("--n-layers", type=int, default=4)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-torch", action="store_true", help="train deepling only")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args(argv)

    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    threads = blas[0]["num_threads"] if blas else 1
    torch.set_num_threads(threads)
    kernel = f"{blas[0]['internal_api']} {blas[0].get('version')} {blas[0].get('architecture')}" if blas else "?"
    print(f"BLAS: {kernel}, {threads} threads (torch threads = {torch.get_num_threads()})")

    text = Path(args.text).read_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    V = len(chars)

    dl.manual_seed(args.seed)
    model = GPT(V, args.context, args.d_model, args.n_heads, args.n_layers, args.dropout)
    opt = AdamW(model.parameters(), lr=args.lr)
    tmodel = TorchGPT(V, args.context, args.d_model, args.n_heads, args.n_layers, args.dropout)
    tmodel.load_state_dict({k: torch.tensor(v.array) for k, v in model.state_dict().items()})
    topt = torch.optim.AdamW(tmodel.parameters(), lr=args.lr)
    torch.manual_seed(args.seed)
    print(f"GPT: {sum(p.numel() for p in model.parameters())} parameters, vocab {V}, "
          f"train {len(train)} / val {len(val)} chars")

    dl_times, t_times = [], []
    for step, (x, y) in enumerate(_batches(train, args.steps, args.batch, args.context, args.seed)):
        t0 = time.perf_counter()
        logits = model(dl.tensor(x))
        loss = cross_entropy(logits.reshape(-1, V), dl.tensor(y.reshape(-1)))
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dl_times.append(time.perf_counter() - t0)
        if not args.no_torch:
            t0 = time.perf_counter()
            tlogits = tmodel(torch.from_numpy(x))
            tloss = TF.cross_entropy(tlogits.reshape(-1, V), torch.from_numpy(y.reshape(-1)))
            topt.zero_grad()
            tloss.backward()
            torch.nn.utils.clip_grad_norm_(tmodel.parameters(), 1.0)
            topt.step()
            t_times.append(time.perf_counter() - t0)
        if step % 100 == 0 or step == args.steps - 1:
            tl = "" if args.no_torch else f"  torch {tloss.item():.4f} ({1e3 * np.median(t_times[-100:]):.1f} ms)"
            print(f"step {step:5d}  deepling {loss.item():.4f} ({1e3 * np.median(dl_times[-100:]):.1f} ms){tl}",
                  flush=True)

    vx, vy = _val_windows(val, args.context)
    model.eval()
    tmodel.eval()
    dl_sum, t_sum = 0.0, 0.0
    with dl.no_grad(), torch.no_grad():
        for i in range(0, len(vx), 256):
            xb, yb = vx[i:i + 256], vy[i:i + 256]
            lg = model(dl.tensor(xb))
            dl_sum += cross_entropy(lg.reshape(-1, V), dl.tensor(yb.reshape(-1)), reduction="sum").item()
            if not args.no_torch:
                tl = TF.cross_entropy(tmodel(torch.from_numpy(xb)).reshape(-1, V), torch.from_numpy(yb.reshape(-1)),
                                      reduction="sum")
                t_sum += tl.item()
    n_tokens = vx.size
    result = {
        "steps": args.steps, "blas": kernel, "threads": threads,
        "val_loss_deepling": dl_sum / n_tokens,
        "val_loss_torch": None if args.no_torch else t_sum / n_tokens,
        "ms_per_step_deepling": 1e3 * float(np.median(dl_times[10:] or dl_times)),
        "ms_per_step_torch": None if args.no_torch else 1e3 * float(np.median(t_times[10:] or t_times)),
    }
    if not args.no_torch:
        result["ratio_deepling_over_torch"] = result["ms_per_step_deepling"] / result["ms_per_step_torch"]

    prompt = "ROMEO:\nBut soft, what light"
    dl.manual_seed(args.seed)
    idx = np.array([[stoi[c] for c in prompt]])
    sample = model.generate(dl.tensor(idx), 300, temperature=0.8, top_k=None).array[0]
    result["sample"] = "".join(chars[i] for i in sample[len(prompt):])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    maps = model.attention_maps(dl.tensor(idx))
    plot_attention(maps, list(prompt), path=str(out / "gpt_attention.png"))
    (out / "gpt.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "sample"}, indent=2))
    print(f"val perplexity deepling {math.exp(result['val_loss_deepling']):.2f}")
    print("--- 300 sampled characters after the prompt", repr(prompt), "---")
    print(result["sample"])
    print(f"heatmap: {out / 'gpt_attention.png'}")
    return result


if __name__ == "__main__":
    main()
