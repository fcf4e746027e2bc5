"""``deepling.utils.data.distributed``: PyTorch's ``torch.utils.data.distributed`` path to ``deepling.data.distributed``."""

from deepling.data.distributed import *  # noqa: F403
from deepling.data.distributed import __all__  # noqa: F401
