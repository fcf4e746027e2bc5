"""``deepling.nn.parallel``: data parallelism over MPI ranks (PyTorch's ``torch.nn.parallel``)."""

from deepling.nn.parallel.distributed import DistributedDataParallel

DDP = DistributedDataParallel

__all__ = ["DistributedDataParallel"]
