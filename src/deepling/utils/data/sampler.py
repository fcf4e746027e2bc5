"""``deepling.utils.data.sampler``: PyTorch's ``torch.utils.data.sampler`` path to ``deepling.data.sampler``."""

from deepling.data.sampler import *  # noqa: F403
from deepling.data.sampler import __all__  # noqa: F401
