"""``deepling.nn.functional`` (imported as ``F``): the stateless forms of the layers.

Implementations live with their op family in ``deepling.ops``; this module gathers them under
PyTorch's names.
"""

from deepling.ops.activation import (
    celu,
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    relu6,
    selu,
    silu,
    softmax,
    softmin,
    softplus,
    softsign,
    step,
)
from deepling.ops.attention import scaled_dot_product_attention
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
from deepling.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_similarity,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from deepling.ops.matmul import linear
from deepling.ops.norm import batch_norm, group_norm, instance_norm, layer_norm, local_response_norm, rms_norm
from deepling.ops.shape import one_hot

__all__ = [
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "one_hot",
    "softmax",
    "log_softmax",
    "softmin",
    "gelu",
    "silu",
    "elu",
    "selu",
    "celu",
    "leaky_relu",
    "softplus",
    "hardtanh",
    "relu6",
    "hardsigmoid",
    "hardswish",
    "mish",
    "logsigmoid",
    "softsign",
    "step",
    "mse_loss",
    "l1_loss",
    "huber_loss",
    "smooth_l1_loss",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "cosine_similarity",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "feature_dropout",
    "alpha_dropout",
    "feature_alpha_dropout",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
    "local_response_norm",
    "rms_norm",
]
__all__ += ["scaled_dot_product_attention"]
