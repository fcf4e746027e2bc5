"""Elementwise ops: arithmetic, unary math, activations, comparisons, ``where``, dtype casts.

Binary ops broadcast like NumPy; their backward returns broadcast-shaped gradients and the engine
un-broadcasts them (``autograd.unbroadcast``). Dtypes promote as in PyTorch: a Python scalar takes
the tensor's dtype unless it is of a higher kind (int tensor * 0.5 -> float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling import threadpool
from deepling.autograd import Function
from deepling.ops import kernels
from deepling.ops.arguments import float_input
from deepling.ops.promotion import binary_operands, cast
from deepling.tensor import Tensor, default_dtype

__all__ = [
    "add", "sub", "mul", "div", "pow", "neg", "abs", "exp", "log", "log1p", "sqrt", "rsqrt",
    "sin", "cos", "tanh", "sigmoid", "relu", "clamp", "clip", "maximum", "minimum", "where",
    "eq", "ne", "lt", "le", "gt", "ge", "sign", "floor", "ceil", "round", "cast", "clone",
    "logical_not", "logical_and", "logical_or", "logical_xor", "floor_divide", "remainder",
    "square", "reciprocal",
]

def _binary(fn: type[Function], name: str, a: Any, b: Any) -> Tensor:
    a, b = binary_operands(a, b)
    try:
        return fn.apply(a, b)
    except ValueError as e:
        if "broadcast" not in str(e):
            raise
        raise ValueError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None


class Clone(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g


def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


# ---------------------------------------------------------------------------- binary
class Add(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, g: np.ndarray) -> tuple:
        return g, g


class Sub(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b

    def backward(self, g: np.ndarray) -> tuple:
        return g, -g if self.needs_input_grad[1] else None


class Mul(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # Keep only what a gradient needs (as PyTorch saves): writing in place into an input that
        # no gradient reads must not stop the backward.
        need = self.needs_input_grad or (False, False)
        self.a = a if need[1] else None
        self.b = b if need[0] else None
        return a * b

    def backward(self, g: np.ndarray) -> tuple:
        ga = g * self.b if self.needs_input_grad[0] else None
        gb = g * self.a if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.dtype.kind in "biu":  # true division of integers gives float32, as in PyTorch
            a, b = a.astype(default_dtype), b.astype(default_dtype)
        need = self.needs_input_grad or (False, False)
        self.a = a if need[1] else None
        self.b = b if need[0] or need[1] else None
        return a / b

    def backward(self, g: np.ndarray) -> tuple:
        ga = g / self.b if self.needs_input_grad[0] else None
        gb = -g * self.a / (self.b * self.b) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """``a ** b``; d/da = b a^(b-1), d/db = a^b log(a) (taken as 0 where a == 0)."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        if a.dtype.kind in "iu" and b.dtype.kind in "iu" and np.any(b < 0):
            raise RuntimeError("pow: integers to negative integer powers are not allowed")
        self.out = np.power(a, b)
        return self.out

    def backward(self, g: np.ndarray) -> tuple:
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = g * b * np.power(a, b - 1)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                loga = np.where(a == 0, 0, np.log(np.where(a == 0, 1, a)))
            gb = g * self.out * loga
        return ga, gb


class PowScalar(Function):
    """``x ** p`` for a Python number p: d/dx = p x^(p-1)."""

    def forward(self, x: np.ndarray, p: float) -> np.ndarray:
        self.x, self.p = x, p
        if p == 2:
            return x * x
        return np.power(x, np.asarray(p, dtype=x.dtype) if x.dtype.kind == "f" else p)

    def backward(self, g: np.ndarray) -> np.ndarray:
        p = self.p
        if p == 2:
            return g * (2 * self.x)
        return g * (p * np.power(self.x, np.asarray(p - 1, dtype=self.x.dtype)))


class Maximum(Function):
    """Elementwise max; at ties the gradient is split evenly, as in PyTorch (``Minimum`` likewise)."""

    pick, wins = staticmethod(np.maximum), staticmethod(np.greater)

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        return self.pick(a, b)

    def backward(self, g: np.ndarray) -> tuple:
        # PyTorch's rule: the loser gets 0, a tie halves, and a NaN (which loses no comparison)
        # passes the whole gradient to both sides.
        tie = (self.a == self.b).astype(g.dtype) * 0.5
        ga = g * (1 - self.wins(self.b, self.a) - tie) if self.needs_input_grad[0] else None
        gb = g * (1 - self.wins(self.a, self.b) - tie) if self.needs_input_grad[1] else None
        return ga, gb


