"""``deepling.utils.data.dataset``: PyTorch's ``torch.utils.data.dataset`` path to ``deepling.data.dataset``."""

from deepling.data.dataset import *  # noqa: F403
from deepling.data.dataset import __all__  # noqa: F401
