"""Activation functions as fused ops: each is one ``Function`` with a closed-form backward.

``softmax``/``log_softmax`` subtract the row max before ``exp`` (stable for logits of 1e4);
``gelu`` uses a vectorized ``erf`` built here (NumPy has none); ``step`` is the perceptron's
Heaviside function and carries no gradient. ``relu``/``sigmoid``/``tanh`` live in ``elementwise``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from numpy.polynomial import chebyshev as _cheb

from deepling.autograd import Function
from deepling.ops.elementwise import _float_input, _sigmoid, cast
from deepling.ops.shape import _axis
from deepling.tensor import Tensor, _as_dtype

__all__ = [
    "softmax", "log_softmax", "softmin", "gelu", "silu", "elu", "selu", "celu", "leaky_relu",
    "softplus", "hardtanh", "relu6", "hardsigmoid", "hardswish", "mish", "logsigmoid", "softsign",
    "step", "erf",
]


# ---------------------------------------------------------------------------- erf
def _chebyshev_fit(f: Any, lo: float, hi: float, deg: int) -> np.ndarray:
    """Coefficients of the degree-``deg`` Chebyshev interpolant of ``f`` on [lo, hi]."""
    nodes = np.cos(np.pi * (np.arange(deg + 1) + 0.5) / (deg + 1))
    values = [f(lo + (t + 1) * (hi - lo) / 2) for t in nodes]
    return _cheb.chebfit(nodes, values, deg)


# erf(x) = x P(x^2) for |x| < 2.5 and erfc(x) = exp(-x^2) / x * Q(1 / x^2) for 2.5 <= x < 6,
# P and Q being Chebyshev interpolants of math.erf fitted once at import (max error ~1e-15 in
# float64); beyond 6, erf is +-1 to double precision.
_ERF_SPLIT, _ERF_END = 2.5, 6.0
_ERF_P = _chebyshev_fit(lambda u: math.erf(math.sqrt(u)) / math.sqrt(u), 0.0, _ERF_SPLIT**2, 18)
_ERF_Q = _chebyshev_fit(lambda v: math.erfc(v**-0.5) * math.exp(1 / v) * v**-0.5, _ERF_END**-2, _ERF_SPLIT**-2, 12)
# Float32 needs only ~1e-8: lower degrees, half the work.
_ERF_P32 = _ERF_P[:13]
_ERF_Q32 = _ERF_Q[:9]


def _clenshaw(coef: np.ndarray, t: np.ndarray) -> np.ndarray:
    """sum_k coef[k] T_k(t) by Clenshaw's recurrence, in t's dtype, without temporaries per step."""
    b1 = np.full_like(t, float(coef[-1]))
    b2 = np.zeros_like(t)
    tmp = np.empty_like(t)
    t2 = 2 * t
    for c in coef[-2:0:-1]:
        np.multiply(t2, b1, out=tmp)
        tmp -= b2
        tmp += float(c)
        b2, b1, tmp = b1, tmp, b2
    np.multiply(t, b1, out=tmp)
    tmp -= b2
    tmp += float(coef[0])
    return tmp


def _erf(x: np.ndarray) -> np.ndarray:
    """Vectorized error function, |error| < 1e-14 in float64 (float32 inputs compute in float32)."""
    p, q = (_ERF_P, _ERF_Q) if x.dtype == np.float64 else (_ERF_P32, _ERF_Q32)
    a = np.abs(x)
    u = np.minimum(x * x, _ERF_SPLIT**2)
    out = a * _clenshaw(p, u * (2 / _ERF_SPLIT**2) - 1)
    far = a >= _ERF_SPLIT
    if far.any():
        mid = far & (a < _ERF_END)
        am = a[mid]
        v = 1 / (am * am)
        lo, hi = _ERF_END**-2, _ERF_SPLIT**-2
        out[mid] = 1 - np.exp(-am * am) / am * _clenshaw(q, (v - lo) * (2 / (hi - lo)) - 1)
        out[far & ~mid] = 1
    return np.copysign(out, x)


class Erf(Function):
    """erf(x) = 2/sqrt(pi) int_0^x e^(-t^2) dt; d/dx = 2/sqrt(pi) e^(-x^2)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return _erf(x)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * (2 / math.sqrt(math.pi)) * np.exp(-self.x * self.x)


def erf(input: Tensor) -> Tensor:
    """Elementwise error function."""
    return Erf.apply(_float_input("erf", input))


# ---------------------------------------------------------------------------- softmax family
def _softmax_dim(name: str, ndim: int, dim: int | None) -> int:
    if dim is None:
        # PyTorch's legacy implicit choice, kept (with its warning) so old scripts port.
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.", stacklevel=3)
        dim = 0 if ndim in (0, 1, 3) else 1
    return _axis(name, dim, ndim)


