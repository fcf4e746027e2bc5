"""Loss functions as fused ops, with PyTorch's ``reduction='mean'|'sum'|'none'`` semantics.

Each loss is one ``Function`` that computes the per-element loss and its reduction in forward and
the closed-form gradient in backward (for every float input: prediction, target, weights).
``cross_entropy`` fuses log-softmax and NLL: its gradient is ``softmax(x) - target``, and the
log-softmax is shifted by the row max, so logits of 1e4 are fine.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from deepling.autograd import Function
from deepling.ops import kernels
from deepling.ops.arguments import check_reduction, float_input, normalize_axis, tensor_input
from deepling.ops.promotion import binary_operands, cast
from deepling.tensor import Tensor

__all__ = [
    "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_similarity",
]

def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=loss.dtype)
    if loss.size == 0:  # the mean of an empty batch is NaN, silently, as in PyTorch
        return np.asarray(np.nan, dtype=loss.dtype)
    return np.asarray(loss.mean(), dtype=loss.dtype)


def _spread(g: np.ndarray, reduction: str, shape: tuple[int, ...]) -> np.ndarray:
    """The upstream gradient of the reduced loss, as a gradient per element of ``shape``."""
    if reduction == "none":
        return g
    if reduction == "mean":
        g = g / max(int(np.prod(shape)), 1)
    return np.broadcast_to(g, shape)


def _broadcast_pair(name: str, input: Any, target: Any) -> tuple[Tensor, Tensor]:
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{name}: expected Tensors, got {type(input).__name__} and {type(target).__name__}")
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(f"{name}: input of shape {input.shape} and target of shape {target.shape} cannot be broadcast") from None
    if input.shape != target.shape:
        warnings.warn(
            f"{name}: using a target size ({target.shape}) that is different to the input size ({input.shape}) "
            "will likely lead to incorrect results due to broadcasting.", stacklevel=3)
    input = float_input(name, input)
    return binary_operands(input, target)


# ---------------------------------------------------------------------------- regression losses
class _DiffLoss(Function):
    """A loss of d = input - target, reduced; dl/dinput = l'(d), dl/dtarget = -l'(d)."""

    def forward(self, x: np.ndarray, t: np.ndarray, reduction: str, param: float = 0.0) -> np.ndarray:
        d = x - t
        self.d, self.reduction, self.param = d, reduction, param
        return _reduce(self.loss(d, param), reduction)

    def backward(self, g: np.ndarray) -> tuple:
        gd = _spread(g, self.reduction, self.d.shape) * self.dloss(self.d, self.param)
        need = self.needs_input_grad
        return (gd if need[0] else None), (-gd if need[1] else None)


class _MSE(_DiffLoss):
    """l = d^2, l' = 2 d."""

    @staticmethod
    def loss(d: np.ndarray, p: float) -> np.ndarray:
        return d * d

    @staticmethod
    def dloss(d: np.ndarray, p: float) -> np.ndarray:
        return 2 * d


class _L1(_DiffLoss):
    """l = |d|, l' = sign(d) (0 at 0)."""

    @staticmethod
    def loss(d: np.ndarray, p: float) -> np.ndarray:
        return np.abs(d)

    @staticmethod
    def dloss(d: np.ndarray, p: float) -> np.ndarray:
        return np.sign(d)


class _Huber(_DiffLoss):
    """l = d^2 / 2 if |d| < delta else delta (|d| - delta / 2); l' = clip(d, -delta, delta)."""

    @staticmethod
    def loss(d: np.ndarray, delta: float) -> np.ndarray:
        a = np.abs(d)
        m = np.minimum(a, delta)  # branch-free: m^2 / 2 + delta (|d| - m) covers both pieces
        return 0.5 * m * m + delta * (a - m)

    @staticmethod
    def dloss(d: np.ndarray, delta: float) -> np.ndarray:
        return np.clip(d, -delta, delta)


class _SmoothL1(_DiffLoss):
    """l = d^2 / (2 beta) if |d| < beta else |d| - beta / 2; l' = clip(d / beta, -1, 1)."""

    @staticmethod
    def loss(d: np.ndarray, beta: float) -> np.ndarray:
        a = np.abs(d)
        m = np.minimum(a, beta)  # branch-free: m^2 / (2 beta) + (|d| - m) covers both pieces
        return (0.5 / beta) * m * m + (a - m)

    @staticmethod
    def dloss(d: np.ndarray, beta: float) -> np.ndarray:
        return np.clip(d * (1 / beta), -1, 1)


