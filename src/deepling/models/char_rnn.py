"""CharRNN: a character-level language model (embedding -> recurrent stack -> linear head).

Trained on next-character prediction: ``logits[b, t]`` scores the character after ``idx[b, :t+1]``;
the loss is the cross-entropy in nats per character. ``generate`` samples one character at a time,
carrying the recurrent state instead of re-reading the prompt.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.autograd import no_grad
from deepling.models.sampling import sample_next
from deepling.nn.linear import Linear
from deepling.nn.module import Module
from deepling.nn.rnn import GRU, LSTM, RNN
from deepling.nn.sparse import Embedding
from deepling.random import Generator, numpy_rng
from deepling.tensor import Tensor

__all__ = ["CharRNN"]

_CELLS = {"rnn": RNN, "gru": GRU, "lstm": LSTM}


class CharRNN(Module):
    """``CharRNN(vocab_size, embed, hidden, num_layers, cell)``, cell in 'rnn' | 'gru' | 'lstm'.

    ``forward(idx (B, T) int, state=None)`` returns logits ``(B, T, vocab_size)``;
    ``forward_with_state`` also returns the final recurrent state.
    Submodules: ``embedding`` Embedding(vocab_size, embed), ``rnn`` (batch_first), ``head`` Linear(hidden, vocab_size).
    """

    def __init__(self, vocab_size: int, embed: int = 64, hidden: int = 256, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.0) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"CharRNN: cell must be one of {sorted(_CELLS)}, got {cell!r}")
        self.vocab_size, self.cell = vocab_size, cell
        self.embedding = Embedding(vocab_size, embed)
        self.rnn = _CELLS[cell](embed, hidden, num_layers, batch_first=True, dropout=dropout)
        self.head = Linear(hidden, vocab_size)

    def forward_with_state(self, idx: Any, state: Any = None) -> tuple[Tensor, Any]:
        idx = idx if isinstance(idx, Tensor) else Tensor(np.asarray(idx, dtype=np.int64))
        if idx.ndim != 2:
            raise ValueError(f"CharRNN: expected ids of shape (B, T), got {tuple(idx.shape)}")
        out, state = self.rnn(self.embedding(idx), state)
        return self.head(out), state

    def forward(self, idx: Any, state: Any = None) -> Tensor:
        return self.forward_with_state(idx, state)[0]

    @no_grad()
    def generate(self, prompt_ids: Any, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: Generator | None = None) -> Tensor:
        """Continue ``prompt_ids`` ((T,) or (B, T)) by ``max_new_tokens`` sampled ids; returns prompt + new ids.

        Each next id is drawn from softmax(logits / temperature), restricted to the ``top_k`` most
        likely ids when given; ``temperature=0`` picks the most likely id.
        """
        ids = np.asarray(prompt_ids.array if isinstance(prompt_ids, Tensor) else prompt_ids, dtype=np.int64)
        single = ids.ndim == 1
        ids = ids[None] if single else ids
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"CharRNN.generate: prompt must be non-empty ids of shape (T,) or (B, T), got {ids.shape}")
        if temperature < 0:
            raise ValueError(f"CharRNN.generate: temperature must be >= 0, got {temperature}")
        was_training = self.training
        self.eval()
        rng = numpy_rng(generator)
        out = [ids]
        logits, state = self.forward_with_state(Tensor._wrap(ids))
        last = logits.array[:, -1]
        for _ in range(max_new_tokens):
            nxt = sample_next(last, temperature, top_k, rng)
            out.append(nxt[:, None])
            logits, state = self.forward_with_state(Tensor._wrap(nxt[:, None]), state)
            last = logits.array[:, -1]
        self.train(was_training)
        result = np.concatenate(out, axis=1)
        return Tensor._wrap(result[0] if single else result)

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}"
