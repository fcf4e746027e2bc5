"""Reverse-mode automatic differentiation: Function, the graph walk, grad modes, gradcheck.

Every differentiable op is a ``Function`` subclass whose ``forward`` computes the output from
NumPy arrays and whose ``backward`` maps the output gradient to one gradient per input (by position).
``Function.apply`` records the op in the graph only when grad mode is on and some input requires
grad; otherwise an op costs its NumPy call and nothing more.
"""

from __future__ import annotations

import functools
import sys
import traceback
import weakref
from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "Function",
    "backward",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "inference_mode",
    "Variable",
    "gradcheck",
    "GradcheckError",
    "unbroadcast",
    "set_detect_anomaly",
    "detect_anomaly",
    "is_anomaly_enabled",
    "refresh_view",
    "link_view",
]

_grad_enabled = True
_anomaly = False

# Hook points used by distributed data parallelism; both stay empty (and cost one truth test) otherwise.
# id(leaf) -> (weak reference to the leaf, {handle id: hook}): hooks run after the leaf's .grad is accumulated.
_post_accumulate_hooks: dict[int, tuple[Any, dict[int, Callable]]] = {}
_final_callbacks: list[Callable[[], None]] = []  # run once when the current backward finishes


def queue_callback(callback: Callable[[], None]) -> None:
    """Run ``callback()`` once at the end of the backward pass in progress (PyTorch's
    ``Variable._execution_engine.queue_callback``): DDP waits for its gradient all-reduces there."""
    _final_callbacks.append(callback)


def _drop_hooks(table: dict, key: int, ref: Any) -> None:
    # Bound to the table itself: this may run while the interpreter shuts down and module globals are gone.
    entry = table.get(key)
    if entry is not None and entry[0] is ref:
        del table[key]


class _PostAccumulateHandle:
    """``remove()`` unregisters one post-accumulate-grad hook."""

    _next_id = 0

    def __init__(self, t: Tensor, hook: Callable[[Tensor], None]) -> None:
        key = id(t)
        entry = _post_accumulate_hooks.get(key)
        if entry is None or entry[0]() is not t:
            # The weak reference's callback drops the entry when the tensor dies (ids are reused).
            ref = weakref.ref(t, functools.partial(_drop_hooks, _post_accumulate_hooks, key))
            entry = _post_accumulate_hooks[key] = (ref, {})
        _PostAccumulateHandle._next_id += 1
        self.key, self.id = key, _PostAccumulateHandle._next_id
        entry[1][self.id] = hook

    def remove(self) -> None:
        entry = _post_accumulate_hooks.get(self.key)
        if entry is not None:
            entry[1].pop(self.id, None)
            if not entry[1]:
                del _post_accumulate_hooks[self.key]


def register_post_accumulate_grad_hook(t: Tensor, hook: Callable[[Tensor], None]) -> _PostAccumulateHandle:
    """Call ``hook(t)`` each time backward has accumulated a gradient into the leaf ``t.grad``."""
    if t._ctx is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    return _PostAccumulateHandle(t, hook)


def _run_post_accumulate_hooks(t: Tensor) -> None:
    entry = _post_accumulate_hooks.get(id(t))
    if entry is not None and entry[0]() is t:
        for hook in list(entry[1].values()):
            hook(t)


def is_grad_enabled() -> bool:
    """True when ops record the graph for ``backward``."""
    return _grad_enabled


