"""Bernoulli-Bernoulli restricted Boltzmann machine trained by contrastive divergence.

Energy ``E(v, h) = -v.b - h.c - h W v`` over binary ``v (D,)`` and ``h (H,)``; the hidden units
are conditionally independent: ``p(h=1|v) = sigmoid(W v + c)``, ``p(v=1|h) = sigmoid(W^T h + b)``.
Summing out ``h`` gives the free energy ``F(v) = -v.b - sum_j softplus(W_j v + c_j)``, with
``p(v) = exp(-F(v)) / Z``. The log-likelihood gradient is ``-dF(v_data) + E_model[dF(v)]``;
CD-k replaces the model expectation by a k-step Gibbs chain started at the data (persistent CD
keeps one chain running across updates). ``cd_loss`` packages this as a differentiable surrogate
``mean F(v_data) - mean F(v_chain)`` whose autograd gradient is exactly the CD update, so any
``deepling.optim`` optimizer can train an RBM.
"""

from __future__ import annotations

import numpy as np

from deepling import creation
from deepling.autograd import no_grad
from deepling.nn import functional as F
from deepling.nn.module import Module
from deepling.nn.parameter import Parameter
from deepling.ops import kernels
from deepling.ops.matmul import linear
from deepling.random import numpy_rng
from deepling.tensor import Tensor

__all__ = ["RBM"]


def _array(v: Tensor | np.ndarray, name: str, width: int) -> np.ndarray:
    a = v.array if isinstance(v, Tensor) else np.asarray(v)
    if a.ndim != 2 or a.shape[1] != width:
        raise ValueError(f"RBM.{name}: expected input of shape (N, {width}), got {tuple(a.shape)}")
    return a


