"""``deepling.backends``: PyTorch's ``torch.backends`` flags, as they read without CUDA or MPS.

``cudnn.benchmark = True`` and similar settings are accepted and have no effect: deepling has
neither cuDNN nor Metal (MPS); ``is_available()`` says so.
"""

from deepling.backends import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