def _diff_loss(fn: type[_DiffLoss], name: str, input: Tensor, target: Tensor, reduction: str,
               param: float = 0.0, weight: Tensor | None = None, weighted_mean: str = "sum") -> Tensor:
    x, t = _broadcast_pair(name, input, target)
    if weight is None:
        return fn.apply(x, t, reduction, param)
    if weight.shape != input.shape:
        raise ValueError(f"{name}: weight of shape {weight.shape} must have the input's shape {input.shape}")
    loss = fn.apply(x, t, "none", param) * weight
    if reduction == "none":
        return loss
    if reduction == "sum" or weighted_mean == "numel":
        return loss.sum() if reduction == "sum" else loss.mean()
    return loss.sum() / weight.sum()


def mse_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error (x - y)^2, reduced; with ``weight``, 'mean' is sum(w l) / sum(w)."""
    reduction = check_reduction("mse_loss", reduction, size_average, reduce)
    return _diff_loss(_MSE, "mse_loss", input, target, reduction, weight=weight)


def l1_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error |x - y|, reduced; with ``weight``, 'mean' is sum(w l) / sum(w)."""
    reduction = check_reduction("l1_loss", reduction, size_average, reduce)
    return _diff_loss(_L1, "l1_loss", input, target, reduction, weight=weight)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Huber: quadratic for |x - y| < delta, linear (slope delta) beyond; 'mean' over elements."""
    reduction = check_reduction("huber_loss", reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _diff_loss(_Huber, "huber_loss", input, target, reduction, float(delta), weight, "numel")


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1: (x - y)^2 / (2 beta) for |x - y| < beta, |x - y| - beta / 2 beyond (L1 at beta=0)."""
    reduction = check_reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return _diff_loss(_L1, "smooth_l1_loss", input, target, reduction)
    return _diff_loss(_SmoothL1, "smooth_l1_loss", input, target, reduction, float(beta))


# ---------------------------------------------------------------------------- classification losses
def _class_last(a: np.ndarray) -> np.ndarray:
    """(N, C, d1, ...) -> (N, d1, ..., C) as a view; (C,) and (N, C) are unchanged."""
    return np.moveaxis(a, 1, -1) if a.ndim > 2 else a


def _class_back(a: np.ndarray, ndim: int) -> np.ndarray:
    return np.moveaxis(a, -1, 1) if ndim > 2 else a


class _ClassLoss(Function):
    """Shared by the fused cross-entropy and NLL: per-row losses and their reduction.

    The per-row loss is -sum_c Q[r, c] * logp[r, c] with Q the weighted target distribution;
    ``mean`` divides by ``denom`` (the summed target weights, or the number of rows).
    """

    def _finish(self, rows: np.ndarray, reduction: str, denom: Any) -> np.ndarray:
        self.reduction, self.denom, self.rows_shape = reduction, denom, rows.shape
        if reduction == "none":
            return rows
        total = rows.sum(dtype=rows.dtype)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                total = total / denom
        return np.asarray(total, dtype=rows.dtype)

    def _row_grad(self, g: np.ndarray) -> np.ndarray:
        """d(reduced loss) / d(row loss), shaped like the rows."""
        if self.reduction == "none":
            return g
        if self.reduction == "mean":
            # No counted rows (all targets ignored): the loss is nan, its gradient 0, as in PyTorch.
            g = g / self.denom if self.denom != 0 else np.zeros_like(g)
        return np.broadcast_to(g, self.rows_shape)


