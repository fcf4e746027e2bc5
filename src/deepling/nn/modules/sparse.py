"""``deepling.nn.modules.sparse``: PyTorch's import path for Embedding."""

from deepling.nn.sparse import Embedding

__all__ = ["Embedding"]
