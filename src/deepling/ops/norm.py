"""Normalization ops: batch, layer, group, instance, RMS and local response normalization.

Each is one ``Function`` with a closed-form backward. For ``x_hat = (x - mean) / sqrt(var + eps)``
over a set of ``M`` elements, ``y = gamma * x_hat + beta`` and ``gh = dL/dx_hat = g * gamma``:

    dx = (gh - mean(gh) - x_hat * mean(gh * x_hat)) / sqrt(var + eps)

(the two means are the gradient flowing through the batch mean and the batch variance).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from deepling import threadpool
from deepling.autograd import Function
from deepling.tensor import Tensor

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm", "rms_norm"]


# ---------------------------------------------------------------------------- helpers
def _check_input(name: str, x: Any) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point input, got dtype {x.dtype}")


def _check_param(name: str, what: str, p: Any, shape: tuple[int, ...], x: Tensor) -> None:
    if p is None:
        return
    if tuple(p.shape) != shape:
        raise ValueError(f"{name}: {what} of shape {tuple(p.shape)} does not fit input of shape {x.shape} (expected {shape})")
    if isinstance(p, Tensor) and p.dtype != x.dtype:
        raise TypeError(f"{name}: {what} dtype {p.dtype} does not match input dtype {x.dtype}")


def _empty_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """A batch with no elements: an empty output that still depends on weight and bias (so they get
    zero gradients) and running statistics left alone, as PyTorch's native batch/group norm."""
    out = input.clone()
    if weight is not None:
        out = out * weight.reshape(-1)[0]
    if bias is not None:
        out = out + bias.reshape(-1)[0]
    return out


def normalize_with_batch_stats(xhat: np.ndarray, mean: np.ndarray, var: np.ndarray, m: float,
                               weight: np.ndarray | None, bias: np.ndarray | None, running_mean: np.ndarray | None,
                               running_var: np.ndarray | None, momentum: float, eps: float,
                               out: np.ndarray | None = None) -> tuple:
    """Batch norm's training step once the batch statistics are known (of this process's batch, or
    of all ranks' for SyncBatchNorm): ``xhat (N, C, M)``, centred, is scaled in place to
    ``(x - mean) / sqrt(var + eps)``; the running statistics move toward the batch's (unbiased
    ``var * m / (m - 1)``). Returns ``(gamma * xhat + beta, invstd)``, the first written into
    ``out`` when given."""
    dt = xhat.dtype.type
    _update_running(running_mean, mean, momentum)
    _update_running(running_var, var * dt(m / (m - 1)), momentum)
    invstd = 1.0 / np.sqrt(var + dt(eps))
    xhat *= invstd[:, None]
    if weight is not None:
        out = np.multiply(xhat, weight[:, None], out=out)
    elif out is None:
        out = xhat.copy()
    else:
        np.copyto(out, xhat)
    if bias is not None:
        out += bias[:, None]
    return out, invstd


def _part(a: np.ndarray | None, lo: int, hi: int) -> np.ndarray | None:
    """Channels lo:hi of a per-channel array (a view, so in-place updates reach it), or None."""
    return None if a is None else a[lo:hi]


def _update_running(running: np.ndarray | None, stat: np.ndarray, momentum: float) -> None:
    """running <- (1 - momentum) * running + momentum * stat, in place (PyTorch's rule)."""
    if running is None:
        return
    running *= running.dtype.type(1.0 - momentum)
    running += (running.dtype.type(momentum) * stat).astype(running.dtype, copy=False)