class _GradMode:
    """Base for the grad-mode switches: a context manager and a decorator (``@no_grad()`` or ``@no_grad``)."""

    _mode = True

    def __new__(cls, orig_func: Callable | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)  # used bare as a decorator

    def __enter__(self) -> None:
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disable graph recording inside a ``with`` block or a decorated function."""

    _mode = False


class enable_grad(_GradMode):
    """Re-enable graph recording inside a ``no_grad`` region."""

    _mode = True


class set_grad_enabled:
    """``set_grad_enabled(mode)``: sets grad mode now; as a context manager, restores it on exit;
    as a decorator, applies ``mode`` inside the function only."""

    def __init__(self, mode: bool) -> None:
        global _grad_enabled
        self._prev = _grad_enabled
        self._mode = bool(mode)
        _grad_enabled = self._mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, func: Callable) -> Callable:
        global _grad_enabled
        _grad_enabled = self._prev  # decorating must not change the mode outside the function
        mode = self._mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper


class inference_mode:
    """``inference_mode(mode=True)``: as ``no_grad`` (deepling has no separate inference tensors).

    A context manager or a decorator, bare (``@inference_mode``) or called (``@inference_mode()``);
    ``inference_mode(False)`` changes nothing.
    """

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):
            return cls(True)(mode)  # used bare as a decorator
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self._enabled = bool(mode)

    def __enter__(self) -> None:
        global _grad_enabled
        self._prev = _grad_enabled
        if self._enabled:
            _grad_enabled = False

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, func: Callable) -> Callable:
        enabled = self._enabled

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(enabled):
                return func(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    return False


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Any:  # noqa: N802  (PyTorch's name)
    """PyTorch's pre-0.4 wrapper, kept there for old scripts: returns ``data`` itself (a Tensor),
    made to require grad when asked."""
    if requires_grad and not data.requires_grad:
        data.requires_grad_(True)
    return data


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    The one place where broadcasting is undone: every binary op relies on it through the engine.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


class Function:
    """One differentiable op: ``forward`` and ``backward`` side by side.

    Subclasses implement ``forward(self, *args)`` on NumPy arrays (tensor arguments arrive as
    their ``.array``; other arguments pass through) and ``backward(self, grad)`` returning the
    gradients (ndarray or None) of the inputs. Gradients may have the broadcast shape: the engine
    reduces them to each input's shape. ``backward`` must not modify ``grad`` in place.

    Positions, not types, match a gradient to its input (PyTorch's rule for autograd.Function):
    every positional argument of ``apply`` has a slot, and ``backward`` returns gradient i for
    positional argument i, None for a non-tensor argument; trailing slots may be left out.
    ``self.needs_input_grad`` has one entry per positional argument (False for a non-tensor).
    An optional tensor (a bias, a weight, a mask...) is therefore always passed positionally,
    as None when absent, and its gradient goes in its slot (None when absent): a missing input
    can never move a gradient to another input. Keyword arguments have no slot (no gradient).
    """

    parents: tuple[Tensor | None, ...] = ()
    needs_input_grad: tuple[bool, ...] = ()

    def forward(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        return cls().run(args, kwargs)

    def run(self, args: tuple, kwargs: dict) -> Tensor:
        """``apply`` on this instance (ops that read side outputs, such as pooling indices, keep it)."""
        # One pass over the arguments (this runs for every op: generator expressions cost more).
        cls, fn = type(self), self
        arrays, parents, record = [], [], False
        for a in args:
            if isinstance(a, Tensor):
                if a._base is not None and a._view_v != a._vc[0]:
                    refresh_view(a)  # its base was written in place since this view's node was made
                parents.append(a)
                arrays.append(a.array)
                if a.requires_grad:
                    record = True
            else:
                parents.append(None)  # a slot, so that gradients keep the arguments' positions
                arrays.append(a)
        record = record and _grad_enabled
        if record:
            fn.needs_input_grad = tuple([p is not None and p.requires_grad for p in parents])
        out = fn.forward(*arrays, **kwargs)
        result = Tensor._wrap(out)
        base = result.array.base
        for p in parents:  # a view of an input's memory shares its version counter and remembers its base
            if p is None:
                continue
            a = p.array
            if out is a or (base is not None and (base is a or base is a.base)):
                link_view(result, p, cls, args, kwargs)
                break
        if record:
            fn.parents = tuple(parents)
            # Edges point at the inputs' nodes as they are now: an in-place op later gives a tensor
            # a new node, and what was computed from its old value must still flow into the old one.
            fn.edges = tuple([p if p is None or p._ctx is None else p._ctx for p in parents])
            result.requires_grad = True
            result._ctx = fn
            # Versions now, checked in backward: a value the op saved must not be written before.
            fn._versions = [0 if p is None else p._vc[0] for p in parents]
            fn._out = (result._vc, result._vc[0], _root_id(out))
            if _anomaly:
                fn._trace = traceback.format_stack()[:-1]
        return result

    def _free(self) -> None:
        # Drop saved arrays and parent links so the graph's memory can be reclaimed.
        self.__dict__.clear()
        self._freed = True

    _freed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def link_view(result: Tensor, parent: Tensor, cls: type, args: tuple, kwargs: dict) -> None:
    """Make ``result`` (whose array views ``parent``'s memory) a view in PyTorch's sense: one version
    counter, and a way to recompute it from the tensor owning the memory, so that an in-place write
    through either one keeps both their values and their gradients right."""
    result._vc = parent._vc
    pos = next(i for i, a in enumerate(args) if a is parent)
    outer = parent._view_fn if parent._base is not None else None

    def view_fn(t: Tensor) -> Tensor:
        if outer is not None:
            t = outer(t)
        return cls.apply(*args[:pos], t, *args[pos + 1:], **kwargs)

    result._base = parent._base if parent._base is not None else parent
    result._view_fn = view_fn
    result._view_v = parent._vc[0]


def refresh_view(view: Tensor, force: bool = False) -> None:
    """Give a view whose memory was written in place a graph node through its base's current node
    (PyTorch regenerates a view's ``grad_fn`` the same way)."""
    base = view._base
    if (force or base.requires_grad) and _grad_enabled:
        fresh = view._view_fn(base)
        view._ctx, view.requires_grad = fresh._ctx, fresh.requires_grad
    view._view_v = view._vc[0]


def _root_id(a: np.ndarray) -> int:
    return id(a if a.base is None else a.base)


def _saves(ctx: Function, root: int) -> bool:
    """Whether ``ctx`` kept an array over the memory whose owner has id ``root`` (attributes, and
    one level into tuples): what its backward will read."""
    for v in ctx.__dict__.values():
        if type(v) is np.ndarray:
            if _root_id(v) == root:
                return True
        elif type(v) is tuple:
            if any(type(w) is np.ndarray and _root_id(w) == root for w in v):
                return True
    return False


def _check_versions(ctx: Function) -> None:
    """Raise if an input or the output whose memory ``ctx`` saved was written in place since the
    op ran (compared only when a counter moved, so the usual cost is a few integer compares)."""
    name = type(ctx).__name__
    for i, (p, v) in enumerate(zip(ctx.parents, ctx._versions)):
        if p is not None and p._vc[0] != v and _saves(ctx, _root_id(p.array)):
            _raise_modified(f"input {i} of {name}", p.shape, p.dtype, p._vc[0], v)
    vc, v, root = ctx._out
    if vc[0] != v and _saves(ctx, root):
        _raise_modified(f"the output of {name}", None, None, vc[0], v)


def _raise_modified(what: str, shape: Any, dtype: Any, found: int, expected: int) -> None:
    desc = f"the tensor of shape {tuple(shape)} and dtype {dtype}, {what}," if shape is not None else what + ","
    raise RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"{desc} is at version {found}; expected version {expected} instead. Hint: clone() it before the "
        f"in-place write, or write through .data / under no_grad() only values no graph still needs."
    )


def set_detect_anomaly(mode: bool) -> None:
    """Anomaly detection on or off: ops remember where they were created, and ``backward`` stops at
    the first op whose gradient has a NaN or infinity, naming it and showing that traceback."""
    global _anomaly
    _anomaly = bool(mode)


def is_anomaly_enabled() -> bool:
    return _anomaly


class detect_anomaly:
    """``with detect_anomaly():`` (or as a decorator): anomaly detection inside the block only."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._prev = _anomaly
        set_detect_anomaly(self.check_nan)

    def __exit__(self, *exc: object) -> None:
        set_detect_anomaly(self._prev)

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.check_nan):
                return func(*args, **kwargs)

        return wrapper


def _check_finite(ctx: Function, in_grads: tuple) -> None:
    for i, pg in enumerate(in_grads):
        if pg is not None and pg.dtype.kind in "fc" and not np.isfinite(pg).all():
            kind = "nan" if np.isnan(pg).any() else "inf"
            trace = "".join(getattr(ctx, "_trace", ["(created before anomaly detection was enabled)\n"]))
            raise RuntimeError(
                f"Function '{type(ctx).__name__}Backward' returned {kind} values in its {i}th output.\n"
                f"Traceback of the forward call that created it:\n{trace}"
            )


def _topo_order(root: Any) -> list[Any]:
    """Graph items reachable from ``root`` (a Function node, or a leaf Tensor), each after every
    item that feeds it (so reversed, each comes before its inputs).

    Iterative depth-first search: a recursive walk overflows Python's stack on long chains.
    """
    order: list[Any] = []
    visited: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    push, pop, mark = stack.append, stack.pop, visited.add  # bound once: this loop runs per node
    while stack:
        item, expanded = pop()
        if expanded:
            order.append(item)
            continue
        # Mark on expansion, not on push: an item reached again deeper in another branch must be
        # finished inside that branch, so that it comes before every item that uses it.
        key = id(item)
        if key in visited:
            continue
        mark(key)
        if isinstance(item, Tensor) or item._freed:
            order.append(item)  # a leaf, or a freed node (backward raises there): nothing to expand
            continue
        push((item, True))
        for e, need in zip(item.edges, item.needs_input_grad):
            if need and id(e) not in visited:
                push((e, False))
    return order


def _sole_refs() -> int:
    """What ``sys.getrefcount`` reports for an array held by one local variable only (the value
    differs between CPython versions, so it is measured rather than assumed)."""
    a = np.empty(1)
    return sys.getrefcount(a)


_SOLE_REFS = _sole_refs()


def backward(root: Tensor, gradient: Tensor | np.ndarray | None = None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    if not root.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if root.array.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        seed = np.ones_like(root.array)
    else:
        seed = np.asarray(gradient.array if isinstance(gradient, Tensor) else gradient, dtype=root.array.dtype)
        if seed.shape != root.array.shape:
            raise RuntimeError(
                f"backward: gradient has shape {seed.shape} but the output has shape {root.array.shape}"
            )
    start = root._ctx if root._ctx is not None else root
    grads: dict[int, np.ndarray] = {id(start): seed}
    pop_grad = grads.pop
    for item in reversed(_topo_order(start)):
        g = pop_grad(id(item), None)
        if g is None:
            continue
        if isinstance(item, Tensor):  # a leaf
            _accumulate(item, g)
            if _post_accumulate_hooks:
                _run_post_accumulate_hooks(item)
            continue
        ctx = item
        kept = getattr(ctx, "_retained", None)  # a non-leaf that asked to retain_grad()
        if kept is not None and kept() is not None:
            _accumulate(kept(), g)
        if ctx._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the graph "
                "are freed when you call .backward(). Specify retain_graph=True if you need to "
                "backward through the graph a second time."
            )
        _check_versions(ctx)
        in_grads = ctx.backward(g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if _anomaly:
            _check_finite(ctx, in_grads)
        for p, e, pg, need in zip(ctx.parents, ctx.edges, in_grads, ctx.needs_input_grad):
            if not need or pg is None:
                continue
            data = p.array
            if pg.shape != data.shape:
                pg = unbroadcast(pg, data.shape)
            if pg.dtype != data.dtype:
                pg = pg.astype(data.dtype)
            key = id(e)
            prev = grads.get(key)
            grads[key] = pg if prev is None else prev + pg
        if not retain_graph:
            ctx._free()
        g = in_grads = pg = None  # drop this node's references, so the refcount test sees only owners
    while _final_callbacks:
        _final_callbacks.pop(0)()


def _accumulate(t: Tensor, g: np.ndarray) -> None:
    """Add ``g`` into ``t.grad``, keeping a private copy: backward functions may hand the same
    array to several inputs."""
    if t.grad is None:
        if g.base is None and g.dtype == t.array.dtype and g.flags.writeable and sys.getrefcount(g) <= _SOLE_REFS + 1:
            t.grad = Tensor._wrap(g)  # a fresh array nothing else holds: adopt it without a copy
        else:
            t.grad = Tensor._wrap(np.array(g, dtype=t.array.dtype, copy=True))
    else:
        t.grad.array = t.grad.array + g


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when analytic and numeric gradients disagree."""


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Compare autograd gradients with central differences, in float64.

    For a random projection ``v`` of the output, checks d(v . fn(x))/dx element by element against
    ``(f(x + eps) - f(x - eps)) / (2 eps)``. Inputs that require grad must be float64.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in checked:
        if inputs[i].array.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {inputs[i].array.dtype}; use float64")
    out = fn(*inputs)
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(out.array.shape)

    def project(o: Tensor) -> float:
        return float(np.sum(o.array * v))

    for i in checked:
        inputs[i].grad = None
    (out * Tensor._wrap(v)).sum().backward()
    for i in checked:
        x = inputs[i]
        analytic = np.zeros_like(x.array) if x.grad is None else x.grad.array
        numeric = np.zeros(x.array.shape)
        data = x.array  # perturbed in place by multi-index: works for any memory layout
        with no_grad():
            for k in np.ndindex(data.shape):
                old = data[k]
                data[k] = old + eps
                plus = project(fn(*inputs))
                data[k] = old - eps
                minus = project(fn(*inputs))
                data[k] = old
                numeric[k] = (plus - minus) / (2 * eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            err = np.abs(analytic - numeric)
            idx = tuple(int(j) for j in np.unravel_index(int(np.argmax(err)), err.shape))
            msg = (
                f"gradcheck: gradient of input {i} (shape {x.shape}) is wrong at index {idx}: "
                f"analytic {analytic[idx]:.8g} vs numeric {numeric[idx]:.8g} "
                f"({int(bad.sum())} of {bad.size} elements disagree)"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


# Imported last: tensor.py imports the op modules, which import Function from here.
from deepling.tensor import Tensor  # noqa: E402
