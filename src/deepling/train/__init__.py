"""``deepling.train``: the ``fit`` loop, metrics, callbacks and training checkpoints."""

from deepling.train.callbacks import Callback, EarlyStopping, LambdaCallback
from deepling.train.checkpoint import load_checkpoint, save_checkpoint
from deepling.train.fit import History, Trainer, evaluate, fit, predict
from deepling.train.metrics import accuracy, confusion_matrix, predictions

__all__ = ["fit", "evaluate", "predict", "History", "Trainer", "Callback", "EarlyStopping", "LambdaCallback",
           "save_checkpoint", "load_checkpoint", "accuracy", "confusion_matrix", "predictions"]