# ---------------------------------------------------------------------------- batch norm
class BatchNorm(Function):
    """y = gamma * (x - mean) * invstd + beta per channel of x viewed as (N, C, M).

    In training the batch mean and biased variance (over N and M) normalize and the running
    arrays are updated in place; the backward is the closed form of the module docstring. With
    fixed (running) statistics, dx = g * gamma * invstd. Few full-size temporaries, on purpose:
    each costs a fresh allocation and a pass over memory.
    """

    def forward(self, x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
                running_mean: np.ndarray | None, running_var: np.ndarray | None,
                training: bool, momentum: float, eps: float) -> np.ndarray:
        self.training, self.shape, self.weight = training, x.shape, weight
        x3 = x.reshape(x.shape[0], x.shape[1], -1)
        dt = x.dtype.type
        if training:
            m = x3.shape[0] * x3.shape[2]
            xhat, out, invstd = np.empty_like(x3), np.empty_like(x3), np.empty(x3.shape[1], dtype=x.dtype)

            def channels(lo: int, hi: int) -> None:  # channels lo:hi; split over the CPU pool
                xc = x3[:, lo:hi]
                mean = (xc.sum(axis=2).sum(axis=0) / m).astype(x.dtype, copy=False)
                xh = np.subtract(xc, mean[:, None], out=xhat[:, lo:hi])  # centre, then square: accurate var
                var = (np.einsum("ncm,ncm->c", xh, xh) / m).astype(x.dtype, copy=False)
                invstd[lo:hi] = normalize_with_batch_stats(
                    xh, mean, var, m, _part(weight, lo, hi), _part(bias, lo, hi), _part(running_mean, lo, hi),
                    _part(running_var, lo, hi), momentum, eps, out=out[:, lo:hi])[1]

            threadpool.parallel_for(x3.shape[1], channels, elements=6 * x3.size)
            self.xhat, self.invstd = xhat, invstd
        else:
            mean = running_mean.astype(x.dtype, copy=False)
            self.invstd = 1.0 / np.sqrt(running_var.astype(x.dtype, copy=False) + dt(eps))
            self.x3, self.mean = x3, mean
            scale = self.invstd if weight is None else weight * self.invstd
            shift = -mean * scale if bias is None else bias - mean * scale
            out = x3 * scale[:, None]
            out += shift[:, None]
        return out.reshape(x.shape)

    def backward(self, g: np.ndarray) -> tuple:
        need = self.needs_input_grad
        g3 = g.reshape(self.shape[0], self.shape[1], -1)
        invstd, w = self.invstd, self.weight
        if self.training:
            return self._train_backward(g3, need)
        db = g3.sum(axis=2).sum(axis=0)
        if need[1]:
            dw = np.einsum("ncm,ncm->c", g3, self.x3 - self.mean[:, None]) * invstd
        else:
            dw = None
        dx = None
        if need[0]:
            scale = invstd if w is None else w * invstd
            dx = (g3 * scale[:, None]).reshape(self.shape)
        return (dx, dw.astype(g.dtype, copy=False) if need[1] else None,
                db.astype(g.dtype, copy=False) if need[2] else None)

    def _train_backward(self, g3: np.ndarray, need: tuple[bool, ...]) -> tuple:
        """The closed form with batch statistics, channel by channel (split over the CPU pool)."""
        xhat, c = self.xhat, g3.shape[1]
        m = g3.shape[0] * g3.shape[2]
        scale = self.invstd if self.weight is None else self.weight * self.invstd
        db = np.empty(c, dtype=g3.dtype)
        dw = np.empty(c, dtype=np.result_type(g3, xhat))
        dx = np.empty(g3.shape, dtype=np.result_type(xhat, g3)) if need[0] else None

        def channels(lo: int, hi: int) -> None:
            gc = g3[:, lo:hi]
            db[lo:hi] = gc.sum(axis=2).sum(axis=0)
            dw[lo:hi] = np.einsum("ncm,ncm->c", gc, xhat[:, lo:hi])
            if dx is not None:
                d = np.multiply(xhat[:, lo:hi], (-dw[lo:hi] / m)[:, None], out=dx[:, lo:hi])
                d += gc
                d -= (db[lo:hi] / m)[:, None]
                d *= scale[lo:hi, None]

        threadpool.parallel_for(c, channels, elements=(5 if need[0] else 2) * g3.size)
        return (None if dx is None else dx.reshape(self.shape), dw.astype(g3.dtype, copy=False) if need[1] else None,
                db.astype(g3.dtype, copy=False) if need[2] else None)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization over (N, C, *): statistics per channel C over N and all trailing dims.

    ``y = gamma * (x - mean) / sqrt(var + eps) + beta``. In training the batch mean and biased
    variance are used and the running statistics (if given) are updated in place:
    ``running = (1 - momentum) * running + momentum * stat``, with the unbiased variance
    ``var * M / (M - 1)`` for ``running_var``. Otherwise the running statistics are used.
    """
    name = "batch_norm"
    _check_input(name, input)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, *), got shape {input.shape}")
    c = input.shape[1]
    for what, p in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_param(name, what, p, (c,), input)
    if training and input.numel() // c == 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input size {input.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must be given when training=False")
    if input.numel() == 0:
        return _empty_norm(input, weight, bias)
    rm = None if running_mean is None else running_mean.array
    rv = None if running_var is None else running_var.array
    return BatchNorm.apply(input, weight, bias, rm, rv, bool(training), float(momentum), float(eps))


# ---------------------------------------------------------------------------- layer norm
def _row_mean(a: np.ndarray) -> np.ndarray:
    """Mean of each row of a 2-D array as an (R, 1) column. ``einsum`` is a few times faster than
    ``a.mean(axis=1)`` and, unlike a BLAS product with a ones vector, stays on one thread."""
    return (np.einsum("rd->r", a) / a.shape[1])[:, None].astype(a.dtype, copy=False)


def _rows_stats(x2: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """x_hat and invstd of each row of a 2-D array (normalizing along axis 1)."""
    xc = x2 - _row_mean(x2)
    var = np.einsum("rd,rd->r", xc, xc)[:, None] / x2.shape[1]
    invstd = (1.0 / np.sqrt(var + eps)).astype(x2.dtype, copy=False)
    xc *= invstd
    return xc, invstd


def _rows_backward(gh: np.ndarray, xhat: np.ndarray, invstd: np.ndarray) -> np.ndarray:
    """dx for row-wise x_hat given gh = dL/dx_hat (the closed form in the module docstring)."""
    d = xhat.shape[1]
    proj = (np.einsum("rd,rd->r", gh, xhat) / d).astype(gh.dtype, copy=False)
    dx = xhat * -proj[:, None]
    dx += gh
    dx -= _row_mean(gh)
    dx *= invstd
    return dx


class LayerNorm(Function):
    """Normalize each row of x viewed as (R, D), then y = gamma * x_hat + beta with gamma, beta (D,)."""

    def forward(self, x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, nd: int, eps: float) -> np.ndarray:
        d = math.prod(x.shape[x.ndim - nd:])
        self.shape = x.shape
        self.xhat, self.invstd = _rows_stats(x.reshape(-1, d), eps)
        self.wshape = x.shape[x.ndim - nd:]
        self.weight = None if weight is None else weight.reshape(-1)
        out = self.xhat * self.weight if weight is not None else self.xhat.copy()
        if bias is not None:
            out += bias.reshape(-1)
        return out.reshape(x.shape)

    def backward(self, g: np.ndarray) -> tuple:
        need = self.needs_input_grad
        g2 = g.reshape(self.xhat.shape)
        dx = dw = db = None
        if need[0]:
            gh = g2 * self.weight if self.weight is not None else g2
            dx = _rows_backward(gh, self.xhat, self.invstd).reshape(self.shape)
        if need[1]:
            dw = np.einsum("rd,rd->d", g2, self.xhat).reshape(self.wshape)
        if need[2]:
            db = np.einsum("rd->d", g2).reshape(self.wshape)
        return (dx, dw, db)


def _normalized_shape(name: str, input: Any, normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    """``normalized_shape`` as a tuple, checked to be the trailing dims of a float tensor ``input``."""
    _check_input(name, input)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(int(s) for s in normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ValueError(
            f"{name}: given normalized_shape={list(shape)}, expected input with shape [*, "
            f"{', '.join(map(str, shape))}], but got input of size {input.shape}"
        )
    return shape


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the last ``len(normalized_shape)`` dims of ``(*, *normalized_shape)``.

    ``y = gamma * (x - mean) / sqrt(var + eps) + beta``, mean and biased var over those dims;
    ``weight`` and ``bias`` have shape ``normalized_shape``.
    """
    name = "layer_norm"
    shape = _normalized_shape(name, input, normalized_shape)
    k = len(shape)
    _check_param(name, "weight", weight, shape, input)
    _check_param(name, "bias", bias, shape, input)
    return LayerNorm.apply(input, weight, bias, k, input.dtype.type(eps))


