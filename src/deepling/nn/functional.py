"""``deepling.nn.functional`` (imported as ``F``): the stateless forms of the layers.

Implementations live with their op family in ``deepling.ops``; this module gathers them under
PyTorch's names.
"""

from deepling.ops.dropout import (
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
    feature_dropout,
)
from deepling.ops.elementwise import relu, sigmoid, tanh
from deepling.ops.matmul import linear
from deepling.ops.norm import batch_norm, group_norm, instance_norm, layer_norm, local_response_norm, rms_norm
from deepling.ops.shape import one_hot

__all__ = ["linear", "relu", "sigmoid", "tanh", "one_hot"]
__all__ += ["dropout", "dropout1d", "dropout2d", "dropout3d", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"]
__all__ += ["batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm", "rms_norm"]
