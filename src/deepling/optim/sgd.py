"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from deepling.optim.optimizer import Optimizer
from deepling.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD as PyTorch defines it, per parameter ``p`` with gradient ``g``:

    ``d = ±g + weight_decay * p`` (``-g`` when ``maximize``); with momentum ``mu``,
    ``b = d`` on the first step, then ``b = mu * b + (1 - dampening) * d``, and ``d = d + mu * b``
    (Nesterov) or ``d = b``; finally ``p = p - lr * d``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if differentiable:
            raise NotImplementedError("SGD: differentiable=True is not supported by deepling")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, mu = float(group["lr"]), float(group["momentum"])
            damp, wd = float(group["dampening"]), float(group["weight_decay"])
            for param, p, g in self._params_with_grad(group):
                d = self._direction(p, g, wd, group["maximize"])
                if mu != 0:
                    state = self.state[param]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        state["momentum_buffer"] = buf = Tensor._wrap(np.array(d, dtype=p.dtype, copy=True))
                    else:
                        b = buf.array
                        b *= mu
                        if damp == 0:
                            b += d
                        else:
                            t = self._buffer(d, 1)
                            np.multiply(d, 1 - damp, out=t)
                            b += t
                    if group["nesterov"]:
                        t = self._buffer(d, 1)
                        np.multiply(buf.array, mu, out=t)
                        t += d
                        d = t
                    else:
                        d = buf.array
                t = self._buffer(d, 1)
                np.multiply(d, lr, out=t)
                p -= t
        return loss
