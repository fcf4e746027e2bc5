"""Export by tracing: run the model once on example inputs and record what it computes.

Two levels of recording, both active only inside ``export`` (the classes are patched for the call
and restored after, so an ordinary forward pass costs nothing extra):

* **layers**: a call of a known ``nn`` layer (``Linear``, ``Conv2d``, ``LSTM``, ...) becomes its ONNX
  node(s) directly (``Gemm``, ``Conv``, ``LSTM``...) with the layer's parameters as initializers
  named by their ``state_dict`` keys; the ops inside the layer are not recorded;
* **ops**: outside those layers, each ``Function.apply`` (``x + y``, ``reshape``, fused attention,
  GPT's fused MLP...) becomes ONNX nodes through a converter for its ``Function`` class.

A tensor that is neither an input, a traced result nor a parameter is a constant of the graph.
A layer or op with no conversion stops the export with an ``ExportError`` naming it (and the
module it ran in). The trace runs in eval mode (dropout off, BatchNorm on its running
statistics), as PyTorch's exporter does by default. The batch axis (0) of inputs and outputs can be dynamic; other axes are fixed by the
example inputs.

Recurrent layers map onto ONNX's ``RNN``/``GRU``/``LSTM`` ops, with the gate blocks reordered:
PyTorch stores LSTM gates ``i, f, g, o`` and ONNX expects ``i, o, f, c``; PyTorch's GRU ``r, z, n``
becomes ONNX's ``z, r, h`` with ``linear_before_reset=1`` (PyTorch applies the reset gate after the
hidden-side matrix product).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from deepling.autograd import Function, no_grad
from deepling.tensor import Tensor

__all__ = ["export", "ExportError", "DEFAULT_OPSET", "SUPPORTED_OPSETS"]

DEFAULT_OPSET = 17
SUPPORTED_OPSETS = range(17, 22)  # LayerNormalization needs 17; onnxruntime 1.32 runs up to 21 and beyond


class ExportError(ValueError):
    """The model (or a layer or op in it) cannot be expressed in ONNX by deepling's exporter."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError("deepling.onnx.export needs the 'onnx' package: pip install 'deepling[interop]'") from None
    return onnx


# ============================================================================================ the graph
class _Graph:
    """ONNX nodes and initializers being collected, and the name of every traced tensor."""

    def __init__(self, onnx: Any, param_names: dict[int, str]) -> None:
        self.onnx, self.helper = onnx, onnx.helper
        self.nodes: list[Any] = []
        self.initializers: dict[str, Any] = {}
        self.names: dict[int, tuple[str, Tensor]] = {}  # id(tensor) -> (value name, tensor kept alive)
        self.param_names = param_names                  # id(parameter array) -> state_dict key
        self.counter = 0
        self.module_stack: list[str] = []

    def fresh(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}_{self.counter}"

    def const(self, array: Any, hint: str = "const") -> str:
        a = np.asarray(array)
        name = self.fresh(hint)
        self.initializers[name] = self.onnx.numpy_helper.from_array(np.array(a, order="C"), name)  # keeps 0-d arrays 0-d
        return name

    def ints(self, values: Sequence[int], hint: str = "shape") -> str:
        return self.const(np.asarray(list(values), dtype=np.int64), hint)

    def name(self, t: Any) -> str:
        """The value name of ``t``: a traced tensor, a parameter (initializer by its state_dict key) or a constant."""
        if not isinstance(t, Tensor):
            return self.const(np.asarray(t), "scalar")
        entry = self.names.get(id(t))
        if entry is not None:
            return entry[0]
        key = self.param_names.get(id(t.array))
        if key is not None:
            if key not in self.initializers:
                self.initializers[key] = self.onnx.numpy_helper.from_array(np.array(t.array, order="C"), key)
            return key
        return self.const(t.array, "const")

    def param(self, t: Tensor | None, fallback: np.ndarray | None = None, hint: str = "param") -> str:
        if t is None:
            return self.const(fallback, hint)
        return self.name(t)

    def set(self, t: Tensor, name: str) -> None:
        self.names[id(t)] = (name, t)

    def node(self, op: str, inputs: Sequence[str], n_out: int = 1, **attrs: Any) -> list[str]:
        outs = [self.fresh(op.lower()) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op, list(inputs), outs, **attrs))
        return outs

    def emit(self, op: str, inputs: Sequence[str], out: Tensor | None = None, **attrs: Any) -> str:
        """One node with one output; names ``out`` after it when given."""
        name = self.node(op, inputs, **attrs)[0]
        if out is not None:
            self.set(out, name)
        return name

    def where(self) -> str:
        return f" (in module {self.module_stack[-1]})" if self.module_stack else ""


