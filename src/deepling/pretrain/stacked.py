"""Stacked (denoising) autoencoders and greedy layer-wise pretraining.

Stage k trains one new pair ``encoder_k: h_{k-1} -> h_k`` and ``decoder_k: h_k -> h_{k-1}`` to
reconstruct the codes ``h_{k-1}`` computed by the frozen stages ``1..k-1`` from a corrupted copy
(denoising). Only stage k's parameters reach the optimizer, and the codes are computed under
``no_grad``, so earlier layers cannot change. Afterwards the decoders are dropped: the stacked
encoders plus a new linear head form a classifier to fine-tune with labels.

The defaults are the classic recipe that works (Vincent et al. 2010): sigmoid units, tied weights
(``decoder_k`` uses ``W_k^T``), 25% masking noise, a sigmoid decoder output with the cross-entropy
reconstruction loss, plain SGD at lr 0.1 on mini-batches of 20.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from deepling import nn, optim
from deepling.autograd import no_grad
from deepling.models.autoencoder import TiedLinear, _act, _check_corruption, corrupt
from deepling.models.mlp import MLP
from deepling.nn.module import Module
from deepling.tensor import Tensor
from deepling.train.callbacks import Callback
from deepling.train.fit import fit

__all__ = ["StackedAutoencoder", "batch_inputs", "copy_into_mlp", "per_stage", "unique_parameters", "train_stage"]


def batch_inputs(batch: Any) -> Tensor:
    """The inputs of a loader batch (``x`` or ``(x, y, ...)``), flattened to ``(N, D)``."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    x = x if isinstance(x, Tensor) else Tensor(x)
    return x.reshape(x.shape[0], -1)


def copy_into_mlp(layers: Sequence[tuple[Any, Any]], num_classes: int, activation: str,
                  freeze_encoder: bool = False, dropout: float = 0.0) -> MLP:
    """An ``MLP(D, hidden, num_classes, dropout=dropout)`` whose hidden ``Linear`` layers get the given
    ``(weight (out, in), bias (out,))`` pairs (copies); the head is freshly initialized.
    ``freeze_encoder`` stops gradients into the copied layers."""
    widths = [w.shape[0] for w, _ in layers]
    mlp = MLP(layers[0][0].shape[1], widths, num_classes, activation=activation, dropout=dropout)
    lin = [m for m in mlp if isinstance(m, nn.Linear)]
    with no_grad():
        for m, (w, b) in zip(lin, layers):
            m.weight.copy_(w)
            m.bias.copy_(b)
            if freeze_encoder:
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)
    return mlp


