"""L-BFGS: quasi-Newton steps from the last ``history_size`` gradient differences, optional strong-Wolfe search.

The algorithm, step for step, is PyTorch's ``torch.optim.LBFGS`` (itself a port of minFunc's and
Torch7's ``lbfgs.lua`` / ``lswolfe.lua``): the same stopping tests, the same first step length, the
same bracketing and zoom of the line search, so a run matches PyTorch's to rounding.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

import numpy as np

from deepling.optim.optimizer import Optimizer
from deepling.serialization import as_numpy, is_array_like
from deepling.tensor import Tensor

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1, slope g1) and (x2, f2, slope g2), clipped to ``bounds``."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Line search along ``d`` for a step ``t`` meeting the strong Wolfe conditions.

    Sufficient decrease ``f(t) <= f + c1 t gtd`` and curvature ``|g(t).d| <= -c2 gtd``: bracket an
    interval holding such a point, then shrink it by cubic interpolation. Returns
    ``(f_new, g_new, t, evaluations)``.
    """
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate: the next trial lies between 1.01 t and 10 t
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket until a point meets the conditions
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # too close to an end of the bracket twice in a row (or outside it): move 10% inside
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # no sufficient decrease, or not below the low end: t becomes the high end
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def _scalar(x: Any) -> Any:
    """A 0-d state Tensor as a NumPy scalar of its dtype (how the step computes with it)."""
    return x.array[()] if isinstance(x, Tensor) else x


def _tensor(x: Any) -> Any:
    """Arrays and NumPy scalars of the step as Tensors in ``state`` (how ``state_dict`` shows them)."""
    if isinstance(x, np.ndarray | np.generic):
        return Tensor._wrap(np.asarray(x))
    if isinstance(x, list):
        return [_tensor(v) for v in x]
    return x


def _array(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.array if x.ndim else x.array[()]
    if isinstance(x, list):
        return [_array(v) for v in x]
    return x


class LBFGS(Optimizer):
    """L-BFGS (Nocedal 1980; Liu & Nocedal 1989) on all parameters flattened into one vector.

    ``step(closure)`` runs up to ``max_iter`` iterations (``max_eval`` closure calls, default
    ``max_iter * 5 // 4``). Each iteration: the direction ``d = -H g`` from the two-loop recursion
    over the last ``history_size`` pairs ``(s, y)`` (``s`` a step, ``y`` the gradient change, kept when
    ``y.s > 1e-10``), with ``H_0 = (y.s / y.y) I``; the step length is ``lr`` (the first iteration
    ever: ``min(1, 1 / |g|_1) * lr``), or the strong-Wolfe search's when
    ``line_search_fn="strong_wolfe"``. It stops when ``max|g| <= tolerance_grad``, or a step or a
    change of the loss falls below ``tolerance_change``. ``closure`` must clear the gradients,
    compute the loss, call ``backward()`` and return the loss. One parameter group only; the state
    lives under the first parameter, as PyTorch keeps it.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe' (got {line_search_fn!r})")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # ------------------------------------------------------------------ the flat vector
    def _numel(self) -> int:
        return sum(p.array.size for p in self._params)

    def _gather_flat_grad(self) -> np.ndarray:
        return np.concatenate([np.zeros(p.array.size, p.array.dtype) if p.grad is None else
                               p.grad.array.reshape(-1) for p in self._params])

    def _add_grad(self, step_size: Any, update: np.ndarray) -> None:
        offset = 0
        for p in self._params:
            n = p.array.size
            p.array += step_size * update[offset : offset + n].reshape(p.array.shape)
            offset += n

    def _clone_param(self) -> list[np.ndarray]:
        return [p.array.copy() for p in self._params]

    def _set_param(self, params_data: list[np.ndarray]) -> None:
        for p, data in zip(self._params, params_data):
            p.array[...] = data

    def _directional_evaluate(self, closure: Callable[[], Any], x: list[np.ndarray], t: Any,
                              d: np.ndarray) -> tuple[float, np.ndarray]:
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ------------------------------------------------------------------ step
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        if closure is None:
            raise ValueError("LBFGS.step: needs a closure that re-evaluates the model and returns the loss")

        def evaluate() -> Any:
            return self._evaluate(closure)

        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = evaluate()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        opt_cond = np.abs(flat_grad).max() <= tolerance_grad
        if opt_cond:
            return orig_loss

        d, t = _array(state.get("d")), _array(state.get("t"))
        old_dirs, old_stps, ro = _array(state.get("old_dirs")), _array(state.get("old_stps")), _array(state.get("ro"))
        H_diag, prev_flat_grad = _array(state.get("H_diag")), _array(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")
        al = _array(state.get("al"))

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            # the direction: steepest descent at first, then the two-loop recursion
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                num_old = len(old_dirs)
                if al is None:
                    al = [None] * history_size
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # the step length
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(evaluate, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd,
                                                                  max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:
                    # re-evaluate only if another iteration follows (a stochastic closure gains nothing)
                    loss = float(evaluate())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"], state["t"] = _tensor(d), _tensor(t)
        state["old_dirs"], state["old_stps"], state["ro"] = _tensor(old_dirs), _tensor(old_stps), _tensor(ro)
        state["H_diag"], state["prev_flat_grad"], state["prev_loss"] = _tensor(H_diag), _tensor(prev_flat_grad), prev_loss
        if al is not None:
            state["al"] = _tensor(al)
        return orig_loss

    # ------------------------------------------------------------------ state_dict
    def _cast(self, p: Tensor, key: str, value: Any) -> Any:
        # LBFGS's state holds flat vectors (numel,), 0-d scalars and lists of them, not parameter-shaped buffers.
        if is_array_like(value):
            arr = as_numpy(value)
            if arr.ndim and arr.shape != (self._numel(),):
                raise ValueError(f"LBFGS.load_state_dict: state '{key}' has shape {arr.shape}, but the parameters "
                                 f"flatten to ({self._numel()},)")
            dtype = p.dtype if p.array.dtype.kind == "f" else arr.dtype
            return Tensor._wrap(np.array(arr, dtype=dtype, copy=True))
        if isinstance(value, list | tuple):
            return type(value)(self._cast(p, key, v) for v in value)
        return copy.deepcopy(value)
