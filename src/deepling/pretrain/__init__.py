"""``deepling.pretrain``: greedy layer-wise pretraining (stacked autoencoders, RBMs stacked into a DBN)."""

from deepling.pretrain.dbn import DBN
from deepling.pretrain.stacked import StackedAutoencoder

__all__ = ["StackedAutoencoder", "DBN"]
