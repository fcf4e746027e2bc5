"""``deepling.nn.modules.distance``: PyTorch's import path for CosineSimilarity."""

from deepling.nn.loss import CosineSimilarity

__all__ = ["CosineSimilarity"]
