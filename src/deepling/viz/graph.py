"""The autograd graph of a tensor, as data, as SVG (no dependencies) and as PNG (through Graphviz).

One node per tensor: a leaf (an input, a parameter or a constant) or the output of the op that made
it (the ``Function`` in ``tensor.grad_fn``). Edges run from an op's inputs to its output, so the
forward pass reads top to bottom and backpropagation climbs back up. Each node shows the op, the
shape, a summary of the value and, once ``backward`` has filled it in, of the gradient.

    y = (w * x + b).tanh().sum()
    y.backward(retain_graph=True)        # keep the graph: a plain backward() frees it
    svg = deepling.viz.draw_graph(y, params={"w": w, "x": x, "b": b})

Gradients of inner nodes appear only for tensors that kept them (``retain_grad()``);
``retain_graph_grads(y)`` asks every inner node of ``y``'s graph to keep its gradient, before you
call backward.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import tempfile
from typing import Any, Mapping

import numpy as np

from deepling.tensor import Tensor

__all__ = ["graph_data", "draw_graph", "to_dot", "render_svg", "retain_graph_grads"]

# Nodes drawn per graph: a model's graph can be big, and a drawing past this is unreadable anyway.
MAX_NODES = 400
_W, _H, _GAP_X, _GAP_Y = 178, 70, 22, 46


def _summary(a: np.ndarray) -> dict[str, Any]:
    """What one line can say about an array: the value itself when small, else its statistics."""
    a = np.asarray(a)
    if a.size == 0:
        return {"size": 0}
    f = a.astype(np.float64)
    out: dict[str, Any] = {"mean": float(f.mean()), "std": float(f.std()), "min": float(f.min()), "max": float(f.max())}
    if a.size <= 8:
        out["values"] = [float(v) for v in f.ravel()]
    return out


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _summary_text(s: dict[str, Any] | None) -> str:
    if not s:
        return "-"
    if "values" in s:
        vals = s["values"]
        return _fmt(vals[0]) if len(vals) == 1 else "[" + ", ".join(_fmt(v) for v in vals[:4]) + (", ..]" if len(vals) > 4 else "]")
    if "mean" not in s:
        return "empty"
    return f"mean {_fmt(s['mean'])} sd {_fmt(s['std'])}"


def _walk(root: Tensor) -> list[Tensor]:
    """Every tensor the graph reaches (inputs of ops included, even those that need no gradient),
    each after its inputs. Iterative, so long chains do not overflow the stack."""
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(root).__name__}")
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        if len(seen) > MAX_NODES:
            raise ValueError(f"draw_graph: the graph has more than {MAX_NODES} tensors; draw a smaller part of it")
        ctx = t._ctx
        if ctx is not None and ctx._freed:
            raise RuntimeError("draw_graph: this graph was freed by backward(); "
                               "call backward(retain_graph=True) to draw it with its gradients")
        stack.append((t, True))
        if ctx is not None:
            for p in reversed(ctx.parents):
                if p is not None and id(p) not in seen:  # None: a non-tensor argument's slot
                    stack.append((p, False))
    return order


def retain_graph_grads(root: Tensor) -> None:
    """Ask every inner tensor of ``root``'s graph to keep its gradient at the next ``backward``."""
    for t in _walk(root):
        if t._ctx is not None and t.requires_grad:
            t.retain_grad()


def graph_data(root: Tensor, params: Mapping[str, Tensor] | None = None) -> dict[str, Any]:
    """The graph as plain data: ``nodes`` (id, op, kind, name, shape, dtype, value, grad, inputs,
    x, y), ``order`` (node ids, inputs first), ``width``, ``height`` and ``backward_order`` (the
    nodes backpropagation visits, output first). ``params`` names leaves (e.g. ``model.named_parameters()``)."""
    order = _walk(root)
    names = {id(t): n for n, t in (dict(params).items() if params is not None else ())}
    ids = {id(t): i for i, t in enumerate(order)}
    nodes = []
    for i, t in enumerate(order):
        ctx = t._ctx
        if ctx is not None:
            op, kind = type(ctx).__name__, "op"
        else:
            op = "leaf"
            kind = "param" if id(t) in names else ("input" if t.requires_grad else "constant")
        g = t.grad
        nodes.append({
            "id": i, "op": op, "kind": kind, "name": names.get(id(t), ""),
            "shape": list(t.array.shape), "dtype": str(t.array.dtype),
            "requires_grad": bool(t.requires_grad),
            "value": _summary(t.array), "grad": _summary(g.array) if g is not None else None,
            "inputs": [ids[id(p)] for p in ctx.parents if p is not None] if ctx is not None else [],
        })
    width, height = _layout(nodes)
    # What backward walks: tensors that require grad, from the output back to the leaves.
    back = [n["id"] for n in reversed(nodes) if n["requires_grad"]]
    return {"nodes": nodes, "order": list(range(len(nodes))), "root": ids[id(root)],
            "backward_order": back, "width": width, "height": height}


