"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from deepling.optim.optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad as PyTorch defines it, per parameter ``p`` with gradient ``g`` at step ``t``:

    ``d = ±g + weight_decay * p``; ``s = s + d**2`` (``s`` starts at ``initial_accumulator_value``);
    ``p -= lr / (1 + (t - 1) * lr_decay) * d / (sqrt(s) + eps)``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if differentiable:
            raise NotImplementedError("Adagrad: differentiable=True is not supported by deepling")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # PyTorch creates Adagrad's state eagerly, so state_dict() has it before the first step.
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(param, group)

    def _init_state(self, param: Any, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[param]
        if len(state) == 0:
            state["step"] = self._new_step()
            state["sum"] = self._zeros_like(param.array, float(group["initial_accumulator_value"]))
        return state

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, lr_decay = float(group["lr"]), float(group["lr_decay"])
            wd, eps = float(group["weight_decay"]), float(group["eps"])
            for param, p, g in self._params_with_grad(group):
                state = self._init_state(param, group)
                t = self._advance(state)
                d = self._direction(p, g, wd, group["maximize"])
                clr = lr / (1 + (t - 1) * lr_decay)
                s = state["sum"].array
                tmp = self._buffer(d, 1)
                np.multiply(d, d, out=tmp)
                s += tmp
                np.sqrt(s, out=tmp)
                tmp += eps
                np.divide(d, tmp, out=tmp)
                tmp *= clr
                p -= tmp
        return loss
