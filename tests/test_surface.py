"""The PyTorch surface a ported script touches: Tensor methods (and in-place forms), function
aliases, ``__format__``, ``inference_mode``, ``amp``, ``compile`` and module import paths."""

import importlib
import warnings

import numpy as np
import pytest
import torch

import deepling as dl

A = np.array([[0.5, -1.25, 2.0], [-0.75, 1.5, 0.25]], dtype=np.float32)
B = np.array([[1.0, 0.5, -2.0], [0.25, 1.5, -0.5]], dtype=np.float32)

# (method, extra args as a function of the library): each compared on torch and deepling
METHODS = [
    ("abs", ()), ("absolute", ()), ("neg", ()), ("negative", ()), ("positive", ()), ("exp", ()), ("erf", ()),
    ("sigmoid", ()), ("tanh", ()), ("relu", ()), ("sign", ()), ("floor", ()), ("ceil", ()), ("round", ()),
    ("square", ()), ("sin", ()), ("cos", ()), ("clamp_min", (0.0,)), ("clamp_max", (0.5,)),
    ("multiply", ("B",)), ("divide", ("B",)), ("true_divide", ("B",)), ("subtract", ("B",)), ("pow", (2,)),
    ("greater", ("B",)), ("greater_equal", ("B",)), ("less", ("B",)), ("less_equal", ("B",)),
    ("not_equal", ("B",)), ("eq", ("B",)), ("floor_divide", ("B",)), ("remainder", ("B",)),
    ("isinf", ()), ("isnan", ()), ("isclose", ("B",)), ("count_nonzero", ()), ("nonzero", ()), ("argwhere", ()),
    ("ravel", ()), ("tile", ((2, 1),)), ("swapdims", (0, 1)), ("movedim", (1, 0)), ("moveaxis", (0, 1)),
    ("select", (1, 2)), ("narrow", (1, -2, 2)), ("roll", (1, 1)), ("short", ()), ("byte", ()), ("char", ()),
    ("double", ()), ("half", ()), ("cfloat", ()), ("prelu", ("W",)),
]


def _args(lib, args):
    return [lib.tensor(B) if a == "B" else lib.tensor([0.25]) if a == "W" else a for a in args]


@pytest.mark.parametrize("name,args", METHODS, ids=[m for m, _ in METHODS])
def test_methods_match_torch(name, args):
    t = getattr(torch.tensor(A), name)(*_args(torch, args))
    d = getattr(dl.tensor(A), name)(*_args(dl, args))
    assert d.shape == tuple(t.shape)
    assert str(t.dtype).replace("torch.", "") == d.dtype.name.replace("bool_", "bool")
    np.testing.assert_allclose(d.array, t.numpy(), rtol=1e-6, atol=1e-6)


