"""RAdam: Adam whose adaptive step is switched on only once the variance estimate is reliable."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from deepling.optim.optimizer import Optimizer

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (Liu et al. 2020) as PyTorch defines it, per parameter ``p`` at step ``t``:

    ``d = ±g + weight_decay * p`` (or, decoupled, ``p *= 1 - lr * weight_decay`` and ``d = ±g``);
    ``m``, ``v`` as in Adam; ``rho_inf = 2 / (1 - beta2) - 1``,
    ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``. If ``rho_t > 5``:
    ``r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))`` and
    ``p -= lr * m / (1 - beta1**t) * r * sqrt(1 - beta2**t) / (sqrt(v) + eps)``;
    otherwise plain momentum ``p -= lr * m / (1 - beta1**t)``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        self._check_adam_args(lr, eps, betas, weight_decay, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            decoupled = group["decoupled_weight_decay"]
            rho_inf = 2 / (1 - beta2) - 1
            for param, p, g in self._params_with_grad(group):
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = self._new_step()
                    state["exp_avg"] = self._zeros_like(p)
                    state["exp_avg_sq"] = self._zeros_like(p)
                t = self._advance(state)
                if wd != 0 and decoupled:
                    p *= 1 - lr * wd
                d = self._direction(p, g, 0.0 if decoupled else wd, group["maximize"])
                m, v = state["exp_avg"].array, state["exp_avg_sq"].array
                tmp = self._moments(d, m, v, beta1, beta2)
                bc1, bc2 = 1 - beta1**t, 1 - beta2**t
                rho_t = rho_inf - 2 * t * (beta2**t) / bc2
                upd = self._buffer(d, 2)
                np.divide(m, bc1, out=upd)
                upd *= lr
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    np.sqrt(v, out=tmp)
                    tmp += eps
                    np.divide(bc2**0.5, tmp, out=tmp)
                    upd *= tmp
                    upd *= rect
                p -= upd
        return loss
