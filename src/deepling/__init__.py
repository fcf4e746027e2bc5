"""deepling: a deep learning framework on NumPy with reverse-mode autograd and a PyTorch-shaped API.

``import deepling as torch`` is meant to be enough for most small PyTorch scripts.
"""

import builtins as _builtins

from deepling import (
    autograd,
    data,
    nn,  # noqa: E402
    onnx,
    optim,
    utils,
)
from deepling.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from deepling.creation import (
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
from deepling.ops.activation import erf, log_softmax, softmax  # nn
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
    ge,
    gt,
    le,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    reciprocal,
    relu,
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
    scatter_add,
    split,
    squeeze,
    stack,
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
    bool_,
    default_dtype,
    float16,
    float32,
    float64,
    int32,
    int64,
    uint8,
)
from deepling.viz.summary import summary

bool = bool_  # noqa: A001  (PyTorch spells it deepling.bool)
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001

__version__ = "0.1.0"


def is_tensor(obj: object) -> _builtins.bool:
    return isinstance(obj, Tensor)


def numel(x: Tensor) -> _builtins.int:
    return x.numel()