def _prepare(name: str, x: Tensor, dtype: Any) -> Tensor:
    x = _float_input(name, x)
    if dtype is not None:
        x = cast(x, _as_dtype(dtype))
    return x


class Softmax(Function):
    """y = exp(x - max) / sum exp(x - max) along ``axis``; dx = y * (g - sum(g * y))."""

    def forward(self, x: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        if x.ndim == 0:
            self.out = np.ones_like(x)
            return self.out
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        self.out = e
        return e

    def backward(self, g: np.ndarray) -> np.ndarray:
        y = self.out
        if y.ndim == 0:
            return np.zeros_like(g)
        return y * (g - (g * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - max - log sum exp(x - max) along ``axis``; dx = g - exp(y) * sum(g)."""

    def forward(self, x: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        if x.ndim == 0:
            self.out = np.zeros_like(x)
            return self.out
        shifted = x - x.max(axis=axis, keepdims=True)
        shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        self.out = shifted
        return shifted

    def backward(self, g: np.ndarray) -> np.ndarray:
        if self.out.ndim == 0:
            return np.zeros_like(g)
        return g - np.exp(self.out) * g.sum(axis=self.axis, keepdims=True)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j) along ``dim`` (any shape; rows sum to 1)."""
    x = _prepare("softmax", input, dtype)
    return Softmax.apply(x, _softmax_dim("softmax", x.ndim, dim))


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """log softmax(x) = x - logsumexp(x) along ``dim``, computed without overflow."""
    x = _prepare("log_softmax", input, dtype)
    return LogSoftmax.apply(x, _softmax_dim("log_softmax", x.ndim, dim))


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """softmin(x) = softmax(-x) along ``dim``."""
    x = _prepare("softmin", input, dtype)
    return Softmax.apply(-x, _softmax_dim("softmin", x.ndim, dim))


# ---------------------------------------------------------------------------- smooth activations
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


class Gelu(Function):
    """x Phi(x) (Phi: the standard normal CDF) or its tanh approximation.

    exact: dx = Phi(x) + x phi(x); tanh: y = x/2 (1 + tanh(k (x + 0.044715 x^3))), k = sqrt(2/pi).
    """

    def forward(self, x: np.ndarray, approximate: str) -> np.ndarray:
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            self.th = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            return 0.5 * x * (1 + self.th)
        self.cdf = 0.5 * (1 + _erf(x * _INV_SQRT_2))
        return x * self.cdf

    def backward(self, g: np.ndarray) -> np.ndarray:
        x = self.x
        if self.approximate == "tanh":
            th = self.th
            dinner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return g * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * dinner)
        return g * (self.cdf + x * _INV_SQRT_2PI * np.exp(-0.5 * x * x))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x Phi(x); ``approximate='tanh'`` uses 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(_float_input("gelu", input), approximate)


class Silu(Function):
    """x sigma(x); dx = s (1 + x (1 - s))."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        self.s = _sigmoid(x).astype(x.dtype, copy=False)
        return x * self.s

    def backward(self, g: np.ndarray) -> np.ndarray:
        s = self.s
        return g * (s * (1 + self.x * (1 - s)))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """SiLU (swish): x * sigmoid(x)."""
    return Silu.apply(_float_input("silu", input))


class Elu(Function):
    """scale * (x if x > 0 else alpha (exp(x * input_scale) - 1)): ELU, SELU and CELU in one."""

    def forward(self, x: np.ndarray, alpha: float, scale: float, input_scale: float) -> np.ndarray:
        self.x, self.alpha, self.scale, self.input_scale = x, alpha, scale, input_scale
        neg = alpha * np.expm1(np.minimum(x, 0) * input_scale)
        return scale * np.where(x > 0, x, neg)

    def backward(self, g: np.ndarray) -> np.ndarray:
        x = self.x
        dneg = (self.alpha * self.input_scale) * np.exp(np.minimum(x, 0) * self.input_scale)
        return g * (self.scale * np.where(x > 0, 1, dneg)).astype(x.dtype, copy=False)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """ELU(x) = x for x > 0, alpha (e^x - 1) otherwise."""
    return Elu.apply(_float_input("elu", input), float(alpha), 1.0, 1.0)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """SELU(x) = scale * ELU(x, alpha) with the self-normalizing constants (Klambauer et al., 2017)."""
    return Elu.apply(_float_input("selu", input), _SELU_ALPHA, _SELU_SCALE, 1.0)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """CELU(x) = max(0, x) + min(0, alpha (e^(x/alpha) - 1))."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return Elu.apply(_float_input("celu", input), float(alpha), 1.0, 1.0 / alpha)


class LeakyRelu(Function):
    """x if x > 0 else slope * x; dx = 1 or slope."""

    def forward(self, x: np.ndarray, slope: float) -> np.ndarray:
        self.x, self.slope = x, slope
        return np.where(x > 0, x, x * slope)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.where(self.x > 0, g, g * self.slope)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """LeakyReLU(x) = max(0, x) + negative_slope * min(0, x)."""
    return LeakyRelu.apply(_float_input("leaky_relu", input), float(negative_slope))


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, linear where beta x > threshold; dx = sigma(beta x)."""

    def forward(self, x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
        bx = x * beta
        self.bx, self.threshold = bx, threshold
        smooth = (np.log1p(np.exp(-np.abs(bx))) + np.maximum(bx, 0)) / beta
        return np.where(bx > threshold, x, smooth)

    def backward(self, g: np.ndarray) -> np.ndarray:
        bx = self.bx
        return np.where(bx > self.threshold, g, g * _sigmoid(bx).astype(g.dtype, copy=False))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus(x) = 1/beta log(1 + exp(beta x)); x itself where beta x > threshold."""
    return Softplus.apply(_float_input("softplus", input), float(beta), float(threshold))


class LogSigmoid(Function):
    """log sigma(x) = min(x, 0) - log(1 + e^-|x|); dx = sigma(-x)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * _sigmoid(-self.x).astype(g.dtype, copy=False)


def logsigmoid(input: Tensor) -> Tensor:
    """log(1 / (1 + e^-x)), stable for large |x|."""
    return LogSigmoid.apply(_float_input("logsigmoid", input))


class Softsign(Function):
    """x / (1 + |x|); dx = 1 / (1 + |x|)^2."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.den = 1 + np.abs(x)
        return x / self.den

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g / (self.den * self.den)


def softsign(input: Tensor) -> Tensor:
    """Softsign(x) = x / (1 + |x|)."""
    return Softsign.apply(_float_input("softsign", input))


class Mish(Function):
    """x tanh(softplus(x)); dx = t + x sigma(x) (1 - t^2), t = tanh(softplus(x))."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        self.t = np.tanh(np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0))
        return x * self.t

    def backward(self, g: np.ndarray) -> np.ndarray:
        x, t = self.x, self.t
        return g * (t + x * _sigmoid(x).astype(x.dtype, copy=False) * (1 - t * t))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mish(x) = x * tanh(softplus(x))."""
    return Mish.apply(_float_input("mish", input))


# ---------------------------------------------------------------------------- piecewise linear
class Hardtanh(Function):
    """clip(x, lo, hi); the gradient passes only strictly inside (lo, hi), as in PyTorch."""

    def forward(self, x: np.ndarray, lo: float, hi: float, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
        z = x + shift if shift else x
        self.z, self.lo, self.hi, self.scale = z, lo, hi, scale
        out = np.clip(z, lo, hi)
        return out * scale if scale != 1.0 else out

    def backward(self, g: np.ndarray) -> np.ndarray:
        z = self.z
        inside = (z > self.lo) & (z < self.hi)
        return np.where(inside, g * self.scale if self.scale != 1.0 else g, 0).astype(g.dtype, copy=False)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """HardTanh(x) = min(max(x, min_val), max_val)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return Hardtanh.apply(_float_input("hardtanh", input), float(min_val), float(max_val))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """ReLU6(x) = min(max(0, x), 6)."""
    return Hardtanh.apply(_float_input("relu6", input), 0.0, 6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """Hardsigmoid(x) = relu6(x + 3) / 6."""
    return Hardtanh.apply(_float_input("hardsigmoid", input), 0.0, 6.0, 1 / 6, 3.0)


class Hardswish(Function):
    """x relu6(x + 3) / 6; dx = 0 below -3, 1 above 3, x/3 + 1/2 between."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * np.clip(x + 3, 0, 6) / 6

    def backward(self, g: np.ndarray) -> np.ndarray:
        x = self.x
        d = np.where(x < -3, 0, np.where(x <= 3, x / 3 + 0.5, 1)).astype(g.dtype, copy=False)
        return g * d


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """Hardswish(x) = x * relu6(x + 3) / 6."""
    return Hardswish.apply(_float_input("hardswish", input))


def step(input: Tensor, value: float = 1.0) -> Tensor:
    """Heaviside step: 1 where x > 0, 0 where x < 0, ``value`` at 0 (``torch.heaviside(x, value)``).

    The perceptron's activation. Its derivative is 0 almost everywhere, so the result is
    detached: gradient descent cannot train through it (the perceptron rule does not need to).
    """
    x = _float_input("step", input)
    d = x.data
    out = np.where(d > 0, 1, np.where(d < 0, 0, value)).astype(d.dtype, copy=False)
    return Tensor._wrap(out)
