"""Autoencoders: an encoder f and a decoder g trained so that g(f(x)) reproduces x.

The code ``z = f(x)`` is narrower than ``x``, so it must keep what matters (a linear autoencoder
with MSE learns the same subspace as PCA). Variants change what the network sees or pays for:

* ``DenoisingAutoencoder``: reconstruct the clean ``x`` from a corrupted copy (masking or Gaussian
  noise, applied only in training mode);
* ``SparseAutoencoder``: add ``weight * sum|z|`` (L1) or ``weight * sum_j KL(rho || rho_hat_j)``;
* ``ContractiveAutoencoder``: add ``weight * ||d z / d x||_F^2`` (closed form for a sigmoid layer);
* ``VAE``: the code is a Gaussian ``q(z|x) = N(mu, exp(logvar))``, sampled by reparameterization.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from deepling import nn
from deepling.nn import functional as F
from deepling.nn.module import Module
from deepling.nn.parameter import Parameter
from deepling.ops.matmul import linear
from deepling.random import numpy_rng
from deepling.tensor import Tensor

__all__ = [
    "Autoencoder", "DenoisingAutoencoder", "SparseAutoencoder", "ContractiveAutoencoder", "VAE", "TiedLinear",
    "dense_autoencoder", "conv_autoencoder", "corrupt", "kl_bernoulli", "gaussian_kl", "pca_project",
]


def _act(name: str | None) -> nn.Module:
    """``nn.activation_by_name(name)``; None is the identity (a linear layer)."""
    return nn.Identity() if name is None else nn.activation_by_name(name)


def _per_sample(sq: Tensor) -> Tensor:
    """Mean over every dimension but the first: ``(N, *) -> (N,)``."""
    return sq.reshape(sq.shape[0], -1).mean(1)


def _check_corruption(corruption: str, noise: float) -> None:
    if corruption not in ("mask", "gaussian"):
        raise ValueError(f"corrupt: corruption must be 'mask' or 'gaussian' (got {corruption!r})")
    if corruption == "mask" and not 0.0 <= noise < 1.0:
        raise ValueError(f"corrupt: masking probability must be in [0, 1) (got {noise})")
    if corruption == "gaussian" and not noise >= 0:
        raise ValueError(f"corrupt: Gaussian noise std must be >= 0 (got {noise})")


def corrupt(x: Tensor, corruption: str, noise: float) -> Tensor:
    """A corrupted copy of ``x`` (no gradient flows into the noise).

    ``'mask'``: each entry is set to 0 with probability ``noise`` (masking noise);
    ``'gaussian'``: ``x + noise * eps`` with ``eps ~ N(0, 1)``.
    """
    _check_corruption(corruption, noise)
    if corruption == "mask":
        keep = (numpy_rng().random(x.shape) >= noise).astype(x.dtype)
        return x * Tensor._wrap(keep)
    eps = numpy_rng().standard_normal(x.shape).astype(x.dtype)
    return x + Tensor._wrap(eps * x.dtype.type(noise))


class Autoencoder(Module):
    """``x_hat = decoder(encoder(x))``, trained with ``loss(x) = mean (x_hat - x)^2 (+ penalty)``.

    Shapes: ``encode`` maps the input ``(N, *)`` to a code ``(N, *code)``; ``decode`` maps it back.
    ``forward(x)`` returns the reconstruction (in training mode, of the corrupted input for the
    denoising variant). ``reconstruction_error(x)`` is the per-sample MSE ``(N,)`` of the clean input.
    """

    def __init__(self, encoder: Module, decoder: Module) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def corrupt(self, x: Tensor) -> Tensor:
        """The input the encoder sees while training (identity here; noise in the denoising variant)."""
        return x

    def penalty(self, x: Tensor, z: Tensor) -> Tensor | None:
        """An extra term added to the loss (None here; sparsity/contraction in the variants)."""
        return None

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(self.corrupt(x) if self.training else x))

    def loss(self, x: Tensor) -> Tensor:
        """Mean squared reconstruction error of the clean ``x`` (plus the variant's penalty)."""
        inp = self.corrupt(x) if self.training else x
        z = self.encode(inp)
        rec = F.mse_loss(self.decode(z).reshape(x.shape), x)
        pen = self.penalty(inp, z)
        return rec if pen is None else rec + pen

    def reconstruction_error(self, x: Tensor) -> Tensor:
        """Per-sample mean squared error ``mean_i (g(f(x))_i - x_i)^2``, shape ``(N,)`` (no corruption)."""
        d = self.decode(self.encode(x)).reshape(x.shape) - x
        return _per_sample(d * d)


class DenoisingAutoencoder(Autoencoder):
    """Reconstructs the clean ``x`` from ``corrupt(x)`` (``'mask'``: zero entries with probability
    ``noise``; ``'gaussian'``: add ``noise * N(0, 1)``). The corruption is applied in training mode only."""

    def __init__(self, encoder: Module, decoder: Module, corruption: str = "mask", noise: float = 0.3) -> None:
        super().__init__(encoder, decoder)
        _check_corruption(corruption, noise)
        self.corruption, self.noise = corruption, noise

    def corrupt(self, x: Tensor) -> Tensor:
        return corrupt(x, self.corruption, self.noise)

    def extra_repr(self) -> str:
        return f"corruption={self.corruption!r}, noise={self.noise}"


def kl_bernoulli(rho: float, rho_hat: Tensor, eps: float = 1e-6) -> Tensor:
    """``KL(Bern(rho) || Bern(rho_hat)) = rho log(rho/rho_hat) + (1-rho) log((1-rho)/(1-rho_hat))``, elementwise."""
    r = rho_hat.clamp(eps, 1 - eps)
    return (math.log(rho) - r.log()) * rho + (math.log(1 - rho) - (1 - r).log()) * (1 - rho)


class SparseAutoencoder(Autoencoder):
    """Adds a sparsity penalty on the code ``z (N, H)``:
    ``'l1'``: ``weight * mean_n sum_j |z_nj|``; ``'kl'``: ``weight * sum_j KL(rho || mean_n z_nj)``
    (the code must lie in (0, 1), e.g. after a sigmoid; ``rho`` is the target mean activation)."""

    def __init__(self, encoder: Module, decoder: Module, sparsity: str = "l1", weight: float = 1e-3,
                 rho: float = 0.05) -> None:
        super().__init__(encoder, decoder)
        if sparsity not in ("l1", "kl"):
            raise ValueError(f"SparseAutoencoder: sparsity must be 'l1' or 'kl' (got {sparsity!r})")
        if not 0 < rho < 1:
            raise ValueError(f"SparseAutoencoder: rho must be in (0, 1) (got {rho})")
        self.sparsity, self.weight, self.rho = sparsity, weight, rho

    def penalty(self, x: Tensor, z: Tensor) -> Tensor:
        z2 = z.reshape(z.shape[0], -1)
        if self.sparsity == "l1":
            return z2.abs().sum(1).mean() * self.weight
        return kl_bernoulli(self.rho, z2.mean(0)).sum() * self.weight

    def extra_repr(self) -> str:
        return f"sparsity={self.sparsity!r}, weight={self.weight}, rho={self.rho}"


class ContractiveAutoencoder(Autoencoder):
    """Adds ``weight * mean_n ||d z_n / d x_n||_F^2``; for an encoder ``Sequential(Linear, Sigmoid)``
    the Jacobian norm is ``sum_j (z_j (1 - z_j))^2 sum_i W_ji^2``."""

    def __init__(self, encoder: Module, decoder: Module, weight: float = 1e-3) -> None:
        super().__init__(encoder, decoder)
        if not (isinstance(encoder, nn.Sequential) and len(encoder) == 2 and isinstance(encoder[0], nn.Linear)
                and isinstance(encoder[1], nn.Sigmoid)):
            raise TypeError("ContractiveAutoencoder: the encoder must be Sequential(Linear, Sigmoid)")
        self.weight = weight

    def penalty(self, x: Tensor, z: Tensor) -> Tensor:
        w2 = (self.encoder[0].weight ** 2).sum(1)          # (H,)
        s = z * (1 - z)
        return ((s * s) * w2).sum(1).mean() * self.weight


class TiedLinear(Module):
    """Decoder layer sharing an encoder ``Linear``'s weight: ``y = x W + b`` with ``W`` the encoder's
    ``(out, in)`` weight (the same ``Parameter`` object, so both uses add to one gradient).
    Shapes: input ``(*, out)``, output ``(*, in)``; own parameter ``bias (in,)`` initialized to 0."""

    def __init__(self, tied_to: nn.Linear, bias: bool = True) -> None:
        super().__init__()
        self.weight = tied_to.weight
        self.bias = Parameter(np.zeros(tied_to.in_features, dtype=tied_to.weight.dtype)) if bias else None
        self.in_features, self.out_features = tied_to.out_features, tied_to.in_features

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight.T, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, tied=True"


def dense_autoencoder(sizes: Sequence[int], activation: str = "relu", code_activation: str | None = "same",
                      out_activation: str | None = None, tied: bool = False,
                      cls: Callable[..., Autoencoder] = Autoencoder, **kwargs: Any) -> Autoencoder:
    """Mirror-image MLP autoencoder, e.g. ``sizes=(784, 256, 64)``: 784 -> 256 -> 64 -> 256 -> 784.

    Hidden layers use ``activation``; the code layer ``code_activation`` (``'same'``: as hidden;
    None: linear); the output ``out_activation`` (None: linear, ``'sigmoid'`` for data in [0, 1]).
    ``tied=True`` makes each decoder layer use its encoder layer's weight transposed (``TiedLinear``).
    ``cls`` picks the variant (e.g. ``DenoisingAutoencoder``), ``kwargs`` go to it.
    """
    sizes = list(sizes)
    if len(sizes) < 2 or any(int(s) <= 0 for s in sizes):
        raise ValueError(f"dense_autoencoder: sizes must be >= 2 positive widths (got {sizes})")
    code_act = activation if code_activation == "same" else code_activation
    enc: list[Module] = []
    lins = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = nn.Linear(a, b)
        lins.append(lin)
        enc += [lin, _act(code_act if i == len(sizes) - 2 else activation)]
    dec: list[Module] = []
    for i, lin in enumerate(reversed(lins)):
        dec.append(TiedLinear(lin) if tied else nn.Linear(lin.out_features, lin.in_features))
        dec.append(_act(out_activation if i == len(lins) - 1 else activation))
    return cls(nn.Sequential(*enc), nn.Sequential(*dec), **kwargs)


def conv_autoencoder(channels: Sequence[int] = (16, 32), in_channels: int = 1,
                     cls: Callable[..., Autoencoder] = Autoencoder, **kwargs: Any) -> Autoencoder:
    """A small convolutional autoencoder for ``(N, 1, 28, 28)`` images in [0, 1]:
    stride-2 3x3 convolutions halve the size (28 -> 14 -> 7), transposed convolutions double it back;
    ReLU inside, sigmoid output. Code shape ``(N, channels[-1], 7, 7)`` for two stages."""
    chans = [in_channels, *channels]
    enc: list[Module] = []
    for a, b in zip(chans[:-1], chans[1:]):
        enc += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.ReLU()]
    dec: list[Module] = []
    back = chans[::-1]
    for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
        dec += [nn.ConvTranspose2d(a, b, 3, stride=2, padding=1, output_padding=1),
                nn.Sigmoid() if i == len(back) - 2 else nn.ReLU()]
    return cls(nn.Sequential(*enc), nn.Sequential(*dec), **kwargs)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mu, exp(logvar)) || N(0, I)) = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))``, per sample ``(N,)``."""
    return (1 + logvar - mu * mu - logvar.exp()).sum(1) * -0.5


class VAE(Module):
    """Variational autoencoder with an MLP encoder/decoder.

    ``h = relu(W x + b)``, ``mu = fc_mu(h)``, ``logvar = fc_logvar(h)``, ``z = mu + exp(logvar/2) * eps``
    (reparameterization, ``eps ~ N(0, I)``; in eval mode ``z = mu``), decoder ``(N, latent) -> (N, D)``.
    ``likelihood='bernoulli'``: the decoder gives logits and the reconstruction term is the summed
    binary cross-entropy; ``'gaussian'``: the summed squared error (unit variance, up to constants).
    ``loss(x)`` returns ``(total, reconstruction, kl)``, each averaged over the batch.
    """

    def __init__(self, in_features: int = 784, hidden: int = 400, latent_dim: int = 20,
                 likelihood: str = "bernoulli") -> None:
        super().__init__()
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"VAE: likelihood must be 'bernoulli' or 'gaussian' (got {likelihood!r})")
        self.likelihood, self.latent_dim = likelihood, latent_dim
        self.encoder = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.fc_mu = nn.Linear(hidden, latent_dim)
        self.fc_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, in_features))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x.reshape(x.shape[0], -1))
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu: Tensor, logvar: Tensor) -> Tensor:
        if not self.training:
            return mu
        eps = Tensor._wrap(numpy_rng().standard_normal(mu.shape).astype(mu.dtype))
        return mu + (logvar * 0.5).exp() * eps

    def decode(self, z: Tensor) -> Tensor:
        """The decoder output: logits (bernoulli) or the mean (gaussian), ``(N, D)``."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    def _reconstruction(self, out: Tensor, x2: Tensor) -> Tensor:
        if self.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(out, x2, reduction="none").sum(1)
        d = out - x2
        return (d * d).sum(1)

    def loss(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(reconstruction + kl, reconstruction, kl)``: the negative ELBO and its two terms, batch means."""
        out, mu, logvar = self(x)
        rec = self._reconstruction(out, x.reshape(x.shape[0], -1)).mean()
        kl = gaussian_kl(mu, logvar).mean()
        return rec + kl, rec, kl

    def reconstruction_error(self, x: Tensor) -> Tensor:
        """Per-sample MSE of the mean reconstruction (``z = mu``), shape ``(N,)``."""
        x2 = x.reshape(x.shape[0], -1)
        out = self.decode(self.encode(x)[0])
        if self.likelihood == "bernoulli":
            out = out.sigmoid()
        d = out - x2
        return _per_sample(d * d)

    def sample(self, n: int) -> Tensor:
        """``n`` samples decoded from the prior ``z ~ N(0, I)`` (probabilities for bernoulli)."""
        z = Tensor._wrap(numpy_rng().standard_normal((n, self.latent_dim)).astype(self.fc_mu.weight.dtype))
        out = self.decode(z)
        return out.sigmoid() if self.likelihood == "bernoulli" else out


def pca_project(x: Any, n_components: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA via SVD of the centered data ``x (N, D)``: returns ``(projected (N, k), components (k, D), mean (D,))``.

    Used to draw codes in 2-D, and as the baseline a linear autoencoder should match."""
    a = np.asarray(x.array if isinstance(x, Tensor) else x)
    a = a.reshape(a.shape[0], -1)
    if not 1 <= n_components <= min(a.shape):
        raise ValueError(f"pca_project: n_components must be in [1, {min(a.shape)}] for data of shape {a.shape}")
    mean = a.mean(0)
    _, _, vt = np.linalg.svd(a - mean, full_matrices=False)
    comps = vt[:n_components]
    return (a - mean) @ comps.T, comps, mean
