"""``deepling.utils.data``: the same objects as ``deepling.data``, under PyTorch's import path."""

from deepling.data import *  # noqa: F403
from deepling.data import __all__  # noqa: F401
