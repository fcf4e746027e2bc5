"""``deepling.utils.data.dataloader``: PyTorch's ``torch.utils.data.dataloader`` path to ``deepling.data.dataloader``."""

from deepling.data.dataloader import *  # noqa: F403
from deepling.data.dataloader import __all__  # noqa: F401
