"""The graph view: an expression (parsed safely, never ``eval``-ed) or a small model, run forward and
backward on deepling, returned as its autograd graph with every node's value and gradient.

Expressions use the variables the page defines (numbers or short lists), numbers, ``+ - * / ** @``
and the functions in ``FUNCTIONS``. A non-scalar result is summed, so ``backward`` has one seed.
The chain-rule steps list, in the order backpropagation visits them, each node's gradient and the
users it came from: ``dL/dx = sum over users u of dL/du * du/dx``.
"""

from __future__ import annotations

import ast
from typing import Any, Callable

import numpy as np

import deepling as dl
from deepling.studio._engine import BadRequest, engine
from deepling.viz.graph import graph_data, render_svg, retain_graph_grads

FUNCTIONS: dict[str, Callable[[dl.Tensor], dl.Tensor]] = {
    "tanh": dl.tanh, "sigmoid": dl.sigmoid, "relu": dl.relu, "exp": dl.exp, "log": dl.log, "sin": dl.sin,
    "cos": dl.cos, "sqrt": dl.sqrt, "abs": dl.abs, "square": dl.square, "sum": dl.sum, "mean": dl.mean,
}
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b, ast.MatMult: lambda a, b: a @ b,
}
MAX_CHARS, MAX_AST_NODES, MAX_VARIABLES, MAX_VALUES = 200, 80, 8, 16

PRESETS = {
    "neuron": {"expression": "tanh(w @ x + b)", "inputs": {"w": [0.5, -1.0, 0.25], "x": [1.0, 2.0, 3.0], "b": 0.1}},
    "micrograd": {"expression": "relu(a * b + c) * (a + b) ** 2", "inputs": {"a": 2.0, "b": -3.0, "c": 10.0}},
    "softmax-loss": {"expression": "-log(exp(z @ y) / sum(exp(z)))",
                     "inputs": {"z": [2.0, 1.0, 0.1], "y": [1.0, 0.0, 0.0]}},
}
MODELS = ("mlp", "logistic", "cnn", "lenet5")


def _variables(raw: Any) -> dict[str, dl.Tensor]:
    if not isinstance(raw, dict) or len(raw) > MAX_VARIABLES:
        raise BadRequest(f"inputs must be an object of at most {MAX_VARIABLES} variables")
    out = {}
    for name, v in raw.items():
        if not isinstance(name, str) or not name.isidentifier() or name in FUNCTIONS or len(name) > 12:
            raise BadRequest(f"variable name {name!r} is not allowed (letters and digits, not a function name)")
        vals = v if isinstance(v, list) else [v]
        if not 1 <= len(vals) <= MAX_VALUES or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in vals):
            raise BadRequest(f"variable {name} must be a number or a list of 1 to {MAX_VALUES} numbers")
        arr = np.asarray(vals if isinstance(v, list) else v, dtype=np.float64)
        if not np.isfinite(arr).all() or np.abs(arr).max() > 1e6:
            raise BadRequest(f"variable {name} must hold finite numbers of size at most 1e6")
        out[name] = dl.tensor(arr, requires_grad=True)
    return out


def _evaluate(text: str, env: dict[str, dl.Tensor]) -> dl.Tensor:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_CHARS:
        raise BadRequest(f"expression must be 1 to {MAX_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise BadRequest(f"expression does not parse: {e.msg} (column {e.offset})") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_AST_NODES:
        raise BadRequest(f"expression is too long (at most {MAX_AST_NODES} syntax nodes)")

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise BadRequest(f"unknown variable {node.id!r}; define it under inputs")
            return env[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and not (isinstance(b, float) and abs(b) <= 10):
                raise BadRequest("** takes a constant exponent between -10 and 10")
            if not isinstance(a, dl.Tensor) and not isinstance(b, dl.Tensor):
                return _BINOPS[type(node.op)](a, b)
            return _BINOPS[type(node.op)](a if isinstance(a, dl.Tensor) else dl.tensor(a, dtype=dl.float64), b)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords and len(node.args) == 1:
            fn = FUNCTIONS.get(node.func.id)
            if fn is None:
                raise BadRequest(f"unknown function {node.func.id!r}; use one of {', '.join(FUNCTIONS)}")
            v = ev(node.args[0])
            return fn(v if isinstance(v, dl.Tensor) else dl.tensor(v, dtype=dl.float64))
        raise BadRequest(f"expression: {type(node).__name__} is not allowed (numbers, variables, + - * / ** @ and "
                         f"{', '.join(FUNCTIONS)})")

    try:
        out = ev(tree)
    except BadRequest:
        raise
    except (ValueError, TypeError, RuntimeError) as e:  # shape mismatches and the like, in the engine's words
        raise BadRequest(f"expression failed: {e}") from None
    if not isinstance(out, dl.Tensor):
        raise BadRequest("expression must use at least one variable")
    return out


def _model(name: str) -> tuple[dl.Tensor, dict[str, dl.Tensor], Any]:
    dl.manual_seed(0)
    nn = dl.nn
    if name == "mlp":
        model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
        x = dl.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        y = dl.tensor([[0.0], [1.0], [1.0], [0.0]])
        loss = dl.nn.functional.mse_loss(model(x), y)
        size = (4, 2)
    elif name == "logistic":
        model = nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())
        x = dl.tensor([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]])
        y = dl.tensor([[1.0], [0.0]])
        loss = dl.nn.functional.binary_cross_entropy(model(x), y)
        size = (2, 3)
    elif name == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))
        x = dl.randn(1, 1, 6, 6)
        loss = dl.nn.functional.cross_entropy(model(x), dl.tensor([2]))
        size = (1, 1, 6, 6)
    elif name == "lenet5":
        from deepling.models import LeNet5

        model = LeNet5()
        x = dl.randn(2, 1, 28, 28)
        loss = dl.nn.functional.cross_entropy(model(x), dl.tensor([3, 7]))
        size = (2, 1, 28, 28)
    else:
        raise BadRequest(f"model must be one of {', '.join(MODELS)}; got {name!r}")
    return loss, dict(model.named_parameters()), (model, size)


def build(request: dict[str, Any]) -> dict[str, Any]:
    """``{"expression": str, "inputs": {...}}`` or ``{"model": name}`` -> graph, SVG, chain-rule steps."""
    if not isinstance(request, dict):
        raise BadRequest("graph request must be an object")
    table = None
    with engine():
        if "model" in request:
            root, params, (model, size) = _model(request["model"])
            table = str(dl.summary(model, size))
            title = f"{request['model']} loss"
        else:
            env = _variables(request.get("inputs", {}))
            root = _evaluate(request.get("expression", ""), env)
            if root.array.size != 1:
                root = root.sum()
            params = env
            title = request["expression"]
        retain_graph_grads(root)
        root.backward(retain_graph=True)
        g = graph_data(root, params)
    users: dict[int, list[int]] = {n["id"]: [] for n in g["nodes"]}
    for n in g["nodes"]:
        for p in n["inputs"]:
            users[p].append(n["id"])
    steps = []
    for i in g["backward_order"]:
        n = g["nodes"][i]
        steps.append({"node": i, "from": users[i],
                      "text": ("dL/dL = 1 (the seed)" if i == g["root"] else
                               f"dL/d[{n['name'] or n['op']}] = " + " + ".join(
                                   f"dL/d[{g['nodes'][u]['op']}] * d[{g['nodes'][u]['op']}]/d[{n['name'] or n['op']}]"
                                   for u in users[i]))})
    return {"title": title, "graph": g, "svg": render_svg(g), "steps": steps, "summary": table}
