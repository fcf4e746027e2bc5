"""``deepling.optim``: optimizers that update parameters in place, and learning-rate schedules.

``optim.SGD(model.parameters(), lr=0.1)``, then per batch: ``zero_grad()``, ``loss.backward()``,
``step()``.
"""

from deepling.optim import lr_scheduler
from deepling.optim.adadelta import Adadelta
from deepling.optim.adagrad import Adagrad
from deepling.optim.adam import Adam, AdamW
from deepling.optim.adamax import Adamax
from deepling.optim.lbfgs import LBFGS
from deepling.optim.nadam import NAdam
from deepling.optim.optimizer import Optimizer
from deepling.optim.radam import RAdam
from deepling.optim.registry import OPTIMIZERS, make_optimizer
from deepling.optim.rmsprop import RMSprop
from deepling.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "LBFGS",
           "lr_scheduler", "OPTIMIZERS", "make_optimizer"]
