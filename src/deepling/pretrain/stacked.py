"""Stacked (denoising) autoencoders and greedy layer-wise pretraining.

Stage k trains one new pair ``encoder_k: h_{k-1} -> h_k`` and ``decoder_k: h_k -> h_{k-1}`` to
reconstruct the codes ``h_{k-1}`` computed by the frozen stages ``1..k-1`` (optionally from a
corrupted copy). Only stage k's parameters reach the optimizer, and the codes are computed under
``no_grad``, so earlier layers cannot change. Afterwards the decoders are dropped: the stacked
encoders plus a new linear head form a classifier to fine-tune with labels.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from deepling import nn
from deepling.autograd import no_grad
from deepling.models.autoencoder import _act, _check_corruption, corrupt
from deepling.models.mlp import MLP
from deepling.nn.module import Module
from deepling.tensor import Tensor
from deepling.train.fit import fit

__all__ = ["StackedAutoencoder", "batch_inputs", "copy_into_mlp"]


def batch_inputs(batch: Any) -> Tensor:
    """The inputs of a loader batch (``x`` or ``(x, y, ...)``), flattened to ``(N, D)``."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    x = x if isinstance(x, Tensor) else Tensor(x)
    return x.reshape(x.shape[0], -1)


def copy_into_mlp(layers: Sequence[tuple[Any, Any]], num_classes: int, activation: str,
                  freeze_encoder: bool = False) -> MLP:
    """An ``MLP(D, hidden, num_classes)`` whose hidden ``Linear`` layers get the given ``(weight (out, in),
    bias (out,))`` pairs (copies); the head is freshly initialized. ``freeze_encoder`` stops gradients
    into the copied layers."""
    widths = [w.shape[0] for w, _ in layers]
    mlp = MLP(layers[0][0].shape[1], widths, num_classes, activation=activation)
    lin = [m for m in mlp if isinstance(m, nn.Linear)]
    with no_grad():
        for m, (w, b) in zip(lin, layers):
            m.weight.copy_(w)
            m.bias.copy_(b)
            if freeze_encoder:
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)
    return mlp


class StackedAutoencoder(Module):
    """Autoencoders stacked by greedy layer-wise training.

    Args: ``layer_sizes`` (e.g. ``(784, 500, 250, 30)``), ``activation`` of every encoder layer
    (a name as in ``MLP``: ``'relu'``, ``'sigmoid'``, ...), ``corruption`` (None, ``'mask'`` or
    ``'gaussian'``) with its ``noise`` level; decoders are linear, the loss is the mean squared error.
    Modules: ``encoders[k] = Sequential(Linear(s_k, s_{k+1}), act)``, ``decoders[k] = Linear(s_{k+1}, s_k)``.
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str = "relu", corruption: str | None = None,
                 noise: float = 0.3) -> None:
        super().__init__()
        sizes = [int(s) for s in layer_sizes]
        if len(sizes) < 2 or any(s <= 0 for s in sizes):
            raise ValueError(f"StackedAutoencoder: layer_sizes must be >= 2 positive widths (got {list(layer_sizes)})")
        if corruption is not None:
            _check_corruption(corruption, noise)
        self.layer_sizes, self.activation, self.corruption, self.noise = sizes, activation, corruption, noise
        self.encoders = nn.ModuleList(nn.Sequential(nn.Linear(a, b), _act(activation))
                                      for a, b in zip(sizes[:-1], sizes[1:]))
        self.decoders = nn.ModuleList(nn.Linear(b, a) for a, b in zip(sizes[:-1], sizes[1:]))
        self.history: list[list[float]] = []

    @property
    def num_stages(self) -> int:
        return len(self.encoders)

    def codes(self, x: Tensor, depth: int) -> Tensor:
        """The output of the first ``depth`` encoders, ``(N, s_0) -> (N, s_depth)``."""
        for k in range(depth):
            x = self.encoders[k](x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """The full code ``(N, s_0) -> (N, s_last)``."""
        return self.codes(x.reshape(x.shape[0], -1), self.num_stages)

    def stage_parameters(self, k: int) -> list[Any]:
        """The parameters trained in stage ``k``: encoder k and decoder k."""
        return list(self.encoders[k].parameters()) + list(self.decoders[k].parameters())

    def stage_loss(self, k: int, x: Tensor) -> Tensor:
        """Stage ``k``'s reconstruction loss on a batch of raw inputs ``x (N, s_0)``."""
        with no_grad():
            h = self.codes(x, k)
        inp = corrupt(h, self.corruption, self.noise) if self.corruption is not None and self.training else h
        return nn.functional.mse_loss(self.decoders[k](self.encoders[k](inp)), h)

    def pretrain_layer(self, k: int, unlabeled_loader: Iterable, epochs: int,
                       optimizer_factory: Callable[[list[Any]], Any], progress: bool = True) -> list[float]:
        """Train stage ``k`` alone for ``epochs``; returns its mean reconstruction loss per epoch."""
        if not 0 <= k < self.num_stages:
            raise ValueError(f"StackedAutoencoder.pretrain_layer: stage {k} out of range [0, {self.num_stages})")
        history = fit(self, unlabeled_loader, None, optimizer_factory(self.stage_parameters(k)), epochs,
                      step_fn=lambda model, batch: model.stage_loss(k, batch_inputs(batch)), progress=progress,
                      desc=f"stage {k + 1}/{self.num_stages} ({self.layer_sizes[k]} -> {self.layer_sizes[k + 1]})")
        return history["loss"]

    def pretrain(self, unlabeled_loader: Iterable, epochs_per_layer: int,
                 optimizer_factory: Callable[[list[Any]], Any], progress: bool = True) -> list[list[float]]:
        """Greedy layer-wise schedule: stage 1, then stage 2 on the frozen codes of stage 1, ...

        ``optimizer_factory(params) -> Optimizer`` makes a fresh optimizer per stage. Returns the
        per-epoch reconstruction losses of each stage (also kept in ``self.history``)."""
        self.history = [self.pretrain_layer(k, unlabeled_loader, epochs_per_layer, optimizer_factory, progress)
                        for k in range(self.num_stages)]
        return self.history

    def encoder(self) -> nn.Sequential:
        """The stacked encoder ``Linear, act, Linear, act, ...`` as a ``Sequential`` sharing this model's layers."""
        mods: list[Module] = []
        for enc in self.encoders:
            mods += list(enc)
        return nn.Sequential(*mods)

    def to_classifier(self, num_classes: int, freeze_encoder: bool = False) -> MLP:
        """An ``MLP(s_0, s_1..s_last, num_classes)`` with the pretrained encoder weights (copied) and a new
        linear head: the same shape and state_dict keys as an ``MLP`` trained from scratch."""
        layers = [(enc[0].weight.array, enc[0].bias.array) for enc in self.encoders]
        return copy_into_mlp(layers, num_classes, self.activation, freeze_encoder)

    def extra_repr(self) -> str:
        return f"layer_sizes={self.layer_sizes}, activation={self.activation!r}, corruption={self.corruption!r}"
