"""``deepling.utils``: PyTorch's ``torch.utils`` namespace (``deepling.utils.data``)."""

from deepling.utils import data

__all__ = ["data"]