INPLACE = ["abs_", "neg_", "exp_", "sigmoid_", "tanh_", "relu_", "sign_", "floor_", "ceil_", "round_", "square_",
           "sqrt_", "erf_", "reciprocal_", "clamp_min_", "clamp_max_", "pow_", "eq_", "gt_", "lt_", "ne_",
           "logical_not_", "mul_", "div_", "sub_", "multiply_", "subtract_", "tril_", "triu_"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_methods_match_torch(name):
    base = name[:-1]
    args = {"clamp_min": (0.0,), "clamp_max": (0.5,), "pow": (2,), "eq": ("B",), "gt": ("B",), "lt": ("B",),
            "ne": ("B",), "mul": ("B",), "div": ("B",), "sub": ("B",), "multiply": ("B",), "subtract": ("B",)}.get(base, ())
    a = np.abs(A) if name in ("sqrt_",) else A
    t, d = torch.tensor(a), dl.tensor(a)
    rt, rd = getattr(t, name)(*_args(torch, args)), getattr(d, name)(*_args(dl, args))
    assert rt is t and rd is d
    np.testing.assert_allclose(d.array, t.numpy(), rtol=1e-6, atol=1e-6)
    assert d.dtype == np.float32


def test_inplace_methods_flow_gradients_through_non_leaves():
    for lib in (torch, dl):
        x = lib.tensor(A, requires_grad=True)
        y = x * 2
        y.pow_(2).neg_().tanh_()
        y.sum().backward()
        if lib is torch:
            want = x.grad.numpy()
        else:
            np.testing.assert_allclose(x.grad.array, want, rtol=1e-5)


def test_inplace_shape_methods():
    for lib in (torch, dl):
        x = lib.zeros(2, 3)
        x.unsqueeze_(0)
        assert tuple(x.shape) == (1, 2, 3)
        x.squeeze_()
        x.t_()
        assert tuple(x.shape) == (3, 2)
        x.transpose_(0, 1)
        assert tuple(x.shape) == (2, 3)


def test_attributes_match_torch():
    t, d = torch.tensor(A), dl.tensor(A)
    assert d.stride() == t.stride() and d.T.stride() == t.T.stride()
    assert d.itemsize == t.itemsize and d.nbytes == t.nbytes and d.is_cpu and t.is_cpu
    assert d.ndimension() == t.ndimension() and d.nelement() == t.nelement()
    assert d.is_contiguous() and not d.T.is_contiguous() and not t.T.is_contiguous()
    assert d.is_signed() == t.is_signed() and d.is_complex() == t.is_complex() is False
    assert d.is_inference() is False and d.is_same_size(dl.ones(2, 3))
    assert d.allclose(dl.tensor(A) + 1e-9) and d.equal(dl.tensor(A)) and not d.equal(dl.tensor(B))
    assert d.new_empty(4, 2).shape == (4, 2) and d.new_empty(4).dtype == d.dtype
    y = dl.ones(2, requires_grad=True) * 2
    y.retain_grad()
    assert y.retains_grad


FUNCTIONS = ["isnan", "isinf", "isfinite", "nonzero", "count_nonzero", "ravel", "absolute", "negative", "numel",
             "t", "all", "any"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_of_methods_match_torch(name):
    t, d = getattr(torch, name)(torch.tensor(A)), getattr(dl, name)(dl.tensor(A))
    np.testing.assert_array_equal(np.asarray(d.array if isinstance(d, dl.Tensor) else d), np.asarray(t))


def test_every_torch_method_deepling_has_as_a_function_is_a_method():
    # the sweep: a name that deepling has as a function and PyTorch as a Tensor method is a method too
    ns = {n for n in dir(dl) if not n.startswith("_") and callable(getattr(dl, n))}
    missing = [n for n in dir(torch.Tensor) if not n.startswith("_") and n in ns and not hasattr(dl.Tensor, n)]
    assert missing == []


def test_format_as_torch():
    for spec in (".2f", ".4e", "", "8.3f", ">10"):
        assert format(dl.tensor(1.23456), spec) == format(torch.tensor(1.23456), spec)
    assert "{:.2f}".format(dl.tensor(3.14159)) == "3.14"  # noqa: UP032  (the spelling scripts use)
    assert f"{dl.tensor(7)}" == "7" and f"{dl.tensor(7):03d}" == f"{torch.tensor(7):03d}"
    assert f"{dl.ones(2)}" == repr(dl.ones(2))
    with pytest.raises(TypeError):
        f"{torch.ones(2):.2f}"
    with pytest.raises(TypeError, match="0-d"):
        f"{dl.ones(2):.2f}"


def test_inference_mode_as_context_and_decorator():
    x = dl.ones(2, requires_grad=True)
    with dl.inference_mode():
        assert not (x * 2).requires_grad
    with dl.inference_mode(False):
        assert (x * 2).requires_grad

    @dl.inference_mode()
    def f(v):
        return v * 2

    @dl.inference_mode
    def g(v):
        return v * 2

    assert not f(x).requires_grad and not g(x).requires_grad and dl.is_grad_enabled()
    assert (x * 2).requires_grad and dl.is_inference_mode_enabled() is False


def test_amp_autocast_and_grad_scaler():
    x = dl.ones(2, requires_grad=True)
    with dl.autocast("cuda", enabled=False), dl.amp.autocast(device_type="cpu", enabled=False):
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="no mixed precision"):
        dl.autocast("cpu", dtype=dl.bfloat16)
    with pytest.warns(UserWarning, match="disabled"):
        scaler = dl.amp.GradScaler("cuda")
    opt = dl.optim.SGD([x], lr=0.5)
    scaler.scale(y).backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    np.testing.assert_allclose(x.array, [0.0, 0.0])
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0


def test_compile_returns_the_model_and_warns_once():
    import deepling.compiler as compiler

    compiler._warned = False
    m = dl.nn.Linear(2, 2)
    with pytest.warns(UserWarning, match="no compiler"):
        assert dl.compile(m) is m
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dl.compile(m, mode="max-autotune") is m

        @dl.compile(fullgraph=True)
        def f(v):
            return v

        assert f(3) == 3


PATHS = [
    ("nn.modules.linear", "Linear"), ("nn.modules.conv", "Conv2d"), ("nn.modules.activation", "ReLU"),
    ("nn.modules.activation", "MultiheadAttention"), ("nn.modules.loss", "CrossEntropyLoss"),
    ("nn.modules.container", "Sequential"), ("nn.modules.dropout", "Dropout"), ("nn.modules.batchnorm", "BatchNorm2d"),
    ("nn.modules.normalization", "LayerNorm"), ("nn.modules.pooling", "MaxPool2d"), ("nn.modules.rnn", "LSTM"),
    ("nn.modules.sparse", "Embedding"), ("nn.modules.transformer", "TransformerEncoderLayer"),
    ("nn.modules.module", "Module"), ("nn.modules.flatten", "Flatten"), ("nn.modules", "Linear"),
    ("utils.data.dataloader", "DataLoader"), ("utils.data.dataloader", "default_collate"),
    ("utils.data.dataset", "Dataset"), ("utils.data.dataset", "TensorDataset"), ("utils.data.sampler", "RandomSampler"),
    ("utils.data.sampler", "BatchSampler"), ("backends.cudnn", "is_available"), ("serialization", "save"),
]


@pytest.mark.parametrize("path,name", PATHS)
def test_pytorch_module_paths(path, name):
    assert hasattr(importlib.import_module("torch." + path), name)
    d = getattr(importlib.import_module("deepling." + path), name)
    short = {"nn": dl.nn, "utils": dl.utils.data, "backends": dl.backends.cudnn, "serialization": dl}[path.split(".")[0]]
    assert d is getattr(short, name)
