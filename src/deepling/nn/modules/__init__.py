"""``deepling.nn.modules``: PyTorch's module paths (``torch.nn.modules.linear.Linear`` ...).

Each submodule re-exports the deepling layers PyTorch defines in the file of that name.
"""

from deepling.nn.modules import (
    activation,
    batchnorm,
    container,
    conv,
    distance,
    dropout,
    flatten,
    instancenorm,
    linear,
    loss,
    module,
    normalization,
    padding,
    pooling,
    rnn,
    sparse,
    transformer,
    upsampling,
)
from deepling.nn.modules.activation import *  # noqa: F403
from deepling.nn.modules.batchnorm import *  # noqa: F403
from deepling.nn.modules.container import *  # noqa: F403
from deepling.nn.modules.conv import *  # noqa: F403
from deepling.nn.modules.distance import *  # noqa: F403
from deepling.nn.modules.dropout import *  # noqa: F403
from deepling.nn.modules.flatten import *  # noqa: F403
from deepling.nn.modules.instancenorm import *  # noqa: F403
from deepling.nn.modules.linear import *  # noqa: F403
from deepling.nn.modules.loss import *  # noqa: F403
from deepling.nn.modules.module import *  # noqa: F403
from deepling.nn.modules.normalization import *  # noqa: F403
from deepling.nn.modules.padding import *  # noqa: F403
from deepling.nn.modules.pooling import *  # noqa: F403
from deepling.nn.modules.rnn import *  # noqa: F403
from deepling.nn.modules.sparse import *  # noqa: F403
from deepling.nn.modules.transformer import *  # noqa: F403
from deepling.nn.modules.upsampling import *  # noqa: F403

__all__ = ["activation", "batchnorm", "container", "conv", "distance", "dropout", "flatten", "instancenorm", "linear", "loss", "module", "normalization", "padding", "pooling", "rnn", "sparse", "transformer", "upsampling"]
for _m in (activation, batchnorm, container, conv, distance, dropout, flatten, instancenorm, linear, loss, module, normalization, padding, pooling, rnn, sparse, transformer, upsampling):
    __all__ += _m.__all__
del _m
