"""The numerical kernels, once: stable sigmoid, softplus, softmax, log-softmax, logsumexp, tanh-GELU.

NumPy arrays in, NumPy arrays out, no autograd: the ops (``elementwise``, ``activation``, ``loss``,
``reduce``, ``attention``, ``rnn``) and the models (RBM, samplers) call these, so that a fix made
here reaches every caller. Each keeps its input's floating dtype.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sigmoid", "softplus", "softmax", "log_softmax", "logsumexp", "gelu_tanh", "gelu_tanh_grad_mul"]


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + e^-x) in three in-place passes (into ``out``, which may be ``x``).

    e^-x overflows to inf for very negative x (below -88 in float32), giving the right limit 0;
    np.where over a sign mask would cost ~5x more.
    """
    e = np.negative(x, out=np.empty_like(x) if out is None else out)  # out=: an array even for 0-d x
    with np.errstate(over="ignore"):
        np.exp(e, out=e)
    e += 1
    return np.reciprocal(e, out=e)


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) = log1p(e^-|x|) + max(x, 0): no overflow for any x (an array even for 0-d x)."""
    return np.asarray(np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0))


def softmax(x: np.ndarray, axis: int, out: np.ndarray | None = None, masked_rows_zero: bool = False) -> np.ndarray:
    """exp(x - max) / sum exp(x - max) along ``axis`` (into ``out``, which may be ``x``).

    A row that is -inf everywhere (fully masked) gives NaN, as in PyTorch's softmax, or zeros with
    ``masked_rows_zero`` (PyTorch's safe softmax in attention).
    """
    m = x.max(axis=axis, keepdims=True)
    if masked_rows_zero:
        m[~np.isfinite(m)] = 0  # all -inf: shift by 0 so that exp gives 0 rather than NaN
    with np.errstate(invalid="ignore"):
        e = np.subtract(x, m, out=out)
        np.exp(e, out=e)
        denom = e.sum(axis=axis, keepdims=True)
        if masked_rows_zero:
            denom[denom == 0] = 1
        e /= denom
    return e


def log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """x - max - log sum exp(x - max) along ``axis``: stable for logits of 1e4."""
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = x - x.max(axis=axis, keepdims=True)
        shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def logsumexp(x: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """log sum exp x along ``axis`` (kept, with size 1), shifted by the max; -inf for an all -inf row."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    return np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m


_GELU_K = np.sqrt(2 / np.pi)  # tanh-GELU constants (GPT-2's GELU)
_GELU_C = 0.044715


def gelu_tanh(h: np.ndarray, out: np.ndarray | None = None,
              s_out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """GELU(h) ~ h s, s = (1 + tanh(k (h + c h^3))) / 2, k = sqrt(2/pi), c = 0.044715; returns (GELU, s).

    Eight in-place passes on one temporary (``s``, which the gradient reuses; into ``s_out`` if
    given) plus the output (``out``, or a new array): the activations of a wide hidden layer
    dominate the memory traffic.
    """
    dt = h.dtype.type
    s = np.multiply(h, h, out=np.empty_like(h) if s_out is None else s_out)  # out=: arrays even for 0-d h
    s *= dt(_GELU_K * _GELU_C)
    s += dt(_GELU_K)
    s *= h  # k (h + c h^3)
    np.tanh(s, out=s)
    s *= dt(0.5)
    s += dt(0.5)
    a = np.multiply(h, s, out=np.empty_like(h) if out is None else out)
    return a, s


def gelu_tanh_grad_mul(g: np.ndarray, h: np.ndarray, s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``g`` times d GELU / dh, into ``out`` (may be ``g``; None: a new array), with
    d GELU / dh = s (1 + (1 - s) P), P = 2k h (1 + 3c h^2), s from ``gelu_tanh`` (tanh' = 4 s (1 - s)).

    Factored so that (1 - s) = 0 meets the huge P of a large |h| first (an expanded sum
    g s + g s P - g s^2 P cancels catastrophically there). Eight passes where the expression in
    t = tanh(.) took eleven.
    """
    dt = h.dtype.type
    u = np.subtract(dt(1), s, out=np.empty_like(s))
    w = np.multiply(h, h, out=np.empty_like(h))
    w *= dt(6 * _GELU_K * _GELU_C)
    w += dt(2 * _GELU_K)
    w *= h  # P
    w *= u
    w += dt(1)
    w *= s
    return np.multiply(g, w, out=w if out is None else out)
