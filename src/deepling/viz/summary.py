"""``summary(model, input_size)``: a torchinfo-style table of a model, from one forward pass.

Rows are the modules in call order (``Class: depth-index``, tree drawn with box characters),
with each module's output shape, its parameter count and whether they train. The totals count each
parameter once, the mult-adds count each multiply of a parameter by an input (a convolution's
weights at every output position, a Linear's at every row: ``N * L * params`` on ``(N, L, H)``,
where torchinfo counts ``N * params``), and memory is
estimated as torchinfo does: input bytes + twice (value and gradient) the outputs of the leaf
layers that hold parameters + the parameters' bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from deepling.tensor import Tensor

__all__ = ["summary", "ModelSummary", "LayerRow"]


@dataclass
class LayerRow:
    """One module's line: class name, depth (0 for the model itself), index among its parent's rows."""

    class_name: str
    depth: int
    depth_index: int
    output_size: list[int]
    num_params: int  # this module's parameters, its children's included (each counted once)
    trainable_params: int
    is_leaf: bool
    output_bytes: int = 0
    param_bytes: int = 0
    macs: int = 0
    is_recursive: bool = False  # the same module called again: its parameters are already counted
    own_params: int = 0  # parameters registered on the module itself, not on its children

    @property
    def trainable(self) -> str:
        """``True``, ``False``, ``Partial``, or ``--`` for a module without parameters (torchinfo's words)."""
        if self.num_params == 0:
            return "--"
        if self.trainable_params == self.num_params:
            return "True"
        return "False" if self.trainable_params == 0 else "Partial"


@dataclass
class ModelSummary:
    rows: list[LayerRow]
    input_size: list[int]
    total_params: int
    trainable_params: int
    total_mult_adds: int
    total_input: int  # bytes
    total_output_bytes: int
    total_param_bytes: int
    col_width: int = 25
    name_width: int = field(default=40)

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_bytes(self) -> int:
        return self.total_input + self.total_output_bytes + self.total_param_bytes

    def __str__(self) -> str:
        w, cw = self.name_width, self.col_width
        header = f"{'Layer (type:depth-idx)':<{w}} {'Output Shape':<{cw}} {'Param #':<{cw}} {'Trainable':<{cw}}"
        divider = "=" * (w + 3 * cw)
        lines = [divider, header.rstrip(), divider]
        for r in self.rows:
            lines.append(_row_text(r, w, cw))
        mb = 1e6
        lines += [
            divider,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"Total mult-adds (M): {self.total_mult_adds / mb:0.2f}",
            divider,
            f"Input size (MB): {self.total_input / mb:0.2f}",
            f"Forward/backward pass size (MB): {self.total_output_bytes / mb:0.2f}",
            f"Params size (MB): {self.total_param_bytes / mb:0.2f}",
            f"Estimated Total Size (MB): {self.total_bytes / mb:0.2f}",
            divider,
        ]
        return "\n".join(lines)

    __repr__ = __str__

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": [{"layer": r.class_name, "depth": r.depth, "index": r.depth_index, "output_shape": r.output_size,
                      "params": r.num_params, "trainable": r.trainable} for r in self.rows],
            "total_params": self.total_params, "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params, "total_mult_adds": self.total_mult_adds,
            "input_bytes": self.total_input, "forward_backward_bytes": self.total_output_bytes,
            "params_bytes": self.total_param_bytes, "total_bytes": self.total_bytes,
        }


def _row_name(r: LayerRow) -> str:
    if r.depth == 0:
        return r.class_name
    branch = "├─" if r.depth == 1 else "└─"  # torchinfo's drawing
    return "│    " * (r.depth - 1) + branch + f"{r.class_name}: {r.depth}-{r.depth_index}"


def _row_text(r: LayerRow, w: int, cw: int) -> str:
    if r.is_recursive:
        params = "(recursive)"
    elif r.is_leaf:
        params = f"{r.num_params:,}" if r.num_params else "--"
    else:
        params = f"{r.own_params:,}" if r.own_params else "--"  # a container shows only its own parameters
    shape = str(r.output_size) if r.output_size else "--"
    return f"{_row_name(r):<{w}} {shape:<{cw}} {params:<{cw}} {r.trainable:<{cw}}".rstrip()