class Minimum(Maximum):
    pick, wins = staticmethod(np.minimum), staticmethod(np.less)


def add(a: Any, b: Any, alpha: Any = 1) -> Tensor:
    return _binary(Add, "add", a, b if alpha == 1 else b * alpha)


def sub(a: Any, b: Any, alpha: Any = 1) -> Tensor:
    return _binary(Sub, "sub", a, b if alpha == 1 else b * alpha)


def mul(a: Any, b: Any) -> Tensor:
    return _binary(Mul, "mul", a, b)


def div(a: Any, b: Any) -> Tensor:
    return _binary(Div, "div", a, b)


def pow(a: Any, b: Any) -> Tensor:
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if a.array.dtype.kind in "iu" and isinstance(b, float):
            a = cast(a, default_dtype)
        if a.array.dtype.kind in "iu" and b < 0:
            raise RuntimeError("pow: integers to negative integer powers are not allowed")
        return PowScalar.apply(a, b)
    return _binary(Pow, "pow", a, b)


def maximum(a: Any, b: Any) -> Tensor:
    return _binary(Maximum, "maximum", a, b)


def minimum(a: Any, b: Any) -> Tensor:
    return _binary(Minimum, "minimum", a, b)


def square(x: Tensor) -> Tensor:
    return mul(x, x)


def reciprocal(x: Tensor) -> Tensor:
    return div(1.0, x)