def _fail(what: str, why: str) -> ExportError:
    return ExportError(f"deepling.onnx.export: cannot export {what}: {why}")


# ============================================================================================ layers
_LAYERS: dict[type, Callable[..., None]] = {}


def _layer(*names: str) -> Callable:
    def register(fn: Callable) -> Callable:
        for n in names:
            _LAYERS[n] = fn  # type: ignore[index]
        return fn

    return register


def _pairs(v: Any) -> list[int]:
    return list(v) if isinstance(v, tuple | list) else [int(v), int(v)]


@_layer("Linear")
def _linear(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    x = args[0]
    w = g.name(m.weight)
    if x.ndim == 2:
        ins = [g.name(x), w] + ([g.name(m.bias)] if m.bias is not None else [])
        g.emit("Gemm", ins, out, transB=1)
        return
    y = g.emit("MatMul", [g.name(x), g.emit("Transpose", [w], perm=[1, 0])])
    g.set(out, g.emit("Add", [y, g.name(m.bias)]) if m.bias is not None else y)


@_layer("TiedLinear")
def _tied_linear(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    y = g.emit("MatMul", [g.name(args[0]), g.name(m.weight)])
    g.set(out, g.emit("Add", [y, g.name(m.bias)]) if m.bias is not None else y)


@_layer("Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout")
def _identity(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    g.emit("Identity", [g.name(args[0])], out)


_UNARY = {"ReLU": "Relu", "Tanh": "Tanh", "Sigmoid": "Sigmoid", "Softsign": "Softsign"}


@_layer("ReLU", "Tanh", "Sigmoid", "Softsign")
def _unary_layer(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    g.emit(_UNARY[type(m).__name__], [g.name(args[0])], out)


@_layer("LeakyReLU")
def _leaky(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    g.emit("LeakyRelu", [g.name(args[0])], out, alpha=float(m.negative_slope))


@_layer("ELU")
def _elu(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    g.emit("Elu", [g.name(args[0])], out, alpha=float(m.alpha))


@_layer("SiLU")
def _silu(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    x = g.name(args[0])
    g.emit("Mul", [x, g.emit("Sigmoid", [x])], out)


def _gelu(g: _Graph, x: str, approximate: str, dtype: np.dtype) -> str:
    """GELU from basic ops: erf form ``x/2 (1 + erf(x/sqrt 2))`` or tanh form ``x/2 (1 + tanh(k (x + c x^3)))``."""
    c = lambda v: g.const(np.asarray(v, dtype=dtype))  # noqa: E731
    if approximate == "tanh":
        x3 = g.emit("Mul", [g.emit("Mul", [x, x]), x])
        inner = g.emit("Mul", [g.emit("Add", [x, g.emit("Mul", [x3, c(0.044715)])]), c(math.sqrt(2 / math.pi))])
        t = g.emit("Tanh", [inner])
    else:
        t = g.emit("Erf", [g.emit("Div", [x, c(math.sqrt(2.0))])])
    return g.emit("Mul", [g.emit("Mul", [x, c(0.5)]), g.emit("Add", [t, c(1.0)])])


@_layer("GELU")
def _gelu_layer(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    g.set(out, _gelu(g, g.name(args[0]), m.approximate, args[0].dtype))


@_layer("Softmax", "LogSoftmax")
def _softmax_layer(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    if m.dim is None:
        raise _fail(type(m).__name__, "give dim explicitly")
    g.emit(type(m).__name__, [g.name(args[0])], out, axis=int(m.dim))


@_layer("Flatten")
def _flatten_layer(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    x = args[0]
    if m.start_dim == 1 and m.end_dim in (-1, x.ndim - 1):
        g.emit("Flatten", [g.name(x)], out, axis=1)
    else:
        _reshape(g, x, out)


@_layer("Conv1d", "Conv2d")
def _conv(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    if m.padding_mode != "zeros":
        raise _fail(f"{type(m).__name__}(padding_mode={m.padding_mode!r})", "only zero padding is exported")
    x = args[0]
    if x.ndim != len(m.kernel_size) + 2:
        raise _fail(type(m).__name__, f"unbatched input of shape {x.shape}; export with a batch dimension")
    if isinstance(m.padding, str):
        if m.padding == "valid":
            pads = [0] * (2 * len(m.kernel_size))
        else:  # 'same' (stride 1): total padding d (k - 1), the extra one at the end, as PyTorch
            tot = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
            pads = [t // 2 for t in tot] + [t - t // 2 for t in tot]
    else:
        pads = list(m.padding) * 2
    ins = [g.name(x), g.name(m.weight)] + ([g.name(m.bias)] if m.bias is not None else [])
    g.emit("Conv", ins, out, kernel_shape=list(m.kernel_size), strides=list(m.stride), pads=pads,
           dilations=list(m.dilation), group=int(m.groups))


@_layer("ConvTranspose2d")
def _conv_t(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    if len(args) > 1 and args[1] is not None:
        raise _fail("ConvTranspose2d(output_size=...)", "pass output_padding at construction instead")
    ins = [g.name(args[0]), g.name(m.weight)] + ([g.name(m.bias)] if m.bias is not None else [])
    g.emit("ConvTranspose", ins, out, kernel_shape=list(m.kernel_size), strides=list(m.stride),
           pads=list(m.padding) * 2, output_padding=list(m.output_padding), dilations=list(m.dilation),
           group=int(m.groups))


@_layer("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def _batchnorm(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    if m.training or m.running_mean is None:
        raise _fail(f"{type(m).__name__}{g.where()}", "it normalizes with batch statistics (call model.eval() "
                    "first; track_running_stats=False layers cannot be exported)")
    c, dt = m.num_features, args[0].dtype
    ins = [g.name(args[0]), g.param(m.weight, np.ones(c, dt), "bn_scale"), g.param(m.bias, np.zeros(c, dt), "bn_bias"),
           g.name(m.running_mean), g.name(m.running_var)]
    g.emit("BatchNormalization", ins, out, epsilon=float(m.eps))


@_layer("LayerNorm")
def _layernorm(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    shape, dt = tuple(m.normalized_shape), args[0].dtype
    ins = [g.name(args[0]), g.param(m.weight, np.ones(shape, dt), "ln_scale"),
           g.param(m.bias, np.zeros(shape, dt), "ln_bias")]
    g.emit("LayerNormalization", ins, out, axis=-len(shape), epsilon=float(m.eps))


@_layer("MaxPool2d")
def _maxpool(g: _Graph, m: Any, args: tuple, out: Any) -> None:
    if m.return_indices:
        raise _fail("MaxPool2d(return_indices=True)", "indices have no ONNX equivalent here")
    g.emit("MaxPool", [g.name(args[0])], out, kernel_shape=_pairs(m.kernel_size), strides=_pairs(m.stride),
           pads=_pairs(m.padding) * 2, dilations=_pairs(m.dilation), ceil_mode=int(bool(m.ceil_mode)))


@_layer("AvgPool2d")
def _avgpool(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    if m.divisor_override is not None:
        raise _fail("AvgPool2d(divisor_override=...)", "no ONNX equivalent")
    g.emit("AveragePool", [g.name(args[0])], out, kernel_shape=_pairs(m.kernel_size), strides=_pairs(m.stride),
           pads=_pairs(m.padding) * 2, ceil_mode=int(bool(m.ceil_mode)),
           count_include_pad=int(bool(m.count_include_pad)))


@_layer("AdaptiveAvgPool2d")
def _adaptive_avg(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    x = args[0]
    h, w = x.shape[-2:]
    oh, ow = out.shape[-2:]
    if (oh, ow) == (1, 1):
        g.emit("GlobalAveragePool", [g.name(x)], out)
    elif h % oh == 0 and w % ow == 0:  # equal windows: a plain average pool
        k = [h // oh, w // ow]
        g.emit("AveragePool", [g.name(x)], out, kernel_shape=k, strides=k)
    else:
        raise _fail(f"AdaptiveAvgPool2d{g.where()}", f"input {h}x{w} is not a multiple of the output {oh}x{ow}")


@_layer("Embedding")
def _embedding(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    if m.max_norm is not None:
        raise _fail("Embedding(max_norm=...)", "renormalization has no ONNX equivalent")
    g.emit("Gather", [g.name(m.weight), g.name(args[0])], out, axis=0)


@_layer("LearnedPositionalEmbedding")
def _pos_embedding(g: _Graph, m: Any, args: tuple, out: Tensor) -> None:
    x = args[0]
    if not m.batch_first:
        raise _fail("LearnedPositionalEmbedding(batch_first=False)", "only batch-first input is exported")
    T = x.shape[1]
    pos = g.emit("Slice", [g.name(m.weight), g.ints([0]), g.ints([T]), g.ints([0])])
    g.emit("Add", [g.name(x), pos], out)


_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _gates(w: np.ndarray, mode: str, hidden: int) -> np.ndarray:
    """Reorder PyTorch's stacked gate blocks (rows) into ONNX's order."""
    blocks = [w[i * hidden:(i + 1) * hidden] for i in range(len(_GATE_ORDER[mode]))]
    return np.concatenate([blocks[i] for i in _GATE_ORDER[mode]], axis=0)


@_layer("RNN", "GRU", "LSTM")
def _recurrent(g: _Graph, m: Any, args: tuple, out: Any) -> None:
    if m.proj_size:
        raise _fail("LSTM(proj_size=...)", "projections have no ONNX equivalent")
    x, hx = args[0], (args[1] if len(args) > 1 else None)
    if x.ndim != 3:
        raise _fail(type(m).__name__, f"unbatched input of shape {x.shape}; export with a batch dimension")
    mode = m.mode  # LSTM, GRU, RNN_TANH or RNN_RELU
    op = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    H, D = m.hidden_size, m.num_directions
    y, h0, c0 = out[0], *(out[1] if isinstance(out[1], tuple) else (out[1], None))
    hx_h, hx_c = (hx if isinstance(hx, tuple) else (hx, None)) if hx is not None else (None, None)
    seq = g.emit("Transpose", [g.name(x)], perm=[1, 0, 2]) if m.batch_first else g.name(x)  # ONNX wants (T, N, I)
    finals_h, finals_c = [], []
    for layer in range(m.num_layers):
        Ws, Rs, Bs = [], [], []
        for d in range(D):
            w_ih, w_hh, b_ih, b_hh, _ = (getattr(m, n).array if n else None for n in m._names[layer * D + d])
            Ws.append(_gates(w_ih, mode, H))
            Rs.append(_gates(w_hh, mode, H))
            if b_ih is not None:
                Bs.append(np.concatenate([_gates(b_ih[:, None], mode, H)[:, 0], _gates(b_hh[:, None], mode, H)[:, 0]]))
        ins = [seq, g.const(np.stack(Ws), f"{op}_W_l{layer}"), g.const(np.stack(Rs), f"{op}_R_l{layer}"),
               g.const(np.stack(Bs), f"{op}_B_l{layer}") if Bs else "", ""]
        sl = [g.ints([layer * D]), g.ints([(layer + 1) * D]), g.ints([0])]
        ins.append(g.emit("Slice", [g.name(hx_h), *sl]) if hx_h is not None else "")
        if op == "LSTM":
            ins.append(g.emit("Slice", [g.name(hx_c), *sl]) if hx_c is not None else "")
        attrs: dict[str, Any] = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
        if op == "GRU":
            attrs["linear_before_reset"] = 1
        if op == "RNN":
            attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * D
        while ins and ins[-1] == "":
            ins.pop()
        outs = g.node(op, ins, n_out=3 if op == "LSTM" else 2, **attrs)
        # Y (T, D, N, H) -> (T, N, D, H) -> (T, N, D*H)
        seq = g.emit("Reshape", [g.emit("Transpose", [outs[0]], perm=[0, 2, 1, 3]), g.ints([0, 0, -1])])
        finals_h.append(outs[1])
        if op == "LSTM":
            finals_c.append(outs[2])
    g.set(y, g.emit("Transpose", [seq], perm=[1, 0, 2]) if m.batch_first else seq)
    g.set(h0, g.emit("Concat", finals_h, axis=0) if len(finals_h) > 1 else g.emit("Identity", finals_h))
    if c0 is not None:
        g.set(c0, g.emit("Concat", finals_c, axis=0) if len(finals_c) > 1 else g.emit("Identity", finals_c))


# ============================================================================================ ops
_OPS: dict[str, Callable[..., None]] = {}


def _op(*names: str) -> Callable:
    def register(fn: Callable) -> Callable:
        for n in names:
            _OPS[n] = fn
        return fn

    return register


@_op("Add", "Sub", "Mul", "Div", "Maximum", "Minimum", "Pow")
def _binary(g: _Graph, fn: type, args: tuple, kwargs: dict, out: Tensor) -> None:
    op = {"Maximum": "Max", "Minimum": "Min"}.get(fn.__name__, fn.__name__)
    g.emit(op, [g.name(args[0]), g.name(args[1])], out)


@_op("Neg", "Exp", "Log", "Sqrt", "Abs", "Tanh", "Sigmoid", "Relu", "Erf", "Sin", "Cos", "Clone")
def _unary(g: _Graph, fn: type, args: tuple, kwargs: dict, out: Tensor) -> None:
    g.emit({"Clone": "Identity"}.get(fn.__name__, fn.__name__), [g.name(args[0])], out)


@_op("Cast")
def _cast(g: _Graph, fn: type, args: tuple, kwargs: dict, out: Tensor) -> None:
    g.emit("Cast", [g.name(args[0])], out, to=int(g.helper.np_dtype_to_tensor_dtype(out.dtype)))


def _reshape(g: _Graph, x: Tensor, out: Tensor) -> None:
    shape = list(out.shape)
    if x.ndim and shape and x.shape[0] == shape[0]:
        shape[0] = 0  # keep the (dynamic) batch dimension: ONNX's 0 copies it from the input
    g.emit("Reshape", [g.name(x), g.ints(shape)], out)


@_op("Reshape")
def _reshape_op(g: _Graph, fn: type, args: tuple, kwargs: dict, out: Tensor) -> None:
    _reshape(g, args[0], out)


@_op("Permute")
def _permute(g: _Graph, fn: type, args: tuple, kwargs: dict, out: Tensor) -> None:
    perm = [int(p) % args[0].ndim for p in args[1]]
    g.emit("Transpose", [g.name(args[0])], out, perm=perm)


@_op("MatMul")
def _matmul(g: _Graph, fn: type, args: tuple, kwargs: dict, out: Tensor) -> None:
    g.emit("MatMul", [g.name(args[0]), g.name(args[1])], out)


@_op("Linear")
def _linear_op(g: _Graph, fn: type, args: tuple, kwargs: dict, out: Tensor) -> None:
    x, w = args[0], args[1]
    b = args[2] if len(args) > 2 else None
    y = g.emit("MatMul", [g.name(x), g.emit("Transpose", [g.name(w)], perm=[1, 0])])
    g.set(out, g.emit("Add", [y, g.name(b)]) if isinstance(b, Tensor) else y)


@_op("PackedSelfAttention")
def _packed_attention(g: _Graph, fn: type, args: tuple, kwargs: dict, out: Tensor) -> None:
    qkv = args[0]
    mask = args[1] if len(args) > 1 else None
    if kwargs.get("dropout_p", 0.0):
        raise _fail("attention dropout", "export in eval mode")
    N, T, E3 = qkv.shape
    H = kwargs["num_heads"]
    E, hd, dt = E3 // 3, E3 // 3 // H, qkv.dtype
    heads = g.emit("Transpose", [g.emit("Reshape", [g.name(qkv), g.ints([0, T, 3, H, hd])])], perm=[2, 0, 3, 1, 4])
    q, k, v = (g.emit("Gather", [heads, g.const(np.asarray(i, dtype=np.int64))], axis=0) for i in range(3))
    scores = g.emit("Mul", [g.emit("MatMul", [q, g.emit("Transpose", [k], perm=[0, 1, 3, 2])]),
                            g.const(np.asarray(1.0 / math.sqrt(hd), dtype=dt))])
    if kwargs.get("is_causal"):
        causal = np.where(np.tril(np.ones((T, T), dtype=bool)), 0.0, -np.inf).astype(dt)
        scores = g.emit("Add", [scores, g.const(causal, "causal_mask")])
    if mask is not None:
        if mask.dtype == np.bool_:
            scores = g.emit("Where", [g.name(mask), scores, g.const(np.asarray(-np.inf, dtype=dt))])
        else:
            scores = g.emit("Add", [scores, g.name(mask)])
    att = g.emit("MatMul", [g.emit("Softmax", [scores], axis=-1), v])
    g.emit("Reshape", [g.emit("Transpose", [att], perm=[0, 2, 1, 3]), g.ints([0, T, E])], out)


@_op("_GeluMLP")
def _gelu_mlp(g: _Graph, fn: type, args: tuple, kwargs: dict, out: Tensor) -> None:
    x, w1, b1, w2, b2 = args
    h = g.emit("Add", [g.emit("MatMul", [g.name(x), g.emit("Transpose", [g.name(w1)], perm=[1, 0])]), g.name(b1)])
    a = _gelu(g, h, "tanh", x.dtype)
    g.emit("Add", [g.emit("MatMul", [a, g.emit("Transpose", [g.name(w2)], perm=[1, 0])]), g.name(b2)], out)


# ============================================================================================ tracing
def _ours(cls: type) -> bool:
    """Converters are keyed by class name, and apply to deepling's own classes only (a user's class
    that happens to be called ``Linear`` is traced through its ops instead)."""
    return cls.__module__.startswith("deepling.")


class _Tracer:
    """Patches ``Module.__call__`` and ``Function.apply`` for the duration of one export."""

    def __init__(self, g: _Graph, model: Any) -> None:
        from deepling.nn.module import Module

        self.g, self.Module = g, Module
        self.paths = {id(m): (name or type(m).__name__) for name, m in model.named_modules()}
        self.depth_in_layer = 0

    def __enter__(self) -> _Tracer:
        Module, tracer = self.Module, self
        self.orig_call, self.orig_apply = Module.__call__, Function.__dict__["apply"]
        orig_call, orig_apply = self.orig_call, self.orig_apply.__func__

        def call(m: Any, *args: Any, **kwargs: Any) -> Any:
            conv = _LAYERS.get(type(m).__name__) if tracer.depth_in_layer == 0 and _ours(type(m)) else None
            if m.__dict__.get("_forward_hooks") or m.__dict__.get("_forward_pre_hooks"):
                conv = None  # hooks may change inputs or outputs: trace the layer through its ops instead
            tracer.g.module_stack.append(f"{tracer.paths.get(id(m), type(m).__name__)!r} ({type(m).__name__})")
            try:
                if conv is None:
                    return orig_call(m, *args, **kwargs)
                tracer.depth_in_layer += 1
                try:
                    out = orig_call(m, *args, **kwargs)
                finally:
                    tracer.depth_in_layer -= 1
                conv(tracer.g, m, args, out)
                return out
            finally:
                tracer.g.module_stack.pop()

        def apply(cls: type, *args: Any, **kwargs: Any) -> Any:
            out = orig_apply(cls, *args, **kwargs)
            if tracer.depth_in_layer == 0:
                conv = _OPS.get(cls.__name__) if _ours(cls) else None
                if conv is None:
                    raise _fail(f"op {cls.__name__}{tracer.g.where()}", "no ONNX conversion for it (supported ops: "
                                f"{', '.join(sorted(_OPS))}; layers: {', '.join(sorted(_LAYERS))})")
                conv(tracer.g, cls, args, kwargs, out)
            return out

        Module.__call__ = call  # type: ignore[method-assign]
        Function.apply = classmethod(apply)  # type: ignore[assignment,method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.Module.__call__ = self.orig_call  # type: ignore[method-assign]
        Function.apply = self.orig_apply  # type: ignore[method-assign]


def _flat_tensors(obj: Any, what: str) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, tuple | list):
        return [t for o in obj for t in _flat_tensors(o, what)]
    raise TypeError(f"deepling.onnx.export: {what} must be Tensors or tuples of them, got {type(obj).__name__}")


def export(model: Any, args: Any, f: Any, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None, dynamic_axes: dict[str, Any] | None = None,
           opset_version: int | None = None, export_params: bool = True, verbose: bool = False,
           do_constant_folding: bool = True, **_: Any) -> Any:
    """Trace ``model(*args)`` once and write the ONNX model to ``f`` (a path, written atomically, or a
    binary file object); returns the ``onnx.ModelProto``.

    ``args``: a Tensor or a tuple of Tensors (integer tensors for token ids). ``input_names`` /
    ``output_names`` name the graph's inputs and outputs (default ``input``/``output``, numbered
    when there are several). ``dynamic_axes`` maps a name to the axes that vary, as a list
    (``[0]``) or a dict (``{0: "batch"}``); only axis 0 (the batch) can be dynamic.
    ``opset_version``: 17 (default) to 21; the IR version is the lowest that opset needs.
    The model runs in eval mode for the trace (its mode is restored after), as PyTorch's default;
    ``export_params=False`` is not supported.
    """
    onnx = _onnx()
    from deepling.nn.module import Module
    from deepling.serialization.fileio import atomic_write

    if not isinstance(model, Module):
        raise TypeError(f"deepling.onnx.export: model must be a deepling Module, got {type(model).__name__}")
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset not in SUPPORTED_OPSETS:
        raise ValueError(f"deepling.onnx.export: opset_version {opset} is not supported "
                         f"(choose {SUPPORTED_OPSETS.start}..{SUPPORTED_OPSETS.stop - 1})")
    if not export_params:
        raise ValueError("deepling.onnx.export: export_params=False is not supported (weights are always stored)")
    call_args = list(args) if isinstance(args, tuple | list) else [args]
    inputs = list({id(t): t for t in _flat_tensors(call_args, "args")}.values())
    in_names = list(input_names or (["input"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))]))
    if len(in_names) != len(inputs):
        raise ValueError(f"deepling.onnx.export: {len(in_names)} input_names for {len(inputs)} inputs")

    param_names = {id(t.array): k for k, t in model.state_dict(keep_vars=True).items()}
    g = _Graph(onnx, param_names)
    fresh: dict[int, Tensor] = {}

    def feed(a: Any) -> Any:  # fresh tensor objects standing for the inputs (one passed twice stays one)
        if isinstance(a, tuple | list):
            return type(a)(feed(v) for v in a)
        if id(a) not in fresh:
            fresh[id(a)] = Tensor._wrap(a.array)
            g.set(fresh[id(a)], in_names[len(fresh) - 1])
        return fresh[id(a)]

    feeds = [feed(a) for a in call_args]
    was_training = model.training
    model.eval()  # as torch.onnx.export's default (training=EVAL): dropout off, BatchNorm on running stats
    try:
        with no_grad(), _Tracer(g, model):
            result = model(*feeds)
    finally:
        model.train(was_training)
    outs = _flat_tensors(result, "the model's output")
    out_names = list(output_names or (["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]))
    if len(out_names) != len(outs):
        raise ValueError(f"deepling.onnx.export: {len(out_names)} output_names for {len(outs)} outputs")
    for t, name in zip(outs, out_names):
        g.nodes.append(onnx.helper.make_node("Identity", [g.name(t)], [name]))

    dyn = _dynamic(dynamic_axes or {}, set(in_names) | set(out_names))
    helper = onnx.helper

    def value_info(name: str, t: Tensor) -> Any:
        dims: list[Any] = list(t.shape)
        for axis, label in dyn.get(name, {}).items():
            dims[axis] = label
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(t.dtype), dims)

    used = {i for n in g.nodes for i in n.input}
    inits = [v for k, v in g.initializers.items() if k in used]
    graph = helper.make_graph(g.nodes, type(model).__name__, [value_info(n, t) for n, t in zip(in_names, inputs)],
                              [value_info(n, t) for n, t in zip(out_names, outs)], inits)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="deepling",
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    atomic_write(f, lambda out: out.write(data))
    return proto


def _dynamic(spec: dict[str, Any], names: set[str]) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for name, axes in spec.items():
        if name not in names:
            raise ValueError(f"deepling.onnx.export: dynamic_axes names {name!r}, which is not an input or output "
                             f"name ({sorted(names)})")
        pairs = axes.items() if isinstance(axes, dict) else ((a, f"{name}_dim{a}") for a in axes)
        out[name] = {}
        for a, label in pairs:
            if int(a) != 0:
                raise ValueError(f"deepling.onnx.export: only the batch axis 0 can be dynamic (got axis {a} for "
                                 f"{name!r})")
            out[name][0] = str(label) if isinstance(axes, dict) else "batch"
    return out
