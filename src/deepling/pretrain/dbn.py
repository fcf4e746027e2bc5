"""Deep belief network: RBMs stacked greedily, then used to initialize a sigmoid MLP.

RBM k is trained by CD-k on the mean-field hidden probabilities ``p(h|v)`` of the frozen RBMs
below it; its ``weight (H, D)`` and ``hidden_bias`` become the ``Linear`` layer k of the classifier.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from deepling import nn
from deepling.autograd import no_grad
from deepling.models.mlp import MLP
from deepling.models.rbm import RBM
from deepling.nn.module import Module
from deepling.pretrain.stacked import batch_inputs, copy_into_mlp, per_stage, train_stage
from deepling.tensor import Tensor

__all__ = ["DBN"]


class DBN(Module):
    """A stack of ``RBM(s_k, s_{k+1})`` for ``layer_sizes = (s_0, s_1, ...)``; inputs in [0, 1]."""

    def __init__(self, layer_sizes: Sequence[int]) -> None:
        super().__init__()
        sizes = [int(s) for s in layer_sizes]
        if len(sizes) < 2 or any(s <= 0 for s in sizes):
            raise ValueError(f"DBN: layer_sizes must be >= 2 positive widths (got {list(layer_sizes)})")
        self.layer_sizes = sizes
        self.rbms = nn.ModuleList(RBM(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.history: list[list[float]] = []

    def codes(self, x: Tensor, depth: int) -> Tensor:
        """Mean-field hidden probabilities after the first ``depth`` RBMs, ``(N, s_0) -> (N, s_depth)``."""
        for k in range(depth):
            x = self.rbms[k](x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.codes(x.reshape(x.shape[0], -1), len(self.rbms))

    def pretrain_layer(self, k: int, loader: Iterable, epochs: int | None = None,
                       optimizer_factory: Callable[[list[Any]], Any] | None = None, cd_k: int = 1,
                       persistent: bool = False, progress: bool = True, lr: float | None = None,
                       max_steps: int | None = None) -> list[float]:
        """Train RBM ``k`` by CD-``cd_k`` (or PCD) on the codes of RBMs ``0..k-1`` for ``epochs`` (or
        ``max_steps`` steps); returns its mean reconstruction error per epoch. Optimizer:
        ``optimizer_factory(params)``, default ``SGD(lr)`` with lr 0.1."""
        if not 0 <= k < len(self.rbms):
            raise ValueError(f"DBN.pretrain_layer: RBM {k} out of range [0, {len(self.rbms)})")
        rbm = self.rbms[k]

        def loss(batch: Any) -> dict[str, Any]:
            with no_grad():
                v = self.codes(batch_inputs(batch), k)
            # the CD surrogate's value means little; the reconstruction error tracks progress
            return {"loss": rbm.cd_loss(v, k=cd_k, persistent=persistent),
                    "reconstruction_error": float(rbm.reconstruction_error(v).array.mean())}

        return train_stage(self, loss, list(rbm.parameters()), loader, epochs, optimizer_factory, lr, max_steps, progress,
                           desc=f"RBM {k + 1}/{len(self.rbms)} ({self.layer_sizes[k]} -> {self.layer_sizes[k + 1]}, "
                                "reconstruction MSE)", key="reconstruction_error")

    def pretrain(self, loader: Iterable, epochs_per_layer: int | Sequence[int] | None = 10,
                 optimizer_factory: Callable[[list[Any]], Any] | Sequence[Callable[[list[Any]], Any]] | None = None,
                 cd_k: int = 1, persistent: bool = False, progress: bool = True,
                 lr: float | Sequence[float] | None = None, steps_per_layer: int | Sequence[int] | None = None
                 ) -> list[list[float]]:
        """Greedy schedule over all RBMs; per-stage values as in ``StackedAutoencoder.pretrain``. Returns
        (and keeps in ``self.history``) the per-epoch reconstruction errors."""
        n = len(self.rbms)
        epochs, steps = per_stage(epochs_per_layer, n, "epochs_per_layer"), per_stage(steps_per_layer, n, "steps_per_layer")
        factories, lrs = per_stage(optimizer_factory, n, "optimizer_factory"), per_stage(lr, n, "lr")
        self.history = [self.pretrain_layer(k, loader, epochs[k], factories[k], cd_k, persistent, progress, lrs[k], steps[k])
                        for k in range(n)]
        return self.history

    def to_classifier(self, num_classes: int, freeze_encoder: bool = False, dropout: float = 0.0) -> MLP:
        """A sigmoid ``MLP(s_0, s_1..s_last, num_classes, dropout=dropout)`` initialized with the RBMs'
        weights and hidden biases."""
        layers = [(r.weight.array, r.hidden_bias.array) for r in self.rbms]
        return copy_into_mlp(layers, num_classes, "sigmoid", freeze_encoder, dropout)
