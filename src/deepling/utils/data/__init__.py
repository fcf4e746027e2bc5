"""``deepling.utils.data``: the same objects as ``deepling.data``, under PyTorch's import path
(also ``deepling.utils.data.dataloader``, ``.dataset``, ``.sampler`` and ``.distributed``)."""

from deepling.data import *  # noqa: F403
from deepling.data import __all__  # noqa: F401
from deepling.utils.data import dataloader, dataset, distributed, sampler  # noqa: F401