def _layout(nodes: list[dict[str, Any]]) -> tuple[int, int]:
    """Layered drawing: a node's row is its longest path from a leaf; within a row, nodes sit near
    the mean position of their inputs (a few barycenter sweeps, top-down then bottom-up)."""
    level = [0] * len(nodes)
    for n in nodes:  # inputs come first, so their levels are known
        level[n["id"]] = 1 + max((level[p] for p in n["inputs"]), default=-1)
    users: dict[int, list[int]] = {n["id"]: [] for n in nodes}
    for n in nodes:
        for p in n["inputs"]:
            users[p].append(n["id"])
    for n in nodes:  # a leaf sits just above its first user, not up in the top row
        if not n["inputs"] and users[n["id"]]:
            level[n["id"]] = min(level[u] for u in users[n["id"]]) - 1
    rows: dict[int, list[int]] = {}
    for n in nodes:
        rows.setdefault(level[n["id"]], []).append(n["id"])
    pos = {i: float(k) for r in rows.values() for k, i in enumerate(r)}
    depth = max(rows) + 1 if rows else 0
    for r in range(depth):
        rows.setdefault(r, [])
    for sweep in range(4):
        seq = range(1, depth) if sweep % 2 == 0 else range(depth - 2, -1, -1)
        for r in seq:
            def key(i: int, down: bool = sweep % 2 == 0) -> float:
                nb = nodes[i]["inputs"] if down else users[i]
                return sum(pos[j] for j in nb) / len(nb) if nb else pos[i]
            rows[r].sort(key=key)
            for k, i in enumerate(rows[r]):
                pos[i] = float(k)
    widest = max((len(r) for r in rows.values()), default=1)
    width = widest * (_W + _GAP_X) + _GAP_X
    for r, members in rows.items():
        offset = (width - len(members) * (_W + _GAP_X) + _GAP_X) / 2
        for k, i in enumerate(members):
            nodes[i]["x"] = round(offset + k * (_W + _GAP_X))
            nodes[i]["y"] = _GAP_Y // 2 + r * (_H + _GAP_Y)
    return int(width), int(depth * (_H + _GAP_Y))


def _title(n: dict[str, Any]) -> str:
    if n["kind"] == "op":
        return n["op"]
    return n["name"] or n["kind"]


_COLORS = {"op": "#e8f0fe", "param": "#fde7c8", "input": "#dff3e3", "constant": "#eeeeee"}


def render_svg(g: dict[str, Any]) -> str:
    """SVG of a graph from ``graph_data`` (node groups carry ``data-id``, edges ``data-from``/``data-to``)."""
    nodes = g["nodes"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="dl-graph" width="{g["width"]}" height="{g["height"]}" '
           f'viewBox="0 0 {g["width"]} {g["height"]}" font-family="sans-serif" font-size="11">',
           '<defs><marker id="dl-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker></defs>']
    for n in nodes:
        for p in n["inputs"]:
            a = nodes[p]
            x1, y1 = a["x"] + _W / 2, a["y"] + _H
            x2, y2 = n["x"] + _W / 2, n["y"]
            my = (y1 + y2) / 2
            out.append(f'<path class="dl-edge" data-from="{p}" data-to="{n["id"]}" d="M{x1:.0f},{y1} C{x1:.0f},{my} '
                       f'{x2:.0f},{my} {x2:.0f},{y2 - 2}" fill="none" stroke="#999" stroke-width="1.3" '
                       f'marker-end="url(#dl-arrow)"/>')
    for n in nodes:
        shape = "(" + ", ".join(str(s) for s in n["shape"]) + ")" if n["shape"] else "scalar"
        lines = [(_title(n), "bold"), (shape, "normal"), ("value " + _summary_text(n["value"]), "normal"),
                 ("grad " + _summary_text(n["grad"]), "normal")]
        out.append(f'<g class="dl-node" data-id="{n["id"]}" data-kind="{n["kind"]}" transform="translate({n["x"]},{n["y"]})">'
                   f'<rect width="{_W}" height="{_H}" rx="6" fill="{_COLORS[n["kind"]]}" stroke="#555"/>')
        for k, (text, weight) in enumerate(lines):
            cls = ' class="dl-grad"' if k == 3 else ""
            out.append(f'<text{cls} x="8" y="{16 + 15 * k}" font-weight="{weight}">{html.escape(text)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def to_dot(root: Tensor, params: Mapping[str, Tensor] | None = None) -> str:
    """The graph in Graphviz's DOT language (for ``dot -Tpng``)."""
    g = graph_data(root, params)
    lines = ["digraph autograd {", '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];']
    for n in g["nodes"]:
        shape = "(" + ", ".join(str(s) for s in n["shape"]) + ")"
        label = "\\n".join([_title(n), shape, "value " + _summary_text(n["value"]), "grad " + _summary_text(n["grad"])])
        label = label.replace('"', '\\"')
        lines.append(f'  n{n["id"]} [label="{label}", fillcolor="{_COLORS[n["kind"]]}"];')
        for p in n["inputs"]:
            lines.append(f"  n{p} -> n{n['id']};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _atomic_write(path: str | os.PathLike, data: bytes) -> None:
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".draw_graph-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def draw_graph(root: Tensor, path: str | os.PathLike | None = None, params: Mapping[str, Tensor] | None = None,
               format: str | None = None) -> str:
    """The autograd graph of ``root`` as SVG text; with ``path``, also written there.

    ``format`` (default: from the path's suffix, else ``"svg"``): ``"svg"`` is drawn by deepling
    itself; ``"png"`` goes through Graphviz's ``dot``, which must be installed. ``params`` names the
    leaves (``dict(model.named_parameters())``). Returns the SVG text either way.
    """
    if format is None:
        format = "png" if path is not None and os.fspath(path).lower().endswith(".png") else "svg"
    if format not in ("svg", "png"):
        raise ValueError(f"draw_graph: format must be 'svg' or 'png', got {format!r}")
    svg = render_svg(graph_data(root, params))
    if path is None:
        return svg
    if format == "svg":
        _atomic_write(path, svg.encode())
        return svg
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("draw_graph: PNG output needs Graphviz's `dot` (apt-get install graphviz); "
                           "SVG output needs nothing")
    res = subprocess.run([dot, "-Tpng"], input=to_dot(root, params).encode(), capture_output=True, timeout=60)
    if res.returncode != 0:
        raise RuntimeError(f"draw_graph: dot failed: {res.stderr.decode(errors='replace').strip()}")
    _atomic_write(path, res.stdout)
    return svg
