"""Recurrent layers ``RNN``, ``GRU``, ``LSTM`` and their one-step cells, in PyTorch's layout.

Each (layer, direction) is one fused op over the whole sequence (``deepling.ops.rnn``): one GEMM
for the inputs of all steps, one GEMM per step for all gates, closed-form backprop through time.
"""

from __future__ import annotations

import math
from typing import Any

from deepling import creation
from deepling.nn import init
from deepling.nn.module import Module
from deepling.nn.parameter import Parameter
from deepling.ops.arguments import tensor_input
from deepling.ops.dropout import dropout as _dropout
from deepling.ops.rnn import GATES, rnn_direction
from deepling.ops.shape import cat, stack
from deepling.tensor import Tensor

__all__ = ["RNNBase", "RNN", "GRU", "LSTM", "RNNCellBase", "RNNCell", "GRUCell", "LSTMCell"]



def _state_pair(cls: str, hx: Any, what: str) -> tuple[Any, Any]:
    """An LSTM's state must be a pair (h, c); a bare tensor is the common slip."""
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        got = f"a Tensor of shape {tuple(hx.shape)}" if isinstance(hx, Tensor) else type(hx).__name__
        raise TypeError(f"{cls}: expected the state as a tuple {what} of two Tensors, got {got}")
    return hx[0], hx[1]

class RNNBase(Module):
    """Shared machinery: parameters ``weight_ih_l{k}{_reverse}`` ``(G*H, in)``, ``weight_hh_l{k}``
    ``(G*H, P)``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` ``(G*H,)`` and for an LSTM with ``proj_size``
    ``weight_hr_l{k}`` ``(P, H)``; all drawn from U(-1/sqrt(H), 1/sqrt(H)).
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(f"{type(self).__name__}: dropout should be a number in [0, 1], got {dropout}")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{type(self).__name__}: hidden_size and num_layers must be positive, got {hidden_size}, {num_layers}")
        if proj_size < 0 or (proj_size and mode != "LSTM"):
            raise ValueError(f"{type(self).__name__}: proj_size must be >= 0 and is only supported by LSTM")
        if proj_size >= hidden_size:
            raise ValueError(f"LSTM: proj_size {proj_size} has to be smaller than hidden_size {hidden_size}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gate_size = GATES[mode] * hidden_size
        real_hidden = proj_size or hidden_size
        self._names: list[list[str | None]] = []  # per (layer, direction): w_ih, w_hh, b_ih, b_hh, w_hr
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else real_hidden * self.num_directions
            for direction in range(self.num_directions):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = {"weight_ih": (gate_size, layer_in), "weight_hh": (gate_size, real_hidden)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    setattr(self, name + sfx, Parameter(creation.empty(*shape, dtype=dtype)))
                self._names.append([k + sfx if k in shapes else None
                                    for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")])
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """No-op kept for PyTorch scripts: the fused op already reads the weights where they are."""

    def _weights(self, layer: int, direction: int) -> list[Tensor | None]:
        return [None if n is None else getattr(self, n) for n in self._names[layer * self.num_directions + direction]]

    def _check(self, x: Tensor, hx: Tensor | None, size: int, name: str, batched: bool, batch: int) -> None:
        if hx is None:
            return
        if not isinstance(hx, Tensor):
            raise TypeError(f"{type(self).__name__}: expected {name} to be a Tensor, got {type(hx).__name__}")
        want = (self.num_layers * self.num_directions, batch, size) if batched else (self.num_layers * self.num_directions, size)
        if tuple(hx.shape) != want:
            raise ValueError(f"{type(self).__name__}: expected {name} of shape {want}, got {tuple(hx.shape)} (input {tuple(x.shape)})")

    def _run(self, x: Tensor, h0: Tensor | None, c0: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        cls = type(self).__name__
        tensor_input(cls, x)
        if x.ndim not in (2, 3):
            raise ValueError(f"{cls}: expected input of 2 (L, H_in) or 3 dimensions, got shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{cls}: input has {x.shape[-1]} features (shape {tuple(x.shape)}), expected input_size={self.input_size}")
        if not x.is_floating_point():
            raise TypeError(f"{cls}: expected a floating-point input, got dtype {x.dtype}")
        batched = x.ndim == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        batch = x.shape[1]
        real_hidden = self.proj_size or self.hidden_size
        self._check(x, h0, real_hidden, "hidden state h_0", batched, batch)
        self._check(x, c0, self.hidden_size, "cell state c_0", batched, batch)
        if not batched:
            h0 = None if h0 is None else h0.unsqueeze(1)
            c0 = None if c0 is None else c0.unsqueeze(1)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = _dropout(x, self.dropout, True)  # between layers, never after the last
            outs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                out, h, c = rnn_direction(
                    x, None if h0 is None else h0[k], None if c0 is None else c0[k],
                    *self._weights(layer, direction), mode=self.mode, reverse=bool(direction),
                )
                outs.append(out)
                h_n.append(h)
                c_n.append(c)
            x = outs[0] if len(outs) == 1 else cat(outs, 2)
        h_n_t = stack(h_n, 0)
        c_n_t = stack(c_n, 0) if self.mode == "LSTM" else None
        if not batched:
            x, h_n_t = x.squeeze(1), h_n_t.squeeze(1)
            c_n_t = None if c_n_t is None else c_n_t.squeeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, h_n_t, c_n_t

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, act = tanh or relu.

    Args: ``input_size``, ``hidden_size``, ``num_layers=1``, ``nonlinearity='tanh'``, ``bias=True``,
    ``batch_first=False``, ``dropout=0`` (between layers), ``bidirectional=False``.
    Shapes: input ``(L, N, H_in)`` (``(N, L, H_in)`` if batch_first, or unbatched ``(L, H_in)``),
    ``h_0 (D*num_layers, N, H)``; returns ``output (L, N, D*H)`` and ``h_n (D*num_layers, N, H)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity '{nonlinearity}' (expected 'tanh' or 'relu')")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, h_n, _ = self._run(input, hx, None)
        return out, h_n


class GRU(RNNBase):
    """Gated recurrent unit, gates ``r, z, n`` stacked in that order:
    ``r, z = sigmoid(W_i x + b_i + W_h h + b_h)``, ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``,
    ``h' = (1 - z) * n + z * h``. Arguments and shapes as ``RNN`` (no nonlinearity).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, h_n, _ = self._run(input, hx, None)
        return out, h_n


