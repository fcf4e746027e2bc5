"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from deepling.optim.optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop as PyTorch defines it, per parameter ``p`` with gradient ``g``:

    ``d = ±g + weight_decay * p``; ``v = alpha * v + (1 - alpha) * d**2``;
    ``a = sqrt(v - gbar**2) + eps`` with ``gbar = alpha * gbar + (1 - alpha) * d`` (centered) or
    ``a = sqrt(v) + eps``; with momentum ``b = momentum * b + d / a`` and ``p -= lr * b``, else
    ``p -= lr * d / a``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        if differentiable:
            raise NotImplementedError("RMSprop: differentiable=True is not supported by deepling")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
            wd, mu = float(group["weight_decay"]), float(group["momentum"])
            for param, p, g in self._params_with_grad(group):
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = self._new_step()
                    state["square_avg"] = self._zeros_like(p)
                    if mu > 0:
                        state["momentum_buffer"] = self._zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = self._zeros_like(p)
                self._advance(state)
                d = self._direction(p, g, wd, group["maximize"])
                v = state["square_avg"].array
                tmp = self._buffer(d, 1)
                np.multiply(d, d, out=tmp)
                tmp *= 1 - alpha
                v *= alpha
                v += tmp
                if group["centered"]:
                    gbar = state["grad_avg"].array
                    np.subtract(d, gbar, out=tmp)  # gbar.lerp_(d, 1 - alpha)
                    tmp *= 1 - alpha
                    gbar += tmp
                    np.multiply(gbar, gbar, out=tmp)
                    np.subtract(v, tmp, out=tmp)
                    np.sqrt(tmp, out=tmp)
                else:
                    np.sqrt(v, out=tmp)
                tmp += eps
                np.divide(d, tmp, out=tmp)
                if mu > 0:
                    b = state["momentum_buffer"].array
                    b *= mu
                    b += tmp
                    np.multiply(b, lr, out=tmp)
                else:
                    tmp *= lr
                p -= tmp
        return loss
