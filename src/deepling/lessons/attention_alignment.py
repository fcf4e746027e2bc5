"""Attention weighs values by softmaxed dot-product alignment, masked causally; a GPT sees only its context.

Perturbing a token outside a GPT's context window, or after the predicted position, changes nothing.

scores = Q K^T / sqrt(d), masked to -inf where key j > query i; weights = softmax(scores) (rows sum to 1);
output = weights V. A trained tiny GPT's weights form the attention map of a sentence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import deepling as dl
import deepling.nn.functional as F
from deepling.lessons._verdict import verdict
from deepling.lessons.plotting import save, subplots
from deepling.models import GPT

TEXT = ("the cat sat on the mat. the dog sat on the log. the cat saw the dog. the dog saw the cat. "
        "a cat and a dog sat on a mat and a log. ")


def _by_hand(seed: int, T: int = 6, d: int = 8) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((T, d)).astype(np.float32) for _ in range(3))
    scores = q @ k.T / np.sqrt(d)
    masked = np.where(np.tril(np.ones((T, T), bool)), scores, -np.inf)
    w = np.exp(masked - masked.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    lib = F.scaled_dot_product_attention(dl.tensor(q), dl.tensor(k), dl.tensor(v), is_causal=True).numpy()
    return {"by_hand_vs_sdpa_max_diff": float(np.abs(w @ v - lib).max()),
            "by_hand_weight_above_diagonal_max": float(np.triu(w, 1).max()),
            "by_hand_row_sum_max_error": float(np.abs(w.sum(1) - 1).max()),
            "largest_weight_is_best_aligned_key": bool((w.argmax(1) == masked.argmax(1)).all())}


def run(context: int = 24, d_model: int = 32, n_layers: int = 2, n_heads: int = 2, steps: int = 300, lr: float = 3e-3,
        batch: int = 16, seed: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = _by_hand(seed)
    chars = sorted(set(TEXT))
    data = np.array([chars.index(c) for c in TEXT * 4], np.int64)
    dl.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = GPT(len(chars), context=context, d_model=d_model, n_heads=n_heads, n_layers=n_layers)
    opt = dl.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        starts = rng.integers(0, len(data) - context - 1, batch)
        idx = np.stack([data[s : s + context + 1] for s in starts])
        opt.zero_grad()
        loss = F.cross_entropy(model(dl.tensor(idx[:, :-1])).reshape(-1, len(chars)), dl.tensor(idx[:, 1:].reshape(-1)))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out["train_loss_first"], out["train_loss_final"] = losses[0], float(np.mean(losses[-20:]))
    model.eval()
    sentence = "the dog sat on the mat."[:context]
    tokens = dl.tensor(np.array([[chars.index(c) for c in sentence]]))
    maps = model.attention_maps(tokens).numpy()  # (layers, 1, heads, T, T)
    out["gpt_weight_above_diagonal_max"] = float(np.triu(maps, 1).max())
    out["gpt_row_sum_max_error"] = float(np.abs(maps.sum(-1) - 1).max())
    # Perturbation tests. (1) causal: changing tokens after position t leaves the logits at <= t unchanged.
    t = len(sentence) // 2
    changed = tokens.numpy().copy()
    changed[0, t + 1 :] = (changed[0, t + 1 :] + 1) % len(chars)
    with dl.no_grad():
        a, b = model(tokens).numpy(), model(dl.tensor(changed)).numpy()
    out["causal_past_logits_change"] = float(np.abs(a[0, : t + 1] - b[0, : t + 1]).max())
    out["causal_future_logits_change"] = float(np.abs(a[0, t + 1 :] - b[0, t + 1 :]).max())
    # (2) context: the next-token prediction from a long text reads only its last `context` tokens.
    long = data[: 3 * context].copy()

    def next_logits(seq: np.ndarray) -> np.ndarray:
        with dl.no_grad():
            return model(dl.tensor(seq[None, -context:])).numpy()[0, -1]

    base = next_logits(long)
    effect = []
    for back in range(1, 2 * context + 1):  # perturb the token `back` positions before the end
        seq = long.copy()
        seq[-back] = (seq[-back] + 1) % len(chars)
        effect.append(float(np.abs(next_logits(seq) - base).max()))
    out["inside_window_min_logit_change"] = min(effect[:context])
    out["outside_window_max_logit_change"] = max(effect[context:])
    out["context"] = context
    out["_losses"], out["_maps"], out["_sentence"], out["_effect"] = losses, maps, sentence, effect
    out["verdict"] = verdict(__doc__, [
        (f"attention by hand vs scaled_dot_product_attention: max difference {out['by_hand_vs_sdpa_max_diff']:.2g} (< 1e-5); "
         f"rows sum to 1 within {out['by_hand_row_sum_max_error']:.2g}; weight above the diagonal "
         f"{out['by_hand_weight_above_diagonal_max']:.2g} (must be 0); the largest weight is the best-aligned key: "
         f"{out['largest_weight_is_best_aligned_key']}",
         out["by_hand_vs_sdpa_max_diff"] < 1e-5 and out["by_hand_row_sum_max_error"] < 1e-6
         and out["by_hand_weight_above_diagonal_max"] == 0 and out["largest_weight_is_best_aligned_key"]),
        (f"tiny GPT trained: loss {out['train_loss_first']:.2f} -> {out['train_loss_final']:.2f} nats (must halve); its attention "
         f"above the diagonal {out['gpt_weight_above_diagonal_max']:.2g} (must be 0)",
         out["train_loss_final"] < 0.5 * out["train_loss_first"] and out["gpt_weight_above_diagonal_max"] == 0
         and out["gpt_row_sum_max_error"] < 1e-5),
        (f"changing later tokens moves earlier logits by {out['causal_past_logits_change']:.2g} (must be 0) and later ones by "
         f"{out['causal_future_logits_change']:.2g} (> 0)", out["causal_past_logits_change"] == 0 and out["causal_future_logits_change"] > 0),
        (f"a token outside the {context}-token window moves the next-token logits by {out['outside_window_max_logit_change']:.2g} "
         f"(must be 0); inside by at least {out['inside_window_min_logit_change']:.2g} (> 0)",
         out["outside_window_max_logit_change"] == 0 and out["inside_window_min_logit_change"] > 0),
    ])
    return out


def plot(result: dict[str, Any], path: str) -> None:
    fig, axes = subplots(1, 2, (11, 4.6))
    m, s = result["_maps"][-1, 0, 0], list(result["_sentence"])
    ax = axes[0][0]
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, label="attention weight (each row sums to 1)", shrink=0.8)
    ax.set_xticks(range(len(s)), [c if c != " " else "_" for c in s], fontsize=7)
    ax.set_yticks(range(len(s)), [c if c != " " else "_" for c in s], fontsize=7)
    ax.set(xlabel="key (attended to)", ylabel="query", title="trained GPT, last layer, head 0 (causal)")
    ax = axes[0][1]
    eff = result["_effect"]
    ax.bar(range(1, len(eff) + 1), eff, color=["C0" if i < result["context"] else "C3" for i in range(len(eff))])
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax.axvline(result["context"] + 0.5, color="k", lw=0.8)
    ax.legend(handles=[Patch(color="C0", label="inside the context window"), Patch(color="C3", label="outside: no effect"),
                       Line2D([], [], color="k", lw=0.8, label=f"context = {result['context']} tokens")], fontsize=8)
    fig.suptitle("causal attention: no weight on later tokens; a GPT reads only its context window", fontsize=10)
    ax.set(xlabel="perturbed token: positions before the end", ylabel="max |change| of next-token logits",
           title=f"only the last {result['context']} tokens matter")
    save(fig, path)