class LSTM(RNNBase):
    """Long short-term memory, gates ``i, f, g, o`` stacked in that order:
    ``i, f, o = sigmoid(.)``, ``g = tanh(.)`` of ``W_i x + b_i + W_h h + b_h``; ``c' = f * c + i * g``,
    ``h' = o * tanh(c')`` (then ``h' = W_hr h'`` when ``proj_size > 0``).
    Arguments as ``RNN`` plus ``proj_size=0``. ``forward(input, (h_0, c_0))`` returns
    ``output (L, N, D*P)`` and ``(h_n (D*num_layers, N, P), c_n (D*num_layers, N, H))``, P = proj_size or H.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h0, c0 = (None, None) if hx is None else _state_pair(type(self).__name__, hx, "(h_0, c_0)")
        out, h_n, c_n = self._run(input, h0, c0)
        return out, (h_n, c_n)


# ----------------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """One time step. Parameters ``weight_ih (G*H, input_size)``, ``weight_hh (G*H, H)``,
    ``bias_ih``, ``bias_hh (G*H,)``, all U(-1/sqrt(H), 1/sqrt(H)). Input ``(N, H_in)`` or ``(H_in,)``.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, hidden_size, bias
        gate_size = GATES[mode] * hidden_size
        self.weight_ih = Parameter(creation.empty(gate_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(creation.empty(gate_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(creation.empty(gate_size, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(gate_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _step(self, x: Tensor, h: Tensor | None, c: Tensor | None) -> tuple[Tensor, Tensor | None]:
        cls = type(self).__name__
        tensor_input(cls, x)
        for name, s in (("hx", h), ("cx", c)):
            if s is not None and not isinstance(s, Tensor):
                raise TypeError(f"{cls}: expected {name} to be a Tensor, got {type(s).__name__}")
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{cls}: expected input (N, {self.input_size}) or ({self.input_size},), got shape {tuple(x.shape)}")
        batched = x.ndim == 2
        want = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        for name, s in (("hx", h), ("cx", c)):
            if s is not None and tuple(s.shape) != want:
                raise ValueError(f"{cls}: {name} has shape {tuple(s.shape)}, expected {want} for input {tuple(x.shape)}")
        if not batched:
            x, h, c = x.unsqueeze(0), None if h is None else h.unsqueeze(0), None if c is None else c.unsqueeze(0)
        _, h_new, c_new = rnn_direction(x.unsqueeze(0), h, c, self.weight_ih, self.weight_hh, self.bias_ih,
                                        self.bias_hh, None, mode=self.mode)
        if not batched:
            h_new, c_new = h_new.squeeze(0), None if c_new is None else c_new.squeeze(0)
        return h_new, c_new

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class RNNCell(RNNCellBase):
    """``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act = ``nonlinearity`` ('tanh' or 'relu')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity '{nonlinearity}' (expected 'tanh' or 'relu')")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, None)[0]


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n as in ``GRU``): returns ``h' (N, H)``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, None)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o as in ``LSTM``): ``forward(x, (h, c))`` returns ``(h', c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        h, c = (None, None) if hx is None else _state_pair(type(self).__name__, hx, "(h_0, c_0)")
        h_new, c_new = self._step(input, h, c)
        return h_new, c_new