# ---------------------------------------------------------------------------- unary
class Neg(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return -x

    def backward(self, g: np.ndarray) -> np.ndarray:
        return -g


class Abs(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return np.abs(x)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * np.sign(self.x)


class Exp(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = np.exp(x)
        return self.out

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * self.out


class Log(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    def backward(self, g: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return g / self.x


class Log1p(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(x)

    def backward(self, g: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return g / (1 + self.x)


class Sqrt(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            self.out = np.sqrt(x)
        return self.out

    def backward(self, g: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return g / (2 * self.out)


class Rsqrt(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            self.out = 1 / np.sqrt(x)
        return self.out

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * (-0.5 * self.out * self.out * self.out)


class Sin(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return np.sin(x)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * np.cos(self.x)


class Cos(Function):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return np.cos(x)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return -g * np.sin(self.x)


class Tanh(Function):
    """tanh; backward from the output: 1 - tanh^2."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = np.tanh(x)
        return self.out

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * (1 - self.out * self.out)


class Sigmoid(Function):
    """sigma(x) = 1 / (1 + e^-x); backward from the output: sigma (1 - sigma)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = kernels.sigmoid(x)
        return self.out

    def backward(self, g: np.ndarray) -> np.ndarray:
        d = 1 - self.out
        d *= self.out
        d *= g
        return d


class Relu(Function):
    """max(0, x); the gradient at 0 is taken as 0 and passes through NaN, as in PyTorch."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.dtype.kind == "f":  # large float arrays split over the CPU pool
            self.out = threadpool.elementwise(lambda o, a: np.maximum(a, 0, out=o), np.empty_like(x), x)
        else:
            self.out = np.maximum(x, 0)
        return self.out

    def backward(self, g: np.ndarray) -> np.ndarray:
        if g.dtype == self.out.dtype and g.dtype.kind == "f":
            return threadpool.elementwise(_relu_grad, np.empty_like(g), g, self.out, passes=2)
        return g * np.logical_not(self.out <= 0)


def _relu_grad(o: np.ndarray, g: np.ndarray, y: np.ndarray) -> None:
    """o = g where y > 0 or y is NaN (NaN passes, as in PyTorch), else 0."""
    np.multiply(g, np.logical_not(y <= 0), out=o)


class Clamp(Function):
    """Clip into [lo, hi]; the gradient passes where lo <= x <= hi."""

    def forward(self, x: np.ndarray, lo: Any, hi: Any) -> np.ndarray:
        self.x, self.lo, self.hi = x, lo, hi
        out = x
        if lo is not None:
            out = np.maximum(out, lo)
        if hi is not None:
            out = np.minimum(out, hi)
        return out.astype(x.dtype, copy=False)

    def backward(self, g: np.ndarray) -> np.ndarray:
        mask = np.ones(self.x.shape, dtype=bool)
        if self.lo is not None:
            mask &= self.x >= self.lo
        if self.hi is not None:
            mask &= self.x <= self.hi
        return g * mask


def _unary(fn: type[Function], name: str) -> Any:
    def op(x: Tensor) -> Tensor:
        return fn.apply(float_input(name, x))

    op.__name__ = name
    op.__doc__ = f"Elementwise {name}, differentiable."
    return op


exp = _unary(Exp, "exp")
log = _unary(Log, "log")
log1p = _unary(Log1p, "log1p")
sqrt = _unary(Sqrt, "sqrt")
rsqrt = _unary(Rsqrt, "rsqrt")
sin = _unary(Sin, "sin")
cos = _unary(Cos, "cos")
tanh = _unary(Tanh, "tanh")
sigmoid = _unary(Sigmoid, "sigmoid")


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def abs(x: Tensor) -> Tensor:
    return Abs.apply(x)


def relu(x: Tensor) -> Tensor:
    return Relu.apply(x)


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    if x.array.dtype.kind in "biu" and (isinstance(min, float) or isinstance(max, float)):
        x = cast(x, default_dtype)  # a float bound makes the result float, as in PyTorch
    return Clamp.apply(x, min, max)


clip = clamp


# ---------------------------------------------------------------------------- where
class Where(Function):
    def forward(self, cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, g: np.ndarray) -> tuple:
        ga = np.where(self.cond, g, 0) if self.needs_input_grad[1] else None
        gb = np.where(self.cond, 0, g) if self.needs_input_grad[2] else None
        return None, ga, gb


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """``where(cond, a, b)``: a where cond is true, else b (gradients flow to the chosen side)."""
    cond = condition if isinstance(condition, Tensor) else Tensor._wrap(np.asarray(condition))
    if input is None and other is None:
        return tuple(Tensor._wrap(i) for i in np.nonzero(cond.array))
    if cond.array.dtype != np.bool_:
        cond = Tensor._wrap(cond.array.astype(bool))
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor._wrap(np.asarray(input, dtype=default_dtype if isinstance(input, float) else None))
    a, b = binary_operands(input, other)
    try:
        return Where.apply(cond, a, b)
    except ValueError as e:
        if "broadcast" not in str(e):
            raise
        raise ValueError(f"where: shapes {cond.shape}, {a.shape} and {b.shape} cannot be broadcast together") from None


# ---------------------------------------------------------------------------- no-grad ops
def _compare(np_op: Any, name: str) -> Any:
    def op(a: Any, b: Any) -> Tensor:
        a, b = binary_operands(a, b)
        try:
            return Tensor._wrap(np.asarray(np_op(a.array, b.array)))
        except ValueError:
            raise ValueError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None

    op.__name__ = name
    op.__doc__ = f"Elementwise {name} (a bool tensor; no gradient)."
    return op


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")
logical_and = _compare(np.logical_and, "logical_and")
logical_or = _compare(np.logical_or, "logical_or")
logical_xor = _compare(np.logical_xor, "logical_xor")
floor_divide = _compare(np.floor_divide, "floor_divide")
remainder = _compare(np.remainder, "remainder")


def logical_not(x: Tensor) -> Tensor:
    return Tensor._wrap(np.logical_not(x.array))


class _Step(Function):
    """A piecewise-constant op (sign, floor, ceil, round): its gradient is zero, as in PyTorch."""

    def forward(self, x: np.ndarray, np_op: Any, *args: Any) -> np.ndarray:
        return np.asarray(np_op(x, *args))

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.zeros_like(g)


def sign(x: Tensor) -> Tensor:
    return _Step.apply(x, np.sign)


def floor(x: Tensor) -> Tensor:
    return _Step.apply(x, np.floor)


def ceil(x: Tensor) -> Tensor:
    return _Step.apply(x, np.ceil)


def round(x: Tensor, decimals: int = 0) -> Tensor:
    return _Step.apply(x, np.round, decimals)
