"""Adam (with AMSGrad and L2 weight decay) and AdamW (decoupled weight decay)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from deepling.optim.optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam as PyTorch defines it, per parameter ``p`` with gradient ``g`` at step ``t``:

    ``d = ±g + weight_decay * p`` (or, decoupled, ``p *= 1 - lr * weight_decay`` and ``d = ±g``);
    ``m = beta1 * m + (1 - beta1) * d``;  ``v = beta2 * v + (1 - beta2) * d**2`` (AMSGrad: use the
    running max of ``v``); ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        self._check_adam_args(lr, eps, betas, weight_decay, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            decoupled, amsgrad = group["decoupled_weight_decay"], group["amsgrad"]
            for param, p, g in self._params_with_grad(group):
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = self._new_step()
                    state["exp_avg"] = self._zeros_like(p)
                    state["exp_avg_sq"] = self._zeros_like(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = self._zeros_like(p)
                t = self._advance(state)
                if wd != 0 and decoupled:
                    p *= 1 - lr * wd
                d = self._direction(p, g, 0.0 if decoupled else wd, group["maximize"])
                m, v = state["exp_avg"].array, state["exp_avg_sq"].array
                tmp = self._moments(d, m, v, beta1, beta2)
                if amsgrad:
                    vmax = state["max_exp_avg_sq"].array
                    np.maximum(vmax, v, out=vmax)
                    v = vmax
                step_size = lr / (1 - beta1**t)
                bc2_sqrt = (1 - beta2**t) ** 0.5
                # m / (sqrt(v) / c + eps) == c * m / (sqrt(v) + eps * c): one pass fewer.
                np.sqrt(v, out=tmp)
                tmp += eps * bc2_sqrt
                np.divide(m, tmp, out=tmp)
                tmp *= step_size * bc2_sqrt
                p -= tmp
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the Adam update."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
