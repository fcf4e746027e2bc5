"""``deepling.utils.data``: the same objects as ``deepling.data``, under PyTorch's import path."""

import sys as _sys

from deepling.data import *  # noqa: F403
from deepling.data import (
    __all__,  # noqa: F401
    distributed,  # noqa: E402
)

_sys.modules[__name__ + ".distributed"] = distributed  # ``from torch.utils.data.distributed import DistributedSampler``
