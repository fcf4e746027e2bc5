"""``SyncBatchNorm``: batch normalization whose statistics span the whole global batch on all ranks.

With plain ``BatchNorm`` under data parallelism each rank normalizes by the mean and variance of its
own share (B / N samples); ``SyncBatchNorm`` all-reduces the per-channel sums so that every rank
uses the statistics of all B samples, exactly what one process with the whole batch computes:

    forward:  mean = sum_r sum(x_r) / M,  var = sum_r sum((x_r - mean)^2) / M     (two all-reduces of C values)
    backward: dx = gamma * invstd * (dy - sum_r sum(dy_r) / M - xhat * sum_r sum(dy_r * xhat_r) / M)

where M is the global count per channel (one all-reduce of 2C values). The weight and bias
gradients stay local (DDP averages them). Outside training, or without an initialized process
group, it is ordinary batch normalization.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling import distributed as dist
from deepling.autograd import Function
from deepling.nn.module import Module
from deepling.nn.normalization import _BatchNorm
from deepling.ops.norm import normalize_with_batch_stats
from deepling.tensor import Tensor

__all__ = ["SyncBatchNorm"]


def _sum_all(a: np.ndarray) -> np.ndarray:
    """Sum a small float64 vector over all ranks (blocking, with the group's timeout)."""
    t = Tensor._wrap(np.ascontiguousarray(a, dtype=np.float64))
    dist.all_reduce(t)
    return t.array


class _SyncBatchNormFn(Function):
    def forward(self, x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
                running_mean: np.ndarray | None, running_var: np.ndarray | None, momentum: float,
                eps: float) -> np.ndarray:
        self.present = (True, weight is not None, bias is not None)
        self.shape, self.weight = x.shape, weight
        x3 = x.reshape(x.shape[0], x.shape[1], -1)
        local = np.empty(x.shape[1] + 1)
        local[:-1] = x3.sum(axis=2).sum(axis=0)
        local[-1] = x3.shape[0] * x3.shape[2]
        total = _sum_all(local)
        m = self.m = float(total[-1])
        if m <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel when training, got {int(m)} "
                             "over all ranks")
        mean = (total[:-1] / m).astype(x.dtype)
        xhat = x3 - mean[:, None]
        var = (_sum_all(np.einsum("ncm,ncm->c", xhat, xhat)) / m).astype(x.dtype)
        out, self.invstd = normalize_with_batch_stats(xhat, mean, var, m, weight, bias, running_mean, running_var,
                                                      momentum, eps)
        self.xhat = xhat
        return out.reshape(x.shape)

    def backward(self, g: np.ndarray) -> tuple:
        g3 = g.reshape(self.shape[0], self.shape[1], -1)
        c = self.shape[1]
        db = g3.sum(axis=2).sum(axis=0)
        dw = np.einsum("ncm,ncm->c", g3, self.xhat)
        sums = _sum_all(np.concatenate([db, dw]))
        db_all, dw_all = sums[:c].astype(g.dtype), sums[c:].astype(g.dtype)
        w = self.weight
        scale = self.invstd if w is None else w * self.invstd
        dx = self.xhat * (-dw_all / self.m)[:, None]
        dx += g3
        dx -= (db_all / self.m)[:, None]
        dx *= scale[:, None]
        grads = [dx.reshape(self.shape), dw, db]
        return tuple(gr for gr, p in zip(grads, self.present) if p)


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over ``(N, C, *)`` with statistics over the global batch of all ranks.

    Same arguments, parameters and buffers as ``BatchNorm2d`` (PyTorch's ``nn.SyncBatchNorm``);
    ``process_group`` must be None (the default group: all ranks).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group: Any = None, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype=dtype)
        if process_group is not None:
            raise ValueError("SyncBatchNorm: only the default process group (process_group=None) is supported")
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim < 2:
            raise ValueError(f"SyncBatchNorm: expected at least 2D input (got {input.ndim}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        need_sync = self.training and dist.is_initialized() and dist.get_world_size() > 1
        if not need_sync:
            return super().forward(input)
        if input.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: expected {self.num_features} channels, got input of shape {input.shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.array += 1
            factor = 1.0 / float(self.num_batches_tracked.array) if self.momentum is None else self.momentum
        rm = self.running_mean.array if self.track_running_stats else None
        rv = self.running_var.array if self.track_running_stats else None
        return _SyncBatchNormFn.apply(input, self.weight, self.bias, rm, rv, float(factor), float(self.eps))

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """Replace every ``BatchNorm*d`` in ``module`` by a ``SyncBatchNorm`` sharing its parameters and
        buffers (returns the converted module; a bare BatchNorm is returned converted)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats, process_group)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out