def _check_targets(name: str, x: Tensor, target: Any, weight: Tensor | None) -> np.ndarray:
    """Validate class-index targets for logits/log-probabilities x of shape (C,), (N, C) or (N, C, d...)."""
    t = target.array if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected class indices of an integer dtype (or probabilities of the input's shape {x.shape}), got {t.dtype} of shape {t.shape}")
    want = x.shape[1:] if x.ndim == 1 else x.shape[:1] + x.shape[2:]
    want = () if x.ndim == 1 else want
    if t.shape != want:
        raise ValueError(f"{name}: input of shape {x.shape} expects a target of shape {want}, got {t.shape}")
    if weight is not None and weight.shape != (_n_classes(x),):
        raise ValueError(f"{name}: weight of shape {weight.shape} must have one entry per class ({_n_classes(x)},)")
    return t


def _n_classes(x: Tensor) -> int:
    return x.shape[0] if x.ndim == 1 else x.shape[1]


def _pick_weights(t: np.ndarray, weight: np.ndarray | None, ignore_index: int, n_classes: int,
                  name: str, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Safe target indices and per-row weights w[y] (0 on ignored rows)."""
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"{name}: target {int(t[bad].flat[0])} is out of bounds for {n_classes} classes")
    safe = np.where(valid, t, 0)
    w_rows = valid.astype(dtype) if weight is None else weight[safe] * valid
    return safe, w_rows


class _CrossEntropyIndex(_ClassLoss):
    """cross_entropy with class indices: log-softmax + NLL (+ label smoothing) in one node.

    loss_r = -(1 - eps) w[y_r] logp[r, y_r] - eps / C sum_c w[c] logp[r, c];
    dloss_r / dlogits_r = p_r * sum_c Q[r, c] - Q[r]  (= softmax - onehot without weights/smoothing).
    """

    def forward(self, x: np.ndarray, t: np.ndarray, weight: np.ndarray | None, ignore_index: int,
                reduction: str, eps: float) -> np.ndarray:
        xl = _class_last(x)
        n = xl.shape[-1]
        logp = kernels.log_softmax(xl, -1)
        safe, w_rows = _pick_weights(t, weight, ignore_index, n, "cross_entropy", x.dtype)
        rows = -w_rows * np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
        if eps > 0:
            valid = t != ignore_index
            smooth = -(logp.sum(axis=-1) if weight is None else logp @ weight) * valid
            rows = (1 - eps) * rows + (eps / n) * smooth
            self.valid = valid
        self.logp, self.safe, self.w_rows, self.weight, self.eps, self.ndim = logp, safe, w_rows, weight, eps, x.ndim
        return self._finish(rows.astype(x.dtype, copy=False), reduction, w_rows.sum())

    def backward(self, g: np.ndarray) -> tuple:
        a = self._row_grad(g)
        n, eps = self.logp.shape[-1], self.eps
        hard = a * self.w_rows * (1 - eps)  # coefficient of the one-hot part of Q
        total = hard
        if eps > 0:
            a_smooth = a * self.valid * (eps / n)
            total = hard + a_smooth * (n if self.weight is None else self.weight.sum())
        grad = np.exp(self.logp) * total[..., None]
        if eps > 0:
            grad -= a_smooth[..., None] * (1 if self.weight is None else self.weight)
        np.put_along_axis(grad, self.safe[..., None],
                          np.take_along_axis(grad, self.safe[..., None], axis=-1) - hard[..., None], axis=-1)
        return _class_back(grad.astype(self.logp.dtype, copy=False), self.ndim), None


class _CrossEntropyProbs(_ClassLoss):
    """cross_entropy with class probabilities q: loss_r = -sum_c w[c] q'[r, c] logp[r, c],
    q' = (1 - eps) q + eps / C; 'mean' divides by the number of rows.
    """

    def forward(self, x: np.ndarray, q: np.ndarray, weight: np.ndarray | None, reduction: str, eps: float) -> np.ndarray:
        xl = _class_last(x)
        n = xl.shape[-1]
        logp = kernels.log_softmax(xl, -1)
        ql = _class_last(q)
        qs = ql * (1 - eps) + eps / n if eps > 0 else ql
        wq = qs if weight is None else qs * weight
        rows = -(wq * logp).sum(axis=-1)
        self.logp, self.wq, self.weight, self.eps, self.ndim = logp, wq, weight, eps, x.ndim
        return self._finish(rows, reduction, rows.size if rows.size else np.nan)

    def backward(self, g: np.ndarray) -> tuple:
        a = self._row_grad(g)[..., None]
        need = self.needs_input_grad
        gx = gq = None
        if need[0]:
            wq = self.wq
            gx = _class_back(a * (np.exp(self.logp) * wq.sum(axis=-1, keepdims=True) - wq), self.ndim)
        if need[1]:
            w = 1 if self.weight is None else self.weight
            gq = _class_back(-a * (1 - self.eps) * w * self.logp, self.ndim)
        return gx, gq


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: Any = None,
                  ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits ``input`` (C,), (N, C) or (N, C, d1, ...) against class indices
    (shape without C) or class probabilities (the input's shape).

    loss = -sum_c w_c q_c log softmax(x)_c. With indices, 'mean' divides by the summed weights of
    the non-ignored targets; with probabilities, by the number of rows. ``label_smoothing`` eps
    mixes the target with the uniform distribution: (1 - eps) q + eps / C.
    """
    reduction = check_reduction("cross_entropy", reduction, size_average, reduce)
    x = float_input("cross_entropy", input)
    if x.ndim == 0:
        raise ValueError("cross_entropy: input must have at least 1 dimension (the classes), got a 0-d tensor")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    w = None if weight is None else weight.array.astype(x.dtype, copy=False)
    if isinstance(target, Tensor) and target.dtype.kind == "f":
        if target.shape != x.shape:
            raise ValueError(f"cross_entropy: probability target of shape {target.shape} must have the input's shape {x.shape} "
                             f"(class indices must be an integer tensor, e.g. int64)")
        if w is not None and w.shape != (_n_classes(x),):
            raise ValueError(f"cross_entropy: weight of shape {w.shape} must have one entry per class ({_n_classes(x)},)")
        q = cast(target, x.dtype)
        return _CrossEntropyProbs.apply(x, q, w, reduction, float(label_smoothing))
    t = _check_targets("cross_entropy", x, target, weight)
    return _CrossEntropyIndex.apply(x, t, w, int(ignore_index), reduction, float(label_smoothing))


class _NLL(_ClassLoss):
    """loss_r = -w[y_r] input[r, y_r]; the gradient is -w[y_r] at the target entry, 0 elsewhere."""

    def forward(self, x: np.ndarray, t: np.ndarray, weight: np.ndarray | None, ignore_index: int, reduction: str) -> np.ndarray:
        xl = _class_last(x)
        safe, w_rows = _pick_weights(t, weight, ignore_index, xl.shape[-1], "nll_loss", x.dtype)
        rows = -w_rows * np.take_along_axis(xl, safe[..., None], axis=-1)[..., 0]
        self.shape, self.safe, self.w_rows, self.ndim = xl.shape, safe, w_rows, x.ndim
        return self._finish(rows.astype(x.dtype, copy=False), reduction, w_rows.sum())

    def backward(self, g: np.ndarray) -> np.ndarray:
        a = self._row_grad(g)
        grad = np.zeros(self.shape, dtype=self.w_rows.dtype)
        np.put_along_axis(grad, self.safe[..., None], (-a * self.w_rows)[..., None], axis=-1)
        return _class_back(grad, self.ndim)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: Any = None,
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (C,), (N, C) or (N, C, d...) at class
    indices ``target``: -w[y] input[y]; 'mean' divides by the summed weights of non-ignored targets.
    """
    reduction = check_reduction("nll_loss", reduction, size_average, reduce)
    x = float_input("nll_loss", input)
    if x.ndim == 0:
        raise ValueError("nll_loss: input must have at least 1 dimension (the classes), got a 0-d tensor")
    t = _check_targets("nll_loss", x, target, weight)
    w = None if weight is None else weight.array.astype(x.dtype, copy=False)
    return _NLL.apply(x, t, w, int(ignore_index), reduction)


# ---------------------------------------------------------------------------- binary losses
class _BCE(Function):
    """l = -w (y log x + (1 - y) log(1 - x)), logs clamped at -100 as in PyTorch.

    dl/dx = w (x - y) / max(x (1 - x), 1e-12); dl/dy = w (log(1 - x) - log x); dl/dw = l / w.
    """

    def forward(self, x: np.ndarray, y: np.ndarray, w: np.ndarray | None, reduction: str) -> np.ndarray:
        with np.errstate(divide="ignore"):
            logx = np.maximum(np.log(x), -100)
            log1mx = np.maximum(np.log1p(-x), -100)
        raw = -(y * logx + (1 - y) * log1mx)
        loss = raw if w is None else raw * w
        self.x, self.y, self.w, self.raw, self.logs, self.reduction = x, y, w, raw, (logx, log1mx), reduction
        return _reduce(loss, reduction)

    def backward(self, g: np.ndarray) -> tuple:
        gs = _spread(g, self.reduction, np.broadcast_shapes(self.raw.shape, () if self.w is None else self.w.shape))
        gw = gs if self.w is None else gs * self.w
        need = self.needs_input_grad
        x, y = self.x, self.y
        gx = gw * (x - y) / np.maximum(x * (1 - x), 1e-12) if need[0] else None
        gy = gw * (self.logs[1] - self.logs[0]) if need[1] else None
        return gx, gy, (gs * self.raw if need[2] else None)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: Any = None,
                         reduce: Any = None, reduction: str = "mean") -> Tensor:
    """BCE of probabilities ``input`` in [0, 1] against ``target`` (same shape), optionally weighted."""
    reduction = check_reduction("binary_cross_entropy", reduction, size_average, reduce)
    tensor_input("binary_cross_entropy", input)
    tensor_input("binary_cross_entropy", target, "target")
    if target.shape != input.shape:
        raise ValueError(f"binary_cross_entropy: target of shape {target.shape} must have the input's shape {input.shape}")
    x, y = binary_operands(float_input("binary_cross_entropy", input), target)
    if x.array.size and (x.array.min() < 0 or x.array.max() > 1):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
    if weight is not None:
        _check_broadcast("binary_cross_entropy", "weight", weight, x.shape)
        weight = cast(weight, x.dtype)
    return _BCE.apply(x, y, weight, reduction)


def _check_broadcast(name: str, what: str, t: Tensor, shape: tuple[int, ...]) -> None:
    try:
        np.broadcast_shapes(t.shape, shape)
    except ValueError:
        raise ValueError(f"{name}: {what} of shape {t.shape} cannot be broadcast to the input's shape {shape}") from None


class _BCEWithLogits(Function):
    """l = w ((1 - y) x + (1 + (p - 1) y) softplus(-x)), p = pos_weight (sigmoid + BCE, stable).

    dl/dx = w ((1 - y) - (1 + (p - 1) y) sigma(-x)) (= w (sigma(x) - y) for p = 1);
    dl/dy = w (-x + (p - 1) softplus(-x)); dl/dw = l / w; dl/dp = w y softplus(-x).
    """

    def forward(self, x: np.ndarray, y: np.ndarray, w: np.ndarray | None, p: np.ndarray | None,
                reduction: str) -> np.ndarray:
        sp = kernels.softplus(-x)
        lw = 1 if p is None else 1 + (p - 1) * y
        raw = (1 - y) * x + lw * sp
        loss = raw if w is None else raw * w
        self.x, self.y, self.w, self.p, self.sp, self.lw, self.raw = x, y, w, p, sp, lw, raw
        self.reduction, self.shape = reduction, loss.shape
        return _reduce(loss, reduction)

    def backward(self, g: np.ndarray) -> tuple:
        gs = _spread(g, self.reduction, self.shape)
        gw = gs if self.w is None else gs * self.w
        need = self.needs_input_grad
        x, y, p = self.x, self.y, self.p
        gx = gw * ((1 - y) - self.lw * kernels.sigmoid(-x)) if need[0] else None
        gy = gw * (-x if p is None else -x + (p - 1) * self.sp) if need[1] else None
        gwt = gs * self.raw if need[2] else None
        gp = gw * y * self.sp if need[3] else None
        return gx, gy, gwt, gp


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE on logits: sigmoid and BCE fused and stable for any |x|. ``pos_weight`` (broadcast
    along the last dim, the classes) scales the positive term; ``weight`` scales each element.
    """
    reduction = check_reduction("binary_cross_entropy_with_logits", reduction, size_average, reduce)
    name = "binary_cross_entropy_with_logits"
    tensor_input(name, input)
    tensor_input(name, target, "target")
    if target.shape != input.shape:
        raise ValueError(f"{name}: target of shape {target.shape} must have the input's shape {input.shape}")
    x, y = binary_operands(float_input(name, input), target)
    if weight is not None:
        _check_broadcast(name, "weight", weight, x.shape)
        weight = cast(weight, x.dtype)
    if pos_weight is not None:
        _check_broadcast(name, "pos_weight", pos_weight, x.shape)
        pos_weight = cast(pos_weight, x.dtype)
    return _BCEWithLogits.apply(x, y, weight, pos_weight, reduction)


# ---------------------------------------------------------------------------- divergences / similarity
class _KLDiv(Function):
    """KL(target || exp(input)) pointwise, ``input`` being log-probabilities:
    l = y (log y - x) (0 where y = 0), or e^y (y - x) when ``log_target``.
    dl/dx = -y (or -e^y); dl/dy = log y + 1 - x (or e^y (y - x + 1)).
    """

    def forward(self, x: np.ndarray, y: np.ndarray, reduction: str, log_target: bool) -> np.ndarray:
        if log_target:
            ey = np.exp(y)
            loss = ey * (y - x)
            self.ey = ey
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                logy = np.log(y)  # nan for y < 0, like PyTorch
            self.zero = y == 0
            if self.zero.any():  # xlogy: 0 log 0 = 0
                logy = np.where(self.zero, 0, logy).astype(y.dtype, copy=False)
            loss = y * logy - y * x
            self.logy = logy
        self.x, self.y, self.reduction, self.log_target, self.shape = x, y, reduction, log_target, loss.shape
        if reduction == "batchmean":
            with np.errstate(invalid="ignore", divide="ignore"):  # an empty batch: 0/0 = NaN, as PyTorch
                total = loss.sum() / (x.shape[0] if x.ndim else 1)
            return np.asarray(total, dtype=loss.dtype)
        return _reduce(loss, reduction)

    def backward(self, g: np.ndarray) -> tuple:
        if self.reduction == "batchmean":
            gs = np.broadcast_to(g / (self.x.shape[0] if self.x.ndim else 1), self.shape)
        else:
            gs = _spread(g, self.reduction, self.shape)
        need = self.needs_input_grad
        x, y = self.x, self.y
        if self.log_target:
            gx = -gs * self.ey if need[0] else None
            gy = gs * self.ey * (y - x + 1) if need[1] else None
        else:
            gx = -gs * y if need[0] else None
            gy = gs * (self.logy + 1 - x - self.zero) if need[1] else None  # -x where y = 0
        return gx, gy


def kl_div(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Pointwise KL divergence with log-probability ``input``: target * (log target - input).

    'batchmean' (the mathematical KL) divides the sum by the batch size; 'mean' by the element count.
    """
    reduction = check_reduction("kl_div", reduction, size_average, reduce, extra=("batchmean",))
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size and the "
                      "support size; 'batchmean' divides only by the batch size, and matches the KL math definition.",
                      stacklevel=2)
    x, y = _broadcast_pair("kl_div", input, target)
    return _KLDiv.apply(x, y, reduction, bool(log_target))


class _CosineSimilarity(Function):
    """y = x1 . x2 / (max(|x1|, eps) max(|x2|, eps)) along ``axis``.

    dy/dx1 = x2 / (c1 c2) - y x1 / (c1 |x1|) with c = max(|x|, eps) (and symmetrically for x2).
    """

    def forward(self, a: np.ndarray, b: np.ndarray, axis: int, eps: float) -> np.ndarray:
        a, b = np.broadcast_arrays(a, b)
        n1 = np.sqrt((a * a).sum(axis=axis, keepdims=True))
        n2 = np.sqrt((b * b).sum(axis=axis, keepdims=True))
        c1, c2 = np.maximum(n1, eps), np.maximum(n2, eps)
        y = ((a / c1) * (b / c2)).sum(axis=axis, keepdims=True)
        self.a, self.b, self.n1, self.n2, self.c1, self.c2, self.y, self.axis = a, b, n1, n2, c1, c2, y, axis
        return np.squeeze(y, axis=axis)

    def backward(self, g: np.ndarray) -> tuple:
        g = np.expand_dims(g, self.axis)
        need = self.needs_input_grad
        ga = gb = None
        cc = self.c1 * self.c2
        with np.errstate(invalid="ignore", divide="ignore"):
            if need[0]:
                unit = np.where(self.n1 > 0, self.a / self.n1, 0)
                ga = g * (self.b / cc - self.y * unit / self.c1)
            if need[1]:
                unit = np.where(self.n2 > 0, self.b / self.n2, 0)
                gb = g * (self.a / cc - self.y * unit / self.c2)
        return (None if ga is None else ga.astype(self.a.dtype, copy=False),
                None if gb is None else gb.astype(self.b.dtype, copy=False))


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along ``dim`` (inputs broadcast); the other dims stay."""
    if not isinstance(x1, Tensor) or not isinstance(x2, Tensor):
        raise TypeError(f"cosine_similarity: expected Tensors, got {type(x1).__name__} and {type(x2).__name__}")
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {x1.shape} and {x2.shape} cannot be broadcast") from None
    a, b = binary_operands(float_input("cosine_similarity", x1), float_input("cosine_similarity", x2))
    return _CosineSimilarity.apply(a, b, normalize_axis("cosine_similarity", dim, len(shape)), float(eps))
