"""``DistributedDataParallel``: data parallelism over MPI ranks, as PyTorch's DDP.

Each rank holds a full replica of the model and runs forward and backward on its own share of the
batch; gradients are then averaged across ranks, so every replica takes the same optimizer step
and the replicas stay identical. Averaging is done as PyTorch does it:

* the parameters are packed, in reverse registration order (about the order backward produces their
  gradients), into flat **buckets** of one dtype (the first capped at 1 MB, the others at
  ``bucket_cap_mb``, 25 MB by default);
* a hook on each parameter (``Tensor.register_post_accumulate_grad_hook``) copies its gradient into
  its bucket as soon as backward has accumulated it; when a bucket is full its non-blocking
  ``Iallreduce`` starts at once, overlapping communication with the rest of backward (buckets are
  started in index order on every rank, so the ranks' MPI calls always match);
* a callback queued for the end of backward waits for every bucket and makes each ``.grad`` a view
  of its slice of the bucket (gradients are divided by ``world_size`` on the way in, so the
  all-reduced sum is the mean), so ``optimizer.step()`` sees averaged gradients.

Rank 0's parameters and buffers are broadcast to every rank at construction, and its buffers
(BatchNorm's running statistics) again before each forward that will synchronize gradients
(``broadcast_buffers=True``, PyTorch's default).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from deepling import autograd
from deepling import distributed as dist
from deepling.nn.module import Module
from deepling.tensor import Tensor

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES


class _Bucket:
    """A flat buffer holding the gradients of a few parameters of one dtype, all-reduced as one message."""

    def __init__(self, params: list[Tensor], dtype: np.dtype) -> None:
        self.params = params
        sizes = [p.array.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.buffer = np.zeros(self.offsets[-1], dtype=dtype)
        self.ready = [False] * len(params)
        self.pending = len(params)
        self.request: Any = None
        self.had_grad = [False] * len(params)

    def view(self, i: int) -> np.ndarray:
        return self.buffer[self.offsets[i] : self.offsets[i + 1]]

    def reset(self) -> None:
        self.ready = [False] * len(self.params)
        self.had_grad = [False] * len(self.params)
        self.pending = len(self.params)
        self.request = None


def _flat_broadcast(comm: Any, tensors: list[Tensor], what: str, g: Any) -> None:
    """Broadcast rank 0's values of ``tensors`` into every rank's, one message per dtype."""
    by_dtype: dict[np.dtype, list[Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.array.dtype, []).append(t)
    for dtype, group in by_dtype.items():
        flat = np.concatenate([t.array.reshape(-1) for t in group]) if group else np.zeros(0, dtype)
        dist._wait(comm.Ibcast(flat, root=0), what, g)
        start = 0
        for t in group:
            n = t.array.size
            t.array[...] = flat[start : start + n].reshape(t.array.shape)
            start += n


class DistributedDataParallel(Module):
    """Wrap ``module`` so that ``backward`` averages its gradients across all ranks.

    Needs ``deepling.distributed.init_process_group`` first. ``ddp(x)`` runs ``module(x)``;
    ``ddp.module`` is the wrapped model and ``ddp.state_dict()`` keys start with ``module.`` (save
    ``ddp.module.state_dict()`` for a checkpoint that loads without DDP). ``no_sync()`` skips the
    all-reduce for gradient accumulation. ``device_ids``/``output_device`` are accepted for
    PyTorch's signature and must be None or CPU.
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group: Any = None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False, **kwargs: Any) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}")
        if not dist.is_initialized():
            raise ValueError("DistributedDataParallel: the default process group has not been initialized; "
                             "call deepling.distributed.init_process_group() first")
        for d in device_ids or ():
            if d not in ("cpu", None):
                raise ValueError(f"DistributedDataParallel: device_ids {device_ids!r}: deepling runs on the CPU only")
        self.module = module
        self.dim, self.broadcast_buffers = dim, broadcast_buffers
        self.find_unused_parameters, self.gradient_as_bucket_view = find_unused_parameters, gradient_as_bucket_view
        self.static_graph = static_graph
        self.bucket_cap_mb = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        g = dist._group
        self._group = g
        self._comm = g.ddp_comm  # DDP's messages never interleave with the user's collectives
        self._world = g.size
        params = [p for p in module.parameters() if p.requires_grad]
        self._buffers_to_sync = [b for b in module.buffers() if b is not None]
        # Every replica starts from rank 0's weights and buffers.
        _flat_broadcast(self._comm, list(module.parameters()) + self._buffers_to_sync,
                        "DistributedDataParallel broadcast of rank 0's parameters", g)
        self._buckets = self._make_buckets(params)
        self._where: dict[int, tuple[int, int]] = {}
        for bi, b in enumerate(self._buckets):
            for i, p in enumerate(b.params):
                self._where[id(p)] = (bi, i)
        self._next_launch = 0
        self._callback_queued = False
        self._scale = {b.buffer.dtype: b.buffer.dtype.type(1.0 / self._world) for b in self._buckets}
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in params]

    # --------------------------------------------------------------------- buckets
    def _make_buckets(self, params: list[Tensor]) -> list[_Bucket]:
        buckets: list[_Bucket] = []
        open_: dict[np.dtype, tuple[list[Tensor], int]] = {}
        cap = float(_FIRST_BUCKET_BYTES)
        for p in reversed(params):
            dt = p.array.dtype
            members, nbytes = open_.get(dt, ([], 0))
            members.append(p)
            nbytes += p.array.nbytes
            if nbytes >= cap:
                buckets.append(_Bucket(members, dt))
                members, nbytes = [], 0
                cap = self.bucket_cap_mb * 1024 * 1024
            open_[dt] = (members, nbytes)
        for dt, (members, _) in open_.items():
            if members:
                buckets.append(_Bucket(members, dt))
        return buckets

    def _grad_ready(self, p: Tensor) -> None:
        """Post-accumulate hook: file ``p.grad`` into its bucket; start every bucket now complete."""
        if not self.require_backward_grad_sync:
            return
        if not self._callback_queued:
            self._callback_queued = True
            self._next_launch = 0
            for b in self._buckets:
                b.reset()
            autograd.queue_callback(self._finish_backward)
        bi, i = self._where[id(p)]
        b = self._buckets[bi]
        if b.ready[i]:
            return
        np.multiply(p.grad.array.reshape(-1), self._scale[b.buffer.dtype], out=b.view(i))  # g / N: the sum is the mean
        b.ready[i] = b.had_grad[i] = True
        b.pending -= 1
        if b.pending == 0:
            self._launch_ready()
        else:
            self._progress()

    def _launch_ready(self) -> None:
        # In index order on every rank: MPI needs the ranks' collectives to match one for one.
        MPI = dist._MPI
        while self._next_launch < len(self._buckets) and self._buckets[self._next_launch].pending == 0:
            b = self._buckets[self._next_launch]
            b.request = self._comm.Iallreduce(MPI.IN_PLACE, b.buffer, op=MPI.SUM)
            self._next_launch += 1
        self._progress()

    def _progress(self) -> None:
        # MPICH moves non-blocking collectives forward only inside MPI calls: poke the ones in flight.
        for b in self._buckets[: self._next_launch]:
            if b.request is not None:
                b.request.Test()

    def _finish_backward(self) -> None:
        """End of backward: all-reduce the buckets of parameters that got no gradient, wait for all,
        and write the averages into ``.grad``."""
        self._callback_queued = False
        for b in self._buckets:
            for i in range(len(b.params)):
                if not b.ready[i]:
                    b.view(i)[...] = 0  # an unused parameter contributes zeros (find_unused_parameters)
                    b.ready[i] = True
                    b.pending -= 1
        self._launch_ready()
        for b in self._buckets:
            dist._wait(b.request, "DistributedDataParallel gradient all-reduce", self._group)
            b.request = None
            for i, p in enumerate(b.params):
                mean = b.view(i).reshape(p.array.shape)
                if p.grad is None:
                    if np.any(mean):  # used on another rank only
                        p.grad = Tensor._wrap(mean.copy())
                elif b.had_grad[i]:
                    # .grad becomes a view of the bucket (PyTorch's gradient_as_bucket_view): no copy. The
                    # next backward allocates a fresh gradient before the bucket is written again.
                    p.grad.array = mean

    # --------------------------------------------------------------------- forward
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if autograd.is_grad_enabled() and self.require_backward_grad_sync:
            self.require_forward_param_sync = True
            if self.broadcast_buffers and self._buffers_to_sync and self._world > 1:
                _flat_broadcast(self._comm, self._buffers_to_sync, "DistributedDataParallel buffer broadcast",
                                self._group)
        else:
            self.require_forward_param_sync = False
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside the block, backward accumulates gradients locally with no communication; the first
        backward after it all-reduces the accumulated sum (PyTorch's gradient-accumulation idiom)."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def extra_repr(self) -> str:
        return f"world_size={self._world}, buckets={len(self._buckets)}"
