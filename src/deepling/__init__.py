"""deepling: a deep learning framework on NumPy with reverse-mode autograd and a PyTorch-shaped API.

``import deepling as torch`` is meant to be enough for most small PyTorch scripts.
"""

import builtins as _builtins
from typing import Any

import numpy as _np

from deepling import (
    accelerator,
    amp,
    autograd,
    backends,
    cuda,
    data,
    distributed,
    nn,  # noqa: E402
    onnx,
    optim,
    utils,
    xpu,
)
from deepling.amp import autocast
from deepling.autograd import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from deepling.compiler import compile
from deepling.creation import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from deepling.devices import cpu_device as _cpu_device
from deepling.devices import device
from deepling.devices import resolve as _resolve_device
from deepling.ops.activation import erf, log_softmax, softmax  # nn
from deepling.ops.composite import (
    addcdiv,
    addcmul,
    addmm,
    aminmax,
    diag,
    fix,
    fliplr,
    flipud,
    frac,
    ger,
    index_add,
    index_copy,
    index_fill,
    isneginf,
    isposinf,
    lerp,
    log2,
    log10,
    mv,
    outer,
    repeat_interleave,
    signbit,
    split_with_sizes,
    take,
    tan,
    trace,
    trunc,
    unique,
)
from deepling.ops.elementwise import (
    abs,
    add,
    ceil,
    clamp,
    clip,
    clone,
    cos,
    div,
    eq,
    exp,
    floor,
    floor_divide,
    ge,
    gt,
    le,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    reciprocal,
    relu,
    remainder,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    sub,
    tanh,
    where,
)
from deepling.ops.matmul import bmm, dot, matmul, mm
from deepling.ops.reduce import (
    amax,
    amin,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    sum,
    var,
    var_mean,
)
from deepling.ops.shape import (
    argsort,
    cat,
    chunk,
    concat,
    expand,
    flatten,
    flip,
    gather,
    index_select,
    masked_fill,
    narrow,
    permute,
    repeat,
    reshape,
    roll,
    scatter,
    scatter_add,
    sort,
    split,
    squeeze,
    stack,
    take_along_dim,
    topk,
    transpose,
    tril,
    triu,
    unbind,
    unflatten,
    unsqueeze,
)
from deepling.random import Generator, get_rng_state, manual_seed, seed, set_rng_state
from deepling.runtime import get_num_threads, set_num_threads, tune_malloc
from deepling.serialization import load, save
from deepling.tensor import (  # noqa: I001  (tensor first: the ops import it)
    Tensor,
    as_dtype,
    bfloat16,
    bool_,
    complex64,
    complex128,
    default_dtype,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    uint8,
    uint16,
    uint32,
    uint64,
)
from deepling.viz.summary import summary

bool = bool_  # noqa: A001  (PyTorch spells it deepling.bool)
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16
cfloat = complex64
cdouble = complex128

__version__ = "0.1.0"


def is_tensor(obj: object) -> _builtins.bool:
    return isinstance(obj, Tensor)


class Size(tuple):
    """``deepling.Size([2, 3])``: a shape, as ``torch.Size`` (a tuple; ``Tensor.shape`` returns a plain tuple)."""

    def numel(self) -> _builtins.int:
        return _builtins.int(_np.prod(self, dtype=_np.int64))

    def __repr__(self) -> str:
        return f"deepling.Size({list(self)})"


def get_default_device() -> device:
    return _cpu_device


def set_default_device(dev: Any) -> None:
    """Only the CPU exists: ``set_default_device('cpu')`` is accepted, any other device raises."""
    _resolve_device(dev, "set_default_device")


def get_default_dtype() -> Any:
    """The dtype Python floats become (float32, as in PyTorch)."""
    return default_dtype


def is_floating_point(x: Tensor) -> _builtins.bool:
    return x.is_floating_point()


def finfo(dtype: Any = None) -> Any:
    """Machine limits of a float dtype (``eps``, ``max``, ``tiny``, ...), as ``torch.finfo``."""
    return _np.finfo(as_dtype(default_dtype if dtype is None else dtype))


def iinfo(dtype: Any) -> Any:
    """Limits of an integer dtype (``min``, ``max``, ``bits``), as ``torch.iinfo``."""
    return _np.iinfo(as_dtype(dtype))


def _method_function(name: str) -> Any:
    def function(input: Tensor, *args: Any, **kwargs: Any) -> Any:
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``deepling.{name}(x, ...)`` is ``x.{name}(...)``."
    return function


# PyTorch has these both as functions and as Tensor methods; deepling writes each once, as a method.
for _name in (
    "isnan", "isinf", "isfinite", "isclose", "allclose", "equal", "nonzero", "argwhere", "count_nonzero",
    "masked_select", "select", "movedim", "moveaxis", "swapdims", "swapaxes", "tile", "ravel", "t",
    "clamp_min", "clamp_max", "absolute", "negative", "positive", "multiply", "divide", "true_divide",
    "subtract", "greater", "greater_equal", "less", "less_equal", "not_equal", "all", "any", "numel",
    "sgn", "conj", "is_nonzero",
):
    if _name not in globals() or _name == "numel":
        globals()[_name] = _method_function(_name)
del _name