def _first_tensor(out: Any) -> Tensor | None:
    if isinstance(out, Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def _is_conv(module: Any) -> bool:
    return type(module).__name__.startswith(("Conv", "ConvTranspose"))


def summary(model: Any, input_size: Sequence[int] | Sequence[Sequence[int]] | None = None,
            input_data: Any = None, dtypes: Any = None) -> ModelSummary:
    """Run ``model`` once on zeros of ``input_size`` (batch dimension included, as in torchinfo) or on
    ``input_data``, under ``no_grad``, and tabulate its modules. ``print(summary(...))`` shows the table."""
    from deepling.autograd import no_grad

    if input_data is None:
        if input_size is None:
            raise ValueError("summary: pass input_size (e.g. (1, 784)) or input_data")
        sizes = [input_size] if all(isinstance(s, int) for s in input_size) else list(input_size)
        for s in sizes:
            if not all(isinstance(d, (int, np.integer)) and d > 0 for d in s):
                raise ValueError(f"summary: input_size must be positive integers, got {tuple(s)}")
        dts = dtypes if dtypes is not None else [np.float32] * len(sizes)
        inputs = [Tensor._wrap(np.zeros(tuple(int(d) for d in s), dtype=getattr(dt, "np", dt)))
                  for s, dt in zip(sizes, dts)]
    else:
        inputs = list(input_data) if isinstance(input_data, (tuple, list)) else [input_data]
    calls: list[tuple[Any, int, Tensor | None]] = []  # (module, depth, output) in call order
    depth_of: dict[int, int] = {}
    parent_of: dict[int, int] = {}

    def walk(m: Any, depth: int) -> None:
        for child in m.children():
            if id(child) not in depth_of:
                depth_of[id(child)] = depth + 1
                parent_of[id(child)] = id(m)
                walk(child, depth + 1)

    depth_of[id(model)] = 0
    walk(model, 0)

    def pre(m: Any, args: Any) -> None:
        calls.append((m, depth_of.get(id(m), 0), None))

    def post(m: Any, args: Any, out: Any) -> None:
        for k in range(len(calls) - 1, -1, -1):
            if calls[k][0] is m and calls[k][2] is None:
                calls[k] = (m, calls[k][1], _first_tensor(out))
                break

    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    rows: list[LayerRow] = []
    counted: set[int] = set()
    index_at: dict[tuple[int, int], int] = {}  # (parent id, depth) -> last index used
    for m, depth, out in calls:
        params = list(m.parameters())
        own = list(m.parameters(recurse=False))
        recursive = id(m) in counted
        counted.add(id(m))
        key = (parent_of.get(id(m), -1), depth)
        index_at[key] = index_at.get(key, 0) + 1
        shape = list(out.array.shape) if out is not None else []
        is_leaf = not any(True for _ in m.children())
        r = LayerRow(
            class_name=type(m).__name__, depth=depth, depth_index=index_at[key], output_size=shape,
            num_params=sum(p.array.size for p in params),
            trainable_params=sum(p.array.size for p in params if p.requires_grad),
            is_leaf=is_leaf, is_recursive=recursive, own_params=sum(p.array.size for p in own),
            output_bytes=out.array.nbytes if out is not None else 0,
            param_bytes=sum(p.array.nbytes for p in params),
        )
        if is_leaf and shape:
            for p in own:
                # A convolution reuses each weight at every output position of every image.
                reach = np.prod(shape[:1] + shape[2:]) if _is_conv(m) else np.prod(shape[:-1])
                r.macs += int(p.array.size * reach)
        rows.append(r)

    seen_params: set[int] = set()
    total = trainable = param_bytes = 0
    for p in model.parameters():
        if id(p) in seen_params:
            continue
        seen_params.add(id(p))
        total += p.array.size
        trainable += p.array.size if p.requires_grad else 0
        param_bytes += p.array.nbytes
    leaves = [r for r in rows if r.is_leaf]
    out_bytes = sum(2 * r.output_bytes for r in leaves if r.num_params > 0)
    macs = sum(r.macs for r in leaves)
    name_width = max([40] + [len(_row_name(r)) + 1 for r in rows])
    return ModelSummary(rows=rows, input_size=[list(t.array.shape) for t in inputs][0] if len(inputs) == 1
                        else [list(t.array.shape) for t in inputs],
                        total_params=int(total), trainable_params=int(trainable), total_mult_adds=int(macs),
                        total_input=int(sum(t.array.nbytes for t in inputs)), total_output_bytes=int(out_bytes),
                        total_param_bytes=int(param_bytes), name_width=name_width)