class RBM(Module):
    """Bernoulli-Bernoulli RBM.

    Args: ``n_visible`` (D), ``n_hidden`` (H).
    Parameters: ``weight (H, D)`` ~ N(0, 0.01^2) (the layout of a ``Linear(D, H)``, so the weights
    can initialize one), ``visible_bias (D,)`` and ``hidden_bias (H,)`` zero.
    Inputs are ``(N, D)`` arrays of 0/1 values (or probabilities in [0, 1]).
    """

    def __init__(self, n_visible: int, n_hidden: int) -> None:
        super().__init__()
        if n_visible <= 0 or n_hidden <= 0:
            raise ValueError(f"RBM: sizes must be positive (got n_visible={n_visible}, n_hidden={n_hidden})")
        self.n_visible, self.n_hidden = n_visible, n_hidden
        self.weight = Parameter(creation.empty(n_hidden, n_visible))
        self.visible_bias = Parameter(creation.zeros(n_visible))
        self.hidden_bias = Parameter(creation.zeros(n_hidden))
        self._chain: np.ndarray | None = None  # the persistent CD chain (fantasy particles)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with no_grad():
            self.weight.normal_(0.0, 0.01)
            self.visible_bias.zero_()
            self.hidden_bias.zero_()
        self._chain = None

    # ----------------------------------------------------------------------------- conditionals
    def prob_h(self, v: np.ndarray) -> np.ndarray:
        """``p(h=1|v) = sigmoid(v W^T + c)``, ``(N, D) -> (N, H)``."""
        return kernels.sigmoid(v @ self.weight.array.T + self.hidden_bias.array)

    def prob_v(self, h: np.ndarray) -> np.ndarray:
        """``p(v=1|h) = sigmoid(h W + b)``, ``(N, H) -> (N, D)``."""
        return kernels.sigmoid(h @ self.weight.array + self.visible_bias.array)

    @staticmethod
    def _bernoulli(p: np.ndarray) -> np.ndarray:
        return (numpy_rng().random(p.shape) < p).astype(p.dtype)

    def sample_h(self, v: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
        """``(p(h=1|v), h ~ p(h|v))``, both ``(N, H)``."""
        p = self.prob_h(_array(v, "sample_h", self.n_visible))
        return Tensor._wrap(p), Tensor._wrap(self._bernoulli(p))

    def sample_v(self, h: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
        """``(p(v=1|h), v ~ p(v|h))``, both ``(N, D)``."""
        p = self.prob_v(_array(h, "sample_v", self.n_hidden))
        return Tensor._wrap(p), Tensor._wrap(self._bernoulli(p))

    def _gibbs(self, v: np.ndarray, k: int) -> np.ndarray:
        for _ in range(k):
            v = self._bernoulli(self.prob_v(self._bernoulli(self.prob_h(v))))
        return v

    def gibbs(self, v: Tensor | np.ndarray, k: int = 1) -> Tensor:
        """``k`` steps of block Gibbs sampling ``v -> h -> v``, all chains at once; ``(N, D) -> (N, D)``."""
        if k < 0:
            raise ValueError(f"RBM.gibbs: k must be >= 0 (got {k})")
        return Tensor._wrap(self._gibbs(_array(v, "gibbs", self.n_visible), k))

    # ----------------------------------------------------------------------------- energies
    def free_energy(self, v: Tensor | np.ndarray) -> Tensor:
        """``F(v) = -v.b - sum_j softplus(W_j v + c_j)``, per sample ``(N,)``; differentiable in the parameters."""
        v = v if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=self.weight.dtype))
        _array(v, "free_energy", self.n_visible)
        vb = linear(v, self.visible_bias.reshape(1, -1)).reshape(-1)
        return -vb - F.softplus(linear(v, self.weight, self.hidden_bias)).sum(1)

    def energy(self, v: Tensor | np.ndarray, h: Tensor | np.ndarray) -> Tensor:
        """``E(v, h) = -v.b - h.c - h W v``, per sample ``(N,)``."""
        v = v if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=self.weight.dtype))
        h = h if isinstance(h, Tensor) else Tensor(np.asarray(h, dtype=self.weight.dtype))
        return -(v * self.visible_bias).sum(1) - (h * self.hidden_bias).sum(1) - (linear(v, self.weight) * h).sum(1)

    def forward(self, v: Tensor) -> Tensor:
        """``p(h=1|v)``: the RBM used as a (sigmoid) feature layer, differentiable, ``(N, D) -> (N, H)``."""
        return linear(v, self.weight, self.hidden_bias).sigmoid()

    # ----------------------------------------------------------------------------- training
    def cd_loss(self, v: Tensor | np.ndarray, k: int = 1, persistent: bool = False) -> Tensor:
        """Surrogate whose gradient is the CD-k (or persistent CD-k) update:
        ``mean F(v) - mean F(v_k)``, with ``v_k`` from ``k`` Gibbs steps started at ``v`` (CD) or at
        the persistent chain (PCD; the chain starts from the first batch, keeps its size, and is reset by
        ``reset_parameters``)."""
        if k < 1:
            raise ValueError(f"RBM.cd_loss: k must be >= 1 (got {k})")
        v0 = _array(v, "cd_loss", self.n_visible)
        with no_grad():
            if persistent:
                # the negative phase is a mean over the chain's particles, so its size need not match later batches
                if self._chain is None:
                    self._chain = self._bernoulli(np.clip(v0, 0, 1).astype(self.weight.dtype))
                self._chain = self._gibbs(self._chain, k)
                vk = self._chain
            else:
                vk = self._gibbs(v0, k)
        v0t = v if isinstance(v, Tensor) else Tensor(v0)
        return self.free_energy(v0t).mean() - self.free_energy(Tensor._wrap(vk)).mean()

    # ----------------------------------------------------------------------------- progress measures
    def reconstruction_error(self, v: Tensor | np.ndarray) -> Tensor:
        """Per-sample mean squared error of the mean-field reconstruction ``p(v|p(h|v))``, ``(N,)``."""
        a = _array(v, "reconstruction_error", self.n_visible)
        d = self.prob_v(self.prob_h(a)) - a
        return Tensor._wrap((d * d).mean(1))

    def pseudo_likelihood(self, v: Tensor | np.ndarray) -> Tensor:
        """Stochastic per-sample log pseudo-likelihood ``D * log sigmoid(F(v~) - F(v))``, where ``v~``
        flips one random visible unit per sample (an unbiased estimate of ``sum_i log p(v_i | v_-i)``);
        inputs are binarized at 0.5 first."""
        a = _array(v, "pseudo_likelihood", self.n_visible)
        a = (a > 0.5).astype(self.weight.dtype)
        idx = numpy_rng().integers(0, self.n_visible, size=a.shape[0])
        flipped = a.copy()
        rows = np.arange(a.shape[0])
        flipped[rows, idx] = 1 - flipped[rows, idx]
        with no_grad():
            diff = self.free_energy(Tensor._wrap(flipped)).array - self.free_energy(Tensor._wrap(a)).array
        logsig = -kernels.softplus(-diff)  # log sigmoid(x) = -softplus(-x)
        return Tensor._wrap((self.n_visible * logsig).astype(self.weight.dtype))

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"
