"""Adamax: Adam with the infinity norm of past gradients in place of their root mean square."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from deepling.optim.optimizer import Optimizer

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (Kingma & Ba 2015, section 7) as PyTorch defines it, per parameter ``p`` at step ``t``:

    ``d = ±g + weight_decay * p``; ``m = beta1 * m + (1 - beta1) * d``;
    ``u = max(beta2 * u, |d| + eps)``; ``p -= lr / (1 - beta1**t) * m / u``.
    State: ``exp_avg`` (``m``) and ``exp_inf`` (``u``).
    """

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        self._check_adam_args(lr, eps, betas, weight_decay, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            for param, p, g in self._params_with_grad(group):
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = self._new_step()
                    state["exp_avg"] = self._zeros_like(p)
                    state["exp_inf"] = self._zeros_like(p)
                t = self._advance(state)
                d = self._direction(p, g, wd, group["maximize"])
                m, u = state["exp_avg"].array, state["exp_inf"].array
                tmp = self._buffer(d, 1)
                np.subtract(d, m, out=tmp)  # m.lerp_(d, 1 - beta1)
                tmp *= 1 - beta1
                m += tmp
                np.abs(d, out=tmp)
                tmp += eps
                u *= beta2
                np.maximum(u, tmp, out=u)
                np.divide(m, u, out=tmp)
                tmp *= lr / (1 - beta1**t)
                p -= tmp
        return loss
