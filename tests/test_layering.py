"""The layering, read from the source with ``ast`` (every import, also those inside functions):
nothing under ``deepling/`` but the ``cli`` package and ``__main__`` imports the command line, and
the engine (``tensor``, ``autograd``, ``ops`` and every module they import) imports none of the
layers above it. (A ``sys.modules`` check after ``import deepling.tensor`` would prove nothing:
importing any submodule first runs ``deepling/__init__.py``, which imports the whole library.)"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"
PKG = ROOT / "deepling"
ENGINE = ("deepling.tensor", "deepling.autograd", "deepling.ops")
ABOVE_ENGINE = ("nn", "optim", "data", "train", "viz", "lessons", "models", "pretrain", "cli")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _imports(name: str) -> set[str]:
    """The deepling modules ``name`` imports anywhere in its source (``from P import m`` counts m
    when it is a module), plus the packages those live in (importing ``a.b.c`` runs ``a/b``'s
    ``__init__``). The root ``deepling/__init__`` counts only when a name is taken from it
    (``import deepling``, ``from deepling import Tensor``), not for ``from deepling import autograd``."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    package = name if _is_package(name) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULES]
            found.update(subs)
            if mod != "deepling" or len(subs) < len(node.names):  # `from deepling import Tensor` runs deepling/__init__
                found.add(mod)
    out = set()
    for mod in found:
        if mod != "deepling" and not mod.startswith("deepling."):
            continue
        out.add(mod)
        parts = mod.split(".")
        out.update(".".join(parts[:i]) for i in range(2, len(parts)))
    return {m for m in out if m in MODULES}


def _closure(starts: list[str]) -> dict[str, str]:
    """Every module reachable from ``starts`` -> the module that first imported it."""
    seen = {s: s for s in starts}
    todo = list(starts)
    while todo:
        cur = todo.pop()
        for dep in _imports(cur):
            if dep not in seen:
                seen[dep] = cur
                todo.append(dep)
    return seen


def _layer(mod: str) -> str:
    return mod.split(".")[1] if mod.count(".") else ""


def test_the_source_tree_is_parsed():
    assert {"deepling.tensor", "deepling.ops", "deepling.cli", "deepling.nn.module", "deepling.train.language"} <= set(MODULES)
    assert "deepling.ops.elementwise" in _imports("deepling.tensor")
    # the checks would see a violation: these edges are found (`from deepling import nn`, a relative import)
    assert "deepling.nn" in _imports("deepling.models.mlp") and "deepling.cli" in _imports("deepling.__main__")
    assert "deepling.cli.arguments" in _imports("deepling.cli.train")


def test_only_the_cli_and_main_import_the_cli():
    offenders = {}
    for mod in MODULES:
        if mod == "deepling.__main__" or _layer(mod) == "cli":
            continue
        bad = [d for d in _imports(mod) if _layer(d) == "cli"]
        if bad:
            offenders[mod] = bad
    assert offenders == {}


def test_the_engine_imports_no_layer_above_it():
    starts = [m for m in MODULES if any(m == e or m.startswith(e + ".") for e in ENGINE)]
    reached = _closure(starts)
    bad = {m: by for m, by in reached.items() if m == "deepling" or _layer(m) in ABOVE_ENGINE}
    assert bad == {}, f"engine module imports (module: imported by): {bad}"
