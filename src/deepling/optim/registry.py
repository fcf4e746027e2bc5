"""Optimizers by name, for configuration files and the command line.

``make_optimizer("sgd", model.parameters(), lr=0.1, momentum=0.9)`` passes each optimizer only the
options it has (``momentum`` goes to SGD and RMSprop).
"""

from __future__ import annotations

from typing import Any, Iterable

from deepling.optim.adadelta import Adadelta
from deepling.optim.adagrad import Adagrad
from deepling.optim.adam import Adam, AdamW
from deepling.optim.adamax import Adamax
from deepling.optim.nadam import NAdam
from deepling.optim.optimizer import Optimizer
from deepling.optim.radam import RAdam
from deepling.optim.rmsprop import RMSprop
from deepling.optim.sgd import SGD

__all__ = ["OPTIMIZERS", "make_optimizer"]

# Optimizers whose ``step()`` needs no closure (LBFGS does, so a plain training loop cannot drive it).
OPTIMIZERS: dict[str, type[Optimizer]] = {"adam": Adam, "adamw": AdamW, "sgd": SGD, "rmsprop": RMSprop,
                                           "adagrad": Adagrad, "adadelta": Adadelta, "adamax": Adamax,
                                           "nadam": NAdam, "radam": RAdam}
_WITH_MOMENTUM = (SGD, RMSprop)


def make_optimizer(name: str, params: Iterable[Any], lr: float, momentum: float = 0.0,
                   weight_decay: float = 0.0) -> Optimizer:
    """``OPTIMIZERS[name](params, lr=lr, weight_decay=weight_decay[, momentum=momentum])``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}: choose from {', '.join(sorted(OPTIMIZERS))}")
    cls = OPTIMIZERS[name]
    kwargs: dict[str, Any] = {"lr": lr, "weight_decay": weight_decay}
    if issubclass(cls, _WITH_MOMENTUM):
        kwargs["momentum"] = momentum
    return cls(params, **kwargs)
