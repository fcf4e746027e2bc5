"""Adadelta: steps scaled by the ratio of two running RMS values, of past updates and of gradients."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from deepling.optim.optimizer import Optimizer

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012) as PyTorch defines it, per parameter ``p`` with gradient ``g``:

    ``d = ±g + weight_decay * p``; ``v = rho * v + (1 - rho) * d**2``;
    ``delta = sqrt(u + eps) / sqrt(v + eps) * d``; ``u = rho * u + (1 - rho) * delta**2``;
    ``p -= lr * delta``. State: ``square_avg`` (``v``) and ``acc_delta`` (``u``).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if differentiable:
            raise NotImplementedError("Adadelta: differentiable=True is not supported by deepling")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, rho, eps, wd = float(group["lr"]), float(group["rho"]), float(group["eps"]), float(group["weight_decay"])
            for param, p, g in self._params_with_grad(group):
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = self._new_step()
                    state["square_avg"] = self._zeros_like(p)
                    state["acc_delta"] = self._zeros_like(p)
                self._advance(state)
                d = self._direction(p, g, wd, group["maximize"])
                v, u = state["square_avg"].array, state["acc_delta"].array
                std, delta = self._buffer(d, 1), self._buffer(d, 2)
                np.multiply(d, d, out=std)
                std *= 1 - rho
                v *= rho
                v += std
                np.add(v, eps, out=std)
                np.sqrt(std, out=std)
                np.add(u, eps, out=delta)
                np.sqrt(delta, out=delta)
                delta /= std
                delta *= d
                np.multiply(delta, delta, out=std)
                std *= 1 - rho
                u *= rho
                u += std
                delta *= lr
                p -= delta
        return loss