# ---------------------------------------------------------------------------- group norm
class GroupNorm(Function):
    """x (N, C, M) normalized per (n, group) over C/G channels and M, then per-channel gamma, beta.

    The backward's group means of gh = g * gamma and gh * x_hat are assembled from per-(n, c) sums
    of g and g * x_hat, which also give dgamma and dbeta: two reading passes instead of a gh array.
    """

    def forward(self, x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, groups: int, eps: float) -> np.ndarray:
        self.shape, self.groups = x.shape, groups
        n, c = x.shape[0], x.shape[1]
        xhat, self.invstd = _rows_stats(x.reshape(n * groups, -1), eps)
        self.xhat = xhat.reshape(n, c, -1)
        self.weight = weight
        out = self.xhat * weight[:, None] if weight is not None else self.xhat.copy()
        if bias is not None:
            out += bias[:, None]
        return out.reshape(x.shape)

    def backward(self, g: np.ndarray) -> tuple:
        need = self.needs_input_grad
        xhat, w = self.xhat, self.weight
        n, c, m = xhat.shape
        g3 = g.reshape(xhat.shape)
        sum_g = np.einsum("ncm->nc", g3)
        sum_gx = np.einsum("ncm,ncm->nc", g3, xhat)
        dx = None
        if need[0]:
            gs, d = self.groups, (c // self.groups) * m
            wc = np.ones(c, dtype=g.dtype) if w is None else w
            invstd = self.invstd.reshape(n, gs, 1)
            # per (n, group): mean of gh and of gh * x_hat, times invstd
            mean_gh = (sum_g * wc).reshape(n, gs, -1).sum(axis=2, keepdims=True) / d * invstd
            proj = (sum_gx * wc).reshape(n, gs, -1).sum(axis=2, keepdims=True) / d * invstd
            scale = (wc.reshape(1, gs, -1) * invstd).reshape(n, c, 1)
            dx = g3 * scale
            dx -= xhat * np.broadcast_to(proj, (n, gs, c // gs)).reshape(n, c, 1)
            dx -= np.broadcast_to(mean_gh, (n, gs, c // gs)).reshape(n, c, 1)
            dx = dx.reshape(self.shape)
        dw = sum_gx.sum(axis=0) if need[1] else None
        db = sum_g.sum(axis=0) if need[2] else None
        return (dx, dw, db)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization of (N, C, *): channels split into ``num_groups`` groups, each group of
    each sample normalized over its channels and trailing dims; ``weight``, ``bias`` are (C,).
    """
    name = "group_norm"
    _check_input(name, input)
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, *), got shape {input.shape}")
    c = input.shape[1]
    if num_groups <= 0 or c % num_groups != 0:
        raise ValueError(
            f"group_norm: expected number of channels in input to be divisible by num_groups, "
            f"but got input of shape {input.shape} and num_groups={num_groups}"
        )
    _check_param(name, "weight", weight, (c,), input)
    _check_param(name, "bias", bias, (c,), input)
    if input.numel() == 0:
        return _empty_norm(input, weight, bias)
    return GroupNorm.apply(input, weight, bias, int(num_groups), input.dtype.type(eps))


# ---------------------------------------------------------------------------- instance norm
def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Instance normalization of (N, C, *): each (n, c) map normalized over its trailing dims.

    With ``use_input_stats`` it is group norm with one channel per group, and running statistics
    (if given) move toward the batch average of the per-instance mean and unbiased variance.
    Otherwise the running statistics normalize every instance, as batch norm in eval mode.
    """
    name = "instance_norm"
    _check_input(name, input)
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected input of shape (N, C, *) with spatial dims, got shape {input.shape}")
    n, c = input.shape[0], input.shape[1]
    for what, p in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_param(name, what, p, (c,), input)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    m = math.prod(input.shape[2:])
    if m <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, got input size {input.shape}")
    if input.numel() == 0:
        return _empty_norm(input, weight, bias)
    if running_mean is not None or running_var is not None:
        x3 = input.array.reshape(n, c, m)
        mean = x3.mean(axis=2)
        var = x3.var(axis=2) * (m / (m - 1))
        _update_running(None if running_mean is None else running_mean.array, mean.mean(axis=0), momentum)
        _update_running(None if running_var is None else running_var.array, var.mean(axis=0), momentum)
    return GroupNorm.apply(input, weight, bias, c, input.dtype.type(eps))


# ---------------------------------------------------------------------------- RMS norm
class RMSNorm(Function):
    """y = gamma * x * r, r = 1 / sqrt(mean(x^2) + eps) over each row of x viewed as (R, D).

    dx = r * (gh - x * r^2 * mean(gh * x)) with gh = g * gamma.
    """

    def forward(self, x: np.ndarray, weight: np.ndarray | None, nd: int, eps: float) -> np.ndarray:
        self.shape, self.wshape = x.shape, x.shape[x.ndim - nd:]
        d = math.prod(self.wshape)
        x2 = x.reshape(-1, d)
        r = (1.0 / np.sqrt(np.einsum("rd,rd->r", x2, x2)[:, None] / d + eps)).astype(x.dtype, copy=False)
        self.x2, self.r = x2, r
        self.weight = None if weight is None else weight.reshape(-1)
        out = x2 * r
        if weight is not None:
            out *= self.weight
        return out.reshape(x.shape)

    def backward(self, g: np.ndarray) -> tuple:
        need = self.needs_input_grad
        g2 = g.reshape(self.x2.shape)
        x2, r = self.x2, self.r
        dx = dw = None
        if need[0]:
            gh = g2 * self.weight if self.weight is not None else g2
            proj = (np.einsum("rd,rd->r", gh, x2)[:, None] / x2.shape[1]).astype(g.dtype, copy=False)
            dx = gh - x2 * (proj * r * r)
            dx *= r
            dx = dx.reshape(self.shape)
        if need[1]:
            dw = np.einsum("rd,rd->d", g2, x2 * r).reshape(self.wshape)
        return (dx, dw)


def rms_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """RMS normalization over the last dims: ``y = gamma * x / sqrt(mean(x^2) + eps)``.

    ``eps`` defaults to the machine epsilon of the input's dtype, as in PyTorch.
    """
    name = "rms_norm"
    shape = _normalized_shape(name, input, normalized_shape)
    k = len(shape)
    _check_param(name, "weight", weight, shape, input)
    eps = float(np.finfo(input.dtype).eps) if eps is None else eps
    return RMSNorm.apply(input, weight, k, input.dtype.type(eps))


# ---------------------------------------------------------------------------- local response norm
def _window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """s[:, c] = sum of a[:, c - before : c + after + 1] along axis 1, zero beyond the edges.

    A loop over the window offsets (a handful), never over channels or positions.
    """
    c = a.shape[1]
    pad = [(0, 0)] * a.ndim
    pad[1] = (before, after)
    p = np.pad(a, pad)
    s = p[:, 0:c].copy()
    for j in range(1, before + after + 1):
        s += p[:, j:j + c]
    return s


class LocalResponseNorm(Function):
    """y_c = x_c / d_c^beta, d_c = k + alpha/size * sum of x^2 over the channel window around c.

    dx_j = g_j d_j^-beta - (2 alpha beta / size) x_j * sum over windows holding j of g_c x_c d_c^(-beta-1).
    """

    def forward(self, x: np.ndarray, size: int, alpha: float, beta: float, k: float) -> np.ndarray:
        self.lo, self.hi = size // 2, (size - 1) // 2
        d = _window_sum(x * x, self.lo, self.hi)
        d *= x.dtype.type(alpha / size)
        d += x.dtype.type(k)
        self.x, self.d, self.size, self.alpha, self.beta = x, d, size, alpha, beta
        self.dpow = d ** x.dtype.type(-beta)
        return x * self.dpow

    def backward(self, g: np.ndarray) -> np.ndarray:
        x, dt = self.x, self.x.dtype.type
        t = g * x * self.dpow / self.d
        # Channel j lies in channel c's window when c - lo <= j <= c + hi, i.e. the window is mirrored.
        back = _window_sum(t, self.hi, self.lo)
        return g * self.dpow - dt(2.0 * self.alpha * self.beta / self.size) * x * back


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Local response normalization across channels of (N, C, *) (AlexNet, 2012).

    ``y_c = x_c / (k + alpha / size * sum_{c'} x_{c'}^2)^beta`` over channels ``c - size//2 ..
    c + (size-1)//2`` (zero padded).
    """
    _check_input("local_response_norm", input)
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected 3D or higher dimensionality input (got {input.ndim} dimensions, shape {input.shape})")
    if int(size) < 1:
        raise ValueError(f"local_response_norm: size must be positive, got {size}")
    if input.numel() == 0:
        return input
    return LocalResponseNorm.apply(input, int(size), float(alpha), float(beta), float(k))
