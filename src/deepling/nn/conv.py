"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose2d`` (weights shared across positions)."""

from __future__ import annotations

from typing import Any

from deepling import creation
from deepling.nn import init
from deepling.nn.module import Module
from deepling.nn.parameter import Parameter
from deepling.ops.arguments import ntuple
from deepling.ops.conv import conv1d, conv2d, conv_transpose2d
from deepling.ops.resample import pad
from deepling.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared parameters, init and repr. weight (out, in/groups, *k), or (in, out/groups, *k) transposed."""

    def __init__(self, name: str, dims: int, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int, bias: bool, padding_mode: str, transposed: bool,
                 output_padding: Any = 0, dtype: Any = None) -> None:
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels {in_channels} and out_channels {out_channels} must be divisible by groups {groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of ('valid', 'same')")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(name, kernel_size, dims, "kernel_size")
        self.stride = ntuple(name, stride, dims, "stride")
        self.padding = padding if isinstance(padding, str) else ntuple(name, padding, dims, "padding")
        self.dilation = ntuple(name, dilation, dims, "dilation")
        self.output_padding = ntuple(name, output_padding, dims, "output_padding")
        self.transposed, self.padding_mode = transposed, padding_mode
        if padding == "same" and any(s != 1 for s in self.stride):
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
        shape = (in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(creation.empty(*shape, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_layer_init(self.weight, self.bias)

    def _pad_input(self, x: Tensor) -> tuple[Tensor, Any]:
        """Non-zero padding modes pad explicitly, then convolve with no padding (as PyTorch does)."""
        if self.padding_mode == "zeros":
            return x, self.padding
        if self.padding == "valid":
            return x, 0
        widths: list[int] = []
        for i in reversed(range(len(self.kernel_size))):
            if self.padding == "same":
                total = self.dilation[i] * (self.kernel_size[i] - 1)
                widths += [total // 2, total - total // 2]
            else:
                widths += [self.padding[i], self.padding[i]]
        return pad(x, widths, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.kernel_size):
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution: ``out[n, o] = bias[o] + sum_c weight[o, c] (*) x[n, c]``.

    Input (N, C_in, L) -> output (N, C_out, L_out), ``L_out = floor((L + 2p - d(k-1) - 1)/s) + 1``.
    Parameters: ``weight (C_out, C_in/groups, k)``, ``bias (C_out,)``, both U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("Conv1d", 1, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, False, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        x, p = self._pad_input(input)
        return conv1d(x, self.weight, self.bias, self.stride, p, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution: ``out[n, o] = bias[o] + sum_c weight[o, c] (*) x[n, c]`` (cross-correlation).

    Input (N, C_in, H, W) -> output (N, C_out, H_out, W_out),
    ``H_out = floor((H + 2p - d(kh-1) - 1)/s) + 1``. Parameters: ``weight (C_out, C_in/groups, kh, kw)``,
    ``bias (C_out,)``, both U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in/groups * kh * kw.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("Conv2d", 2, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, False, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        x, p = self._pad_input(input)
        return conv2d(x, self.weight, self.bias, self.stride, p, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the gradient of Conv2d w.r.t. its input; "deconvolution").

    Input (N, C_in, H, W) -> (N, C_out, H_out, W_out),
    ``H_out = (H - 1)s - 2p + d(kh - 1) + output_padding + 1``. Parameters: ``weight (C_in, C_out/groups, kh, kw)``,
    ``bias (C_out,)``; ``forward(input, output_size=None)`` may pick output_padding from a target size.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        if padding_mode != "zeros" or isinstance(padding, str):
            raise ValueError('ConvTranspose2d: only "zeros" padding mode and integer padding are supported')
        super().__init__("ConvTranspose2d", 2, in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, True, output_padding, dtype=dtype)

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        size = tuple(int(s) for s in output_size)[-2:]
        op = []
        for i in range(2):
            smallest = (x.shape[-2 + i] - 1) * self.stride[i] - 2 * self.padding[i] + self.dilation[i] * (self.kernel_size[i] - 1) + 1
            extra = size[i] - smallest
            if not 0 <= extra < max(self.stride[i], self.dilation[i]):
                raise ValueError(
                    f"ConvTranspose2d: requested output size {size} is not reachable from input of shape {x.shape} "
                    f"(dim {i} must be in [{smallest}, {smallest + max(self.stride[i], self.dilation[i]) - 1}])"
                )
            op.append(extra)
        return tuple(op)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        op = self._output_padding(input, output_size)
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, op, self.groups, self.dilation)