def unique_parameters(params: Iterable[Any]) -> list[Any]:
    """``params`` without repeats (by identity), in first-seen order: a tied weight is one parameter."""
    seen: set[int] = set()
    out = []
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def per_stage(value: Any, stages: int, name: str) -> list[Any]:
    """One value per stage: a list/tuple of length ``stages`` as is, any other value repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != stages:
            raise ValueError(f"pretrain: {name} has {len(value)} entries for {stages} stages")
        return list(value)
    return [value] * stages


def _stage_optimizer(factory: Callable[[list[Any]], Any] | None, lr: float | None, params: list[Any]) -> Any:
    if factory is not None:
        return factory(params)
    return optim.SGD(params, lr=0.1 if lr is None else lr)


class _EpochMeans(Callback):
    """Collects the per-epoch means of one logged value, the last (possibly partial) epoch included."""

    def __init__(self) -> None:
        self.sums, self.n, self.means = 0.0, 0, []

    def add(self, value: float, b: int) -> None:
        self.sums += value * b
        self.n += b

    def close(self) -> None:
        if self.n:
            self.means.append(self.sums / self.n)
        self.sums, self.n = 0.0, 0

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        self.close()


def train_stage(model: Module, loss_fn: Callable[[Any], Any], params: list[Any], loader: Iterable, epochs: int | None,
                optimizer_factory: Callable[[list[Any]], Any] | None = None, lr: float | None = None,
                max_steps: int | None = None, progress: bool = True, desc: str = "stage",
                key: str = "loss") -> list[float]:
    """Train one greedy stage with ``train.fit``: ``loss_fn(batch) -> loss`` (or ``{'loss': ..., key:
    value}``) minimized over ``params`` for ``epochs`` passes over ``loader`` or ``max_steps``
    optimizer steps (whichever ends first; at least one must be given). The optimizer is
    ``optimizer_factory(params)``, default ``SGD(params, lr)`` (lr 0.1). Returns the mean ``key``
    value of each epoch, the last one possibly partial."""
    if epochs is None and max_steps is None:
        raise ValueError(f"{desc}: give epochs or max_steps")
    for what, v in (("epochs", epochs), ("max_steps", max_steps)):
        if v is not None and (not isinstance(v, int) or v < 1):
            raise ValueError(f"{desc}: {what} must be a positive integer (got {v!r})")
    optimizer = _stage_optimizer(optimizer_factory, lr, unique_parameters(params))
    means = _EpochMeans()

    def step(_model: Any, batch: Any) -> dict[str, Any]:
        out = loss_fn(batch)
        logs = out if isinstance(out, dict) else {"loss": out}
        v = logs[key]
        means.add(float(v.item() if hasattr(v, "item") else v), batch_inputs(batch).shape[0])
        return logs

    fit(model, loader, None, optimizer, epochs, step_fn=step, max_steps=max_steps, progress=progress, desc=desc,
        callbacks=[means])
    means.close()
    return means.means


class StackedAutoencoder(Module):
    """Autoencoders stacked by greedy layer-wise training.

    Args:
        layer_sizes: e.g. ``(784, 500, 500)``.
        activation: every encoder layer's activation (``'sigmoid'``, ``'relu'``, ``'tanh'``, ...).
        corruption: ``'mask'`` (zero each input with probability ``noise``), ``'gaussian'`` (add
            ``noise * N(0, 1)``) or None; applied to each stage's input in training mode only.
        tied: ``decoder_k(h) = decoder_activation(h W_k + c_k)`` with the encoder's own ``W_k``
            (``TiedLinear``: one parameter, one gradient), else a separate ``Linear(s_{k+1}, s_k)``.
        decoder_activation: ``'auto'`` (sigmoid when ``activation='sigmoid'``: every stage's target
            then lies in [0, 1], for inputs in [0, 1]; else linear), ``'sigmoid'``, None, ...
        loss: ``'auto'`` (``'bce'`` for a sigmoid decoder, else ``'mse'``); ``'bce'`` is the
            cross-entropy ``-sum_i [x_i log r_i + (1 - x_i) log(1 - r_i)]`` per example (summed over
            the features, averaged over the batch; computed from the logits, stable); ``'mse'`` the
            mean squared error over all elements.
    Modules: ``encoders[k] = Sequential(Linear(s_k, s_{k+1}), act)``, ``decoders[k]`` (``TiedLinear``
    or ``Linear``) producing the decoder's pre-activation. Sigmoid encoders start from
    ``U(+-4 sqrt(6 / (fan_in + fan_out)))`` (Glorot & Bengio 2010), other activations from ``Linear``'s default.
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str = "sigmoid", corruption: str | None = "mask",
                 noise: float = 0.25, tied: bool = True, decoder_activation: str | None = "auto",
                 loss: str = "auto") -> None:
        super().__init__()
        sizes = [int(s) for s in layer_sizes]
        if len(sizes) < 2 or any(s <= 0 for s in sizes):
            raise ValueError(f"StackedAutoencoder: layer_sizes must be >= 2 positive widths (got {list(layer_sizes)})")
        if corruption is not None:
            _check_corruption(corruption, noise)
        if decoder_activation == "auto":
            decoder_activation = "sigmoid" if activation == "sigmoid" else None
        _act(decoder_activation)  # validates the name
        if loss == "auto":
            loss = "bce" if decoder_activation == "sigmoid" else "mse"
        if loss not in ("bce", "mse"):
            raise ValueError(f"StackedAutoencoder: loss must be 'auto', 'bce' or 'mse' (got {loss!r})")
        if loss == "bce" and decoder_activation != "sigmoid":
            raise ValueError("StackedAutoencoder: loss='bce' needs decoder_activation='sigmoid' (outputs in (0, 1))")
        self.layer_sizes, self.activation, self.corruption, self.noise = sizes, activation, corruption, noise
        self.tied, self.decoder_activation, self.loss_kind = tied, decoder_activation, loss
        self.encoders = nn.ModuleList(nn.Sequential(nn.Linear(a, b), _act(activation))
                                      for a, b in zip(sizes[:-1], sizes[1:]))
        if activation == "sigmoid":  # Glorot & Bengio (2010): uniform +-4 sqrt(6 / (fan_in + fan_out)) for sigmoid units
            with no_grad():
                for enc in self.encoders:
                    nn.init.xavier_uniform_(enc[0].weight, gain=4.0)
                    enc[0].bias.zero_()
        if tied:
            self.decoders = nn.ModuleList(TiedLinear(enc[0]) for enc in self.encoders)
        else:
            self.decoders = nn.ModuleList(nn.Linear(b, a) for a, b in zip(sizes[:-1], sizes[1:]))
        self._out_act = _act(decoder_activation)
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
        """The parameters trained in stage ``k``: encoder k and decoder k, each once (a tied weight is
        listed once, so the optimizer updates it once per step)."""
        return unique_parameters(list(self.encoders[k].parameters()) + list(self.decoders[k].parameters()))

    def reconstruct(self, k: int, h: Tensor) -> Tensor:
        """Stage ``k``'s reconstruction of its input ``h (N, s_k)`` (no corruption), ``(N, s_k)``."""
        return self._out_act(self.decoders[k](self.encoders[k](h)))

    def stage_loss(self, k: int, x: Tensor) -> Tensor:
        """Stage ``k``'s reconstruction loss on a batch of raw inputs ``x (N, s_0)``: the clean code
        ``h_k`` reconstructed from its corrupted copy (in training mode)."""
        with no_grad():
            h = self.codes(x, k)
        inp = corrupt(h, self.corruption, self.noise) if self.corruption is not None and self.training else h
        z = self.decoders[k](self.encoders[k](inp))
        if self.loss_kind == "bce":
            return nn.functional.binary_cross_entropy_with_logits(z, h, reduction="sum") / h.shape[0]
        return nn.functional.mse_loss(self._out_act(z), h)

    def pretrain_layer(self, k: int, unlabeled_loader: Iterable, epochs: int | None = None,
                       optimizer_factory: Callable[[list[Any]], Any] | None = None, progress: bool = True,
                       lr: float | None = None, max_steps: int | None = None) -> list[float]:
        """Train stage ``k`` alone for ``epochs`` (or ``max_steps`` steps); returns its mean
        reconstruction loss per epoch. Optimizer: ``optimizer_factory(params)``, default ``SGD(lr)``
        with lr 0.1."""
        if not 0 <= k < self.num_stages:
            raise ValueError(f"StackedAutoencoder.pretrain_layer: stage {k} out of range [0, {self.num_stages})")
        self.train()
        what = "cross-entropy" if self.loss_kind == "bce" else "MSE"
        return train_stage(self, lambda batch: self.stage_loss(k, batch_inputs(batch)), self.stage_parameters(k),
                           unlabeled_loader, epochs, optimizer_factory, lr, max_steps, progress,
                           desc=f"stage {k + 1}/{self.num_stages} ({self.layer_sizes[k]} -> {self.layer_sizes[k + 1]}, "
                                f"reconstruction {what})")

    def pretrain(self, unlabeled_loader: Iterable, epochs_per_layer: int | Sequence[int] | None = 10,
                 optimizer_factory: Callable[[list[Any]], Any] | Sequence[Callable[[list[Any]], Any]] | None = None,
                 progress: bool = True, lr: float | Sequence[float] | None = None,
                 steps_per_layer: int | Sequence[int] | None = None) -> list[list[float]]:
        """Greedy layer-wise schedule: stage 1, then stage 2 on the frozen codes of stage 1, ...

        Per stage (a single value applies to every stage, a list gives one per stage):
        ``epochs_per_layer`` and/or ``steps_per_layer`` (the budget), ``optimizer_factory(params) ->
        Optimizer`` (a fresh optimizer per stage) or ``lr`` for the default SGD. Returns the per-epoch
        reconstruction losses of each stage (also kept in ``self.history``)."""
        n = self.num_stages
        epochs = per_stage(epochs_per_layer, n, "epochs_per_layer")
        steps = per_stage(steps_per_layer, n, "steps_per_layer")
        factories = per_stage(optimizer_factory, n, "optimizer_factory")
        lrs = per_stage(lr, n, "lr")
        self.history = [self.pretrain_layer(k, unlabeled_loader, epochs[k], factories[k], progress, lrs[k], steps[k])
                        for k in range(n)]
        return self.history

    def encoder(self) -> nn.Sequential:
        """The stacked encoder ``Linear, act, Linear, act, ...`` as a ``Sequential`` sharing this model's layers."""
        mods: list[Module] = []
        for enc in self.encoders:
            mods += list(enc)
        return nn.Sequential(*mods)

    def to_classifier(self, num_classes: int, freeze_encoder: bool = False, dropout: float = 0.0) -> MLP:
        """An ``MLP(s_0, s_1..s_last, num_classes, dropout=dropout)`` with the pretrained encoder weights
        (copied) and a new linear head: the same shape and state_dict keys as an ``MLP`` trained from scratch."""
        layers = [(enc[0].weight.array, enc[0].bias.array) for enc in self.encoders]
        return copy_into_mlp(layers, num_classes, self.activation, freeze_encoder, dropout)

    def extra_repr(self) -> str:
        return (f"layer_sizes={self.layer_sizes}, activation={self.activation!r}, corruption={self.corruption!r}, "
                f"noise={self.noise}, tied={self.tied}, loss={self.loss_kind!r}")
