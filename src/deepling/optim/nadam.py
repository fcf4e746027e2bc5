"""NAdam: Adam with Nesterov momentum (Dozat 2016), its momentum warmed up by ``momentum_decay``."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from deepling.optim.optimizer import Optimizer
from deepling.serialization import as_numpy
from deepling.tensor import Tensor

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam as PyTorch defines it, per parameter ``p`` with gradient ``g`` at step ``t``:

    ``d = ±g + weight_decay * p`` (or, decoupled, ``p *= 1 - lr * weight_decay`` and ``d = ±g``);
    ``mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))``, ``P_t = mu_1 * ... * mu_t``;
    ``m = beta1 * m + (1 - beta1) * d``; ``v = beta2 * v + (1 - beta2) * d**2``;
    ``a = sqrt(v / (1 - beta2**t)) + eps``;
    ``p -= lr * (1 - mu_t) / (1 - P_t) * d / a + lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / a``.
    State: ``step``, ``mu_product`` (``P_t``, a 0-d float32 tensor as PyTorch keeps it), ``exp_avg``,
    ``exp_avg_sq``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        self._check_adam_args(lr, eps, betas, weight_decay, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            psi, decoupled = float(group["momentum_decay"]), group["decoupled_weight_decay"]
            for param, p, g in self._params_with_grad(group):
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = self._new_step()
                    state["mu_product"] = Tensor._wrap(np.ones((), dtype=np.float32))
                    state["exp_avg"] = self._zeros_like(p)
                    state["exp_avg_sq"] = self._zeros_like(p)
                t = self._advance(state)
                if wd != 0 and decoupled:
                    p *= 1 - lr * wd
                d = self._direction(p, g, 0.0 if decoupled else wd, group["maximize"])
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
                prod = state["mu_product"].array
                prod *= mu  # in float32, as PyTorch's 0-d state tensor
                mu_product = float(prod)
                m, v = state["exp_avg"].array, state["exp_avg_sq"].array
                tmp, denom = self._buffer(d, 1), self._buffer(d, 2)
                np.subtract(d, m, out=tmp)  # m.lerp_(d, 1 - beta1)
                tmp *= 1 - beta1
                m += tmp
                np.multiply(d, d, out=tmp)
                tmp *= 1 - beta2
                v *= beta2
                v += tmp
                np.divide(v, 1 - beta2**t, out=denom)
                np.sqrt(denom, out=denom)
                denom += eps
                np.divide(d, denom, out=tmp)
                tmp *= lr * (1.0 - mu) / (1.0 - mu_product)
                p -= tmp
                np.divide(m, denom, out=tmp)
                tmp *= lr * mu_next / (1.0 - mu_product * mu_next)
                p -= tmp
        return loss

    def _cast(self, p: Tensor, key: str, value: Any) -> Any:
        if key == "mu_product":  # a 0-d scalar, cast to the parameter's dtype as PyTorch's loader does
            return Tensor._wrap(np.array(float(np.asarray(as_numpy(value))), dtype=p.array.dtype))
        return super()._cast(p, key, value)
