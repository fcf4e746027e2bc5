"""Optimizer: the base class of the update rules (param groups, per-parameter state, state_dict).

Subclasses implement ``step()``. Updates run under the hood on NumPy arrays, in place on each
parameter's ``.array``: the per-parameter state buffers are deepling Tensors (so ``state_dict()`` can
be saved), and the temporaries of a step live in a few scratch arrays reused from step to step.
"""

from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from itertools import chain
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from deepling.autograd import enable_grad
from deepling.serialization import as_numpy, is_array_like
from deepling.tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a default that every param group must set (PyTorch's ``required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj: Any) -> str:
    if isinstance(obj, Tensor):
        return "deepling.Tensor"
    return type(obj).__module__ + "." + type(obj).__qualname__


class Optimizer:
    """Base class of all optimizers.

    ``params`` is an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (param groups):
    each group is ``{'params': [...], **options}`` and options it omits come from ``defaults``.
    ``state[p]`` holds the per-parameter buffers (e.g. ``momentum_buffer``, ``exp_avg``).
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got {_typename(params)}"
            )
        self.state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._scratch: dict[tuple[np.dtype, int], np.ndarray] = {}
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Append a group; options it omits take the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering of "
                "tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        tensors = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(tensors):
            raise ValueError("all optimizer params should be with/without names. Some param names are missing")
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {_typename(p)}")
            if not (p.is_leaf or p._retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        param_group["params"] = tensors
        if names:
            param_group["param_names"] = names
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter {name}"
                )
            param_group.setdefault(name, default)
        ids = [id(p) for p in tensors]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters", stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(("param_names" in g) != bool(names) for g in self.param_groups):
            raise ValueError("all optimizer param groups should be with/without names")
        if seen.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad``: drop it (default) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.array[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update the parameters once; ``closure`` re-evaluates the model and returns the loss."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers for subclasses
    @staticmethod
    def _evaluate(closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _params_with_grad(self, group: dict[str, Any]) -> Iterator[tuple[Tensor, np.ndarray, np.ndarray]]:
        """(parameter, its data, its gradient) for the parameters of ``group`` that have a gradient."""
        for p in group["params"]:
            if p.grad is None:
                continue
            g = p.grad.array
            if g.shape != p.array.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: gradient of shape {g.shape} does not match its parameter "
                    f"of shape {p.array.shape}"
                )
            p._vc[0] += 1  # the step writes into p: graphs that saved it can no longer back-propagate
            yield p, p.array, g

    def _buffer(self, like: np.ndarray, slot: int) -> np.ndarray:
        """A scratch array shaped like ``like``, reused across steps (``slot`` tells temporaries apart)."""
        key = (like.dtype, slot)
        buf = self._scratch.get(key)
        if buf is None or buf.size < like.size:
            buf = np.empty(like.size, dtype=like.dtype)
            self._scratch[key] = buf
        return buf[: like.size].reshape(like.shape)

    def _check_adam_args(self, lr: float, eps: float, betas: tuple[float, float], weight_decay: float,
                         differentiable: bool) -> None:
        """The Adam family's argument checks, with PyTorch's messages."""
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if differentiable:
            raise NotImplementedError(f"{type(self).__name__}: differentiable=True is not supported by deepling")

    def _moments(self, d: np.ndarray, m: np.ndarray, v: np.ndarray, beta1: float, beta2: float) -> np.ndarray:
        """Adam's moment estimates in place: ``m = beta1 m + (1 - beta1) d``, ``v = beta2 v + (1 - beta2) d^2``.
        Returns the scratch buffer it used (slot 1), free for the caller."""
        tmp = self._buffer(d, 1)
        np.subtract(d, m, out=tmp)  # m.lerp_(d, 1 - beta1)
        tmp *= 1 - beta1
        m += tmp
        np.multiply(d, d, out=tmp)
        tmp *= 1 - beta2
        v *= beta2
        v += tmp
        return tmp

    def _direction(self, p: np.ndarray, g: np.ndarray, weight_decay: float, maximize: bool) -> np.ndarray:
        """The gradient the rule follows: ``±g + weight_decay * p`` (L2 penalty), ``g`` itself if plain."""
        if weight_decay == 0 and not maximize:
            return g
        d = self._buffer(g, 0)
        if weight_decay == 0:
            np.negative(g, out=d)
        else:
            np.multiply(p, weight_decay, out=d)
            (np.subtract if maximize else np.add)(d, g, out=d)
        return d

    @staticmethod
    def _zeros_like(p: np.ndarray, fill: float = 0.0) -> Tensor:
        return Tensor._wrap(np.full(p.shape, fill, dtype=p.dtype))

    @staticmethod
    def _new_step() -> Tensor:
        # A 0-d float32 counter, as PyTorch keeps ``state['step']``.
        return Tensor._wrap(np.zeros((), dtype=np.float32))

    @staticmethod
    def _advance(state: dict[str, Any]) -> float:
        step = state["step"].array
        step += 1
        return float(step)

    # ------------------------------------------------------------------ state_dict
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` as PyTorch lays it out.

        Parameters are numbered in group order. Like PyTorch, the state tensors are the live buffers
        (not copies): save the dict, or deep-copy it, to keep a snapshot.
        """
        index: dict[int, int] = {}
        groups = []
        start = 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {
            (index[id(k)] if isinstance(k, Tensor) else k): dict(v)
            for k, v in self.state.items()
            if not isinstance(k, Tensor) or id(k) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore groups and per-parameter state saved by ``state_dict()`` (ours or PyTorch's).

        Saved parameters are matched to this optimizer's by position; state arrays are copied and
        cast to each parameter's dtype, so the loaded optimizer owns its buffers.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or not isinstance(state_dict.get("param_groups"), list) \
                or not isinstance(state_dict.get("state", {}), dict):
            raise TypeError(f"{name}: expected a dict with 'state' (a dict) and 'param_groups' (a list), as "
                            f"state_dict() returns; got {type(state_dict).__name__}")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, s in zip(groups, saved_groups):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
                )
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                p = id_map[k]
                state[p] = {key: self._cast(p, key, value) for key, value in v.items()}
            else:
                state[k] = v
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
        self.param_groups = saved_groups
        self.state = state

    def _cast(self, p: Tensor, key: str, value: Any) -> Any:
        if key == "step":
            return Tensor._wrap(np.array(float(as_numpy(value)), dtype=np.float32))
        if is_array_like(value):
            arr = as_numpy(value)
            if arr.shape != p.shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: state '{key}' has shape {arr.shape}, "
                    f"but its parameter has shape {p.shape}"
                )
            dtype = p.dtype if p.array.dtype.kind == "f" else arr.dtype
            return Tensor._wrap(np.array(arr, dtype=dtype, copy=True))
        if isinstance(value, dict):
            return {k: self._cast(p, k, v) for k, v in value.items()}
        return copy.deepcopy(value)

    # ------------------------------------------------------------------ repr
    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self) -> dict[str, Any]:
        # not the scratch arrays, nor a scheduler's wrapper of ``step`` (it refers to this instance)
        return {k: v for k, v in self.__dict__.items() if k not in ("_scratch", "step")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._scratch = {}
