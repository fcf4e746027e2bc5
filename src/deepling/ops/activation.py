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
from deepling.ops import kernels
from deepling.ops.arguments import float_input, normalize_axis
from deepling.ops.elementwise import relu as _relu
from deepling.ops.promotion import cast
from deepling.tensor import Tensor, as_dtype

__all__ = [
    "softmax", "log_softmax", "softmin", "gelu", "silu", "elu", "selu", "celu", "leaky_relu",
    "softplus", "hardtanh", "relu6", "hardsigmoid", "hardswish", "mish", "logsigmoid", "softsign",
    "step", "erf", "prelu", "threshold", "glu", "normalize", "relu", "relu_", "elu_", "leaky_relu_", "hardtanh_",
    "threshold_",
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
    """Vectorized error function, |error| < 1e-14 in float64 (float32 inputs compute in float32).

    Both pieces are evaluated on clipped arguments and blended arithmetically: boolean indexing
    and np.where are branchy and cost more than the extra polynomial.
    """
    p, q = (_ERF_P, _ERF_Q) if x.dtype == np.float64 else (_ERF_P32, _ERF_Q32)
    a = np.abs(x)
    near = a * _clenshaw(p, np.minimum(a * a, _ERF_SPLIT**2) * (2 / _ERF_SPLIT**2) - 1)
    far = a >= _ERF_SPLIT
    n_far = np.count_nonzero(far)
    if n_far == 0:
        return np.copysign(near, x)
    if n_far * 16 < far.size:  # a few tail values (the usual case): fix them by index
        idx = np.flatnonzero(far)
        near.reshape(-1)[idx] = _erf_tail(q, a.reshape(-1)[idx])
        return np.copysign(near, x)
    tail = _erf_tail(q, a)
    tail -= near
    tail *= far
    tail += near
    return np.copysign(tail, x)


def _erf_tail(q: np.ndarray, a: np.ndarray) -> np.ndarray:
    """erf(a) = 1 - e^(-a^2) / a * Q(1/a^2) for a >= 2.5 (a is clipped into [2.5, 6])."""
    af = np.clip(a, _ERF_SPLIT, _ERF_END)  # erfc(6) ~ 2e-17: erf is 1 to double precision beyond
    lo, hi = _ERF_END**-2, _ERF_SPLIT**-2
    return 1 - np.exp(-af * af) / af * _clenshaw(q, (1 / (af * af) - lo) * (2 / (hi - lo)) - 1)


class Erf(Function):
    """erf(x) = 2/sqrt(pi) int_0^x e^(-t^2) dt; d/dx = 2/sqrt(pi) e^(-x^2)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return _erf(x)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * (2 / math.sqrt(math.pi)) * np.exp(-self.x * self.x)


def erf(input: Tensor) -> Tensor:
    """Elementwise error function."""
    return Erf.apply(float_input("erf", input))


# ---------------------------------------------------------------------------- in place
def _run(name: str, x: Any, inplace: bool, apply: Any, *args: Any) -> Tensor:
    """Apply an activation; with ``inplace=True`` write the result into ``x`` and return ``x``.

    As in PyTorch: a leaf that requires grad cannot be modified in place; a tensor inside the graph
    is (its node becomes the activation's), so gradients stay correct.
    """
    x = float_input(name, x) if not inplace else x
    if not inplace:
        return apply(x, *args)
    if not isinstance(x, Tensor) or x.array.dtype.kind != "f":
        raise TypeError(f"{name}: inplace=True needs a floating point Tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if x._check_inplace():  # raises for a leaf that requires grad
        return x._become(apply(x._snapshot(), *args))
    x._write(apply(Tensor._wrap(x.array), *args).array)
    return x._bump()


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """ReLU(x) = max(0, x); ``inplace=True`` overwrites ``input``."""
    return _run("relu", input, inplace, _relu)


def relu_(input: Tensor) -> Tensor:
    """In-place ReLU."""
    return relu(input, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place ELU."""
    return elu(input, alpha, inplace=True)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place LeakyReLU."""
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place Hardtanh."""
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place threshold."""
    return _run("threshold", input, True, Threshold.apply, float(threshold), float(value))


# ---------------------------------------------------------------------------- softmax family
def _softmax_dim(name: str, ndim: int, dim: int | None) -> int:
    if dim is None:
        # PyTorch's legacy implicit choice, kept (with its warning) so old scripts port.
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.", stacklevel=3)
        dim = 0 if ndim in (0, 1, 3) else 1
    return normalize_axis(name, dim, ndim)


def _prepare(name: str, x: Tensor, dtype: Any) -> Tensor:
    x = float_input(name, x)
    if dtype is not None:
        x = cast(x, as_dtype(dtype))
    return x


class Softmax(Function):
    """y = exp(x - max) / sum exp(x - max) along ``axis``; dx = y * (g - sum(g * y))."""

    def forward(self, x: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        if x.ndim == 0:
            self.out = np.ones_like(x)
            return self.out
        self.out = kernels.softmax(x, axis)  # an all -inf row (fully masked) gives nan, as in PyTorch
        return self.out

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
        self.out = kernels.log_softmax(x, axis)
        return self.out

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

    # At +-inf some products are inf * 0 = NaN, as in PyTorch, which computes them without a warning.
    @np.errstate(invalid="ignore", over="ignore")
    def forward(self, x: np.ndarray, approximate: str) -> np.ndarray:
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            out, self.s = kernels.gelu_tanh(x)
            return out
        self.cdf = 0.5 * (1 + _erf(x * _INV_SQRT_2))
        return x * self.cdf

    @np.errstate(invalid="ignore", over="ignore")
    def backward(self, g: np.ndarray) -> np.ndarray:
        x = self.x
        if self.approximate == "tanh":
            return kernels.gelu_tanh_grad_mul(g, x, self.s)
        return g * (self.cdf + x * _INV_SQRT_2PI * np.exp(-0.5 * x * x))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x Phi(x); ``approximate='tanh'`` uses 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(float_input("gelu", input), approximate)


class Silu(Function):
    """x sigma(x); dx = s (1 + x (1 - s))."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        self.s = kernels.sigmoid(x)
        return x * self.s

    def backward(self, g: np.ndarray) -> np.ndarray:
        s = self.s
        return g * (s * (1 + self.x * (1 - s)))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """SiLU (swish): x * sigmoid(x)."""
    return _run("silu", input, inplace, Silu.apply)


class Elu(Function):
    """scale * (x if x > 0 else alpha (exp(x * input_scale) - 1)): ELU, SELU and CELU in one."""

    def forward(self, x: np.ndarray, alpha: float, scale: float, input_scale: float) -> np.ndarray:
        self.x, self.alpha, self.scale, self.input_scale = x, alpha, scale, input_scale
        out = np.maximum(x, 0) + alpha * np.expm1(np.minimum(x, 0) * input_scale)  # one side is 0
        return out * scale if scale != 1.0 else out

    def backward(self, g: np.ndarray) -> np.ndarray:
        # alpha s e^(s min(x, 0)) is alpha s for x > 0; the mask term turns that into 1 there
        x, k = self.x, self.alpha * self.input_scale
        d = k * np.exp(np.minimum(x, 0) * self.input_scale) + (x > 0) * (1 - k)
        return g * (d * self.scale if self.scale != 1.0 else d)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """ELU(x) = x for x > 0, alpha (e^x - 1) otherwise."""
    return _run("elu", input, inplace, Elu.apply, float(alpha), 1.0, 1.0)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """SELU(x) = scale * ELU(x, alpha) with the self-normalizing constants (Klambauer et al., 2017)."""
    return _run("selu", input, inplace, Elu.apply, _SELU_ALPHA, _SELU_SCALE, 1.0)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """CELU(x) = max(0, x) + min(0, alpha (e^(x/alpha) - 1))."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return _run("celu", input, inplace, Elu.apply, float(alpha), 1.0, 1.0 / alpha)


class LeakyRelu(Function):
    """x if x > 0 else slope * x; dx = 1 or slope."""

    def forward(self, x: np.ndarray, slope: float) -> np.ndarray:
        self.x, self.slope = x, slope
        # max(x, slope x) for slope <= 1, min for slope > 1: no branchy np.where
        return np.maximum(x, x * slope) if slope <= 1 else np.minimum(x, x * slope)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * ((self.x > 0) * (1 - self.slope) + self.slope).astype(g.dtype, copy=False)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """LeakyReLU(x) = max(0, x) + negative_slope * min(0, x)."""
    return _run("leaky_relu", input, inplace, LeakyRelu.apply, float(negative_slope))


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, linear where beta x > threshold; dx = sigma(beta x)."""

    def forward(self, x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
        bx = x * beta
        self.bx, self.threshold = bx, threshold
        out = kernels.softplus(bx)
        if beta != 1.0:
            out /= beta
        self.linear = bx > threshold
        if self.linear.any():  # usually none: skip the branchy copy
            np.copyto(out, x, where=self.linear)
        return out

    def backward(self, g: np.ndarray) -> np.ndarray:
        d = kernels.sigmoid(self.bx)
        if self.linear.any():
            d[self.linear] = 1
        return g * d


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus(x) = 1/beta log(1 + exp(beta x)); x itself where beta x > threshold."""
    return Softplus.apply(float_input("softplus", input), float(beta), float(threshold))


class LogSigmoid(Function):
    """log sigma(x) = -softplus(-x); dx = sigma(-x)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.neg = -x
        return -kernels.softplus(self.neg)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * kernels.sigmoid(self.neg)


def logsigmoid(input: Tensor) -> Tensor:
    """log(1 / (1 + e^-x)), stable for large |x|."""
    return LogSigmoid.apply(float_input("logsigmoid", input))


class Softsign(Function):
    """x / (1 + |x|); dx = 1 / (1 + |x|)^2."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.den = 1 + np.abs(x)
        return x / self.den

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g / (self.den * self.den)


def softsign(input: Tensor) -> Tensor:
    """Softsign(x) = x / (1 + |x|)."""
    return Softsign.apply(float_input("softsign", input))


class Mish(Function):
    """x tanh(softplus(x)); dx = t + x sigma(x) (1 - t^2), t = tanh(softplus(x))."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        self.t = np.tanh(kernels.softplus(x))
        return x * self.t

    def backward(self, g: np.ndarray) -> np.ndarray:
        x, t = self.x, self.t
        return g * (t + x * kernels.sigmoid(x) * (1 - t * t))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mish(x) = x * tanh(softplus(x))."""
    return _run("mish", input, inplace, Mish.apply)


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
        return (g * self.scale if self.scale != 1.0 else g) * inside


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """HardTanh(x) = min(max(x, min_val), max_val)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _run("hardtanh", input, inplace, Hardtanh.apply, float(min_val), float(max_val))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """ReLU6(x) = min(max(0, x), 6)."""
    return _run("relu6", input, inplace, Hardtanh.apply, 0.0, 6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """Hardsigmoid(x) = relu6(x + 3) / 6."""
    return _run("hardsigmoid", input, inplace, Hardtanh.apply, 0.0, 6.0, 1 / 6, 3.0)


class Hardswish(Function):
    """x relu6(x + 3) / 6; dx = 0 below -3, 1 above 3, x/3 + 1/2 between."""

    @np.errstate(invalid="ignore")  # -inf * 0 = NaN, as PyTorch's (silent) kernel gives
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * np.clip(x + 3, 0, 6) / 6

    def backward(self, g: np.ndarray) -> np.ndarray:
        x = self.x
        above = x > 3
        # 0 below -3, 1 above 3; clipping first keeps +-inf from making inf * 0 = nan
        d = (np.clip(x, -4, 4) / 3 + 0.5) * ((x >= -3) & ~above) + above
        return g * d


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """Hardswish(x) = x * relu6(x + 3) / 6."""
    return _run("hardswish", input, inplace, Hardswish.apply)


def step(input: Tensor, value: float = 1.0) -> Tensor:
    """Heaviside step: 1 where x > 0, 0 where x < 0, ``value`` at 0 (``torch.heaviside(x, value)``).

    The perceptron's activation. Its derivative is 0 almost everywhere, so the result is
    detached: gradient descent cannot train through it (the perceptron rule does not need to).
    """
    x = float_input("step", input)
    d = x.array
    out = np.where(d > 0, 1, np.where(d < 0, 0, value)).astype(d.dtype, copy=False)
    return Tensor._wrap(out)


# ---------------------------------------------------------------------------- with parameters / shape changes
class Prelu(Function):
    """x if x > 0 else a x, with a learned slope a per channel; dx = 1 or a, da = sum of x over x <= 0."""

    def forward(self, x: np.ndarray, a: np.ndarray) -> np.ndarray:
        self.x, self.a = x, a
        return np.maximum(x, 0) + a * np.minimum(x, 0)

    def backward(self, g: np.ndarray) -> tuple:
        x, a, need = self.x, self.a, self.needs_input_grad
        gx = g * (a + (x > 0) * (1 - a)) if need[0] else None
        ga = g * np.minimum(x, 0) if need[1] else None
        return gx, ga


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """PReLU(x) = max(0, x) + weight * min(0, x); ``weight`` has 1 or C entries (C = dim 1 of the input)."""
    x = float_input("prelu", input)
    n = weight.numel()
    if weight.ndim > 1:
        raise ValueError(f"prelu: weight must be 0-d or 1-D, got shape {weight.shape}")
    if n != 1:
        channels = x.shape[1] if x.ndim >= 2 else 1  # PyTorch: a 1-D input is one channel
        if n != channels:
            raise ValueError(f"prelu: weight of {n} entries does not match {channels} channels of input {x.shape}")
        if x.ndim >= 2:
            weight = weight.reshape((n,) + (1,) * (x.ndim - 2))
    elif weight.ndim == 1:
        weight = weight.reshape(())
    return Prelu.apply(x, weight)


class Threshold(Function):
    """x where x > threshold, ``value`` elsewhere; the gradient passes where x > threshold."""

    def forward(self, x: np.ndarray, threshold: float, value: float) -> np.ndarray:
        self.keep = x > threshold
        return np.where(self.keep, x, np.asarray(value, dtype=x.dtype))

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.where(self.keep, g, 0).astype(g.dtype, copy=False)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """y = x if x > threshold else value."""
    return _run("threshold", input, inplace, Threshold.apply, float(threshold), float(value))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """GLU(a, b) = a * sigmoid(b), a and b the two halves of the input along ``dim``."""
    x = float_input("glu", input)
    axis = normalize_axis("glu", dim, x.ndim)
    if x.ndim == 0 or x.shape[axis] % 2:
        raise ValueError(f"glu: halving dimension {dim} needs an even size, got shape {x.shape}")
    a, b = x.chunk(2, axis)
    return a * b.sigmoid()


class _Normalize2(Function):
    """y = x / max(||x||_2, eps) along ``axis``; dx = g / c - x sum(g x) / (c^2 n) where n > eps."""

    def forward(self, x: np.ndarray, axis: int, eps: float) -> np.ndarray:
        n = np.sqrt((x * x).sum(axis=axis, keepdims=True))
        c = np.maximum(n, eps)
        self.x, self.n, self.c, self.axis, self.eps = x, n, c, axis, eps
        return x / c

    def backward(self, g: np.ndarray) -> np.ndarray:
        x, n, c = self.x, self.n, self.c
        proj = (g * x).sum(axis=self.axis, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            radial = np.where(n > self.eps, proj / (c * c * n), 0).astype(g.dtype, copy=False)
        return g / c - x * radial


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Tensor:
    """x / max(||x||_p, eps) along ``dim`` (unit vectors, e.g. before a cosine similarity)."""
    x = float_input("normalize", input)
    axis = normalize_axis("normalize", dim, x.ndim)
    if p == 2:
        return _Normalize2.apply(x, axis, float(eps))
    norm = (x.abs() ** p).sum(axis, keepdim=True) ** (1.0 / p)
    return x / norm.clamp(min=eps)
