"""Adadelta, Adamax, NAdam, RAdam and LBFGS against PyTorch on a small float64 model, to rounding.

Each framework computes its own gradients (its own autograd) of the same loss on the same weights;
after every step the parameters agree to 1e-10 relative. State dicts go both ways: torch's loads
into deepling, deepling's into torch, and both continue as the uninterrupted run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepling as dl
import deepling.optim as optim

torch.set_num_threads(1)
STEPS = 20
RTOL, ATOL = 1e-10, 1e-12


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 4))
    y = np.sin(x[:, :2]) + 0.1 * rng.standard_normal((16, 2))
    return x, y


class _Models:
    """A 4-8-2 tanh MLP in float64, identical in both frameworks."""

    def __init__(self, seed: int = 0) -> None:
        dl.manual_seed(seed)
        self.dm = dl.nn.Sequential(dl.nn.Linear(4, 8), dl.nn.Tanh(), dl.nn.Linear(8, 2)).double()
        self.tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
        with torch.no_grad():
            for tp, dp in zip(self.tm.parameters(), self.dm.parameters()):
                tp.copy_(torch.from_numpy(dp.array.copy()))
        x, y = _data()
        self.dx, self.dy = dl.tensor(x, dtype=np.float64), dl.tensor(y, dtype=np.float64)
        self.tx, self.ty = torch.from_numpy(x), torch.from_numpy(y)

    def dl_loss(self):
        return ((self.dm(self.dx) - self.dy) ** 2).mean()

    def torch_loss(self):
        return ((self.tm(self.tx) - self.ty) ** 2).mean()

    def dl_closure(self, opt):
        def closure():
            opt.zero_grad()
            loss = self.dl_loss()
            loss.backward()
            return loss
        return closure

    def torch_closure(self, opt):
        def closure():
            opt.zero_grad()
            loss = self.torch_loss()
            loss.backward()
            return loss
        return closure

    def assert_close(self, what: str, rtol: float = RTOL, atol: float = ATOL) -> None:
        for i, (dp, tp) in enumerate(zip(self.dm.parameters(), self.tm.parameters())):
            assert dp.dtype == np.float64
            np.testing.assert_allclose(dp.array, tp.detach().numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"{what}: parameter {i}")


CASES = [
    ("adadelta", optim.Adadelta, torch.optim.Adadelta, dict()),
    ("adadelta-wd", optim.Adadelta, torch.optim.Adadelta, dict(lr=0.5, rho=0.8, weight_decay=0.05)),
    ("adadelta-maximize", optim.Adadelta, torch.optim.Adadelta, dict(lr=0.2, eps=1e-4, maximize=True)),
    ("adamax", optim.Adamax, torch.optim.Adamax, dict(lr=0.01)),
    ("adamax-wd", optim.Adamax, torch.optim.Adamax, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05)),
    ("nadam", optim.NAdam, torch.optim.NAdam, dict(lr=0.01)),
    ("nadam-wd", optim.NAdam, torch.optim.NAdam, dict(lr=0.01, weight_decay=0.05)),
    ("nadam-decoupled", optim.NAdam, torch.optim.NAdam,
     dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True, momentum_decay=0.01)),
    ("radam", optim.RAdam, torch.optim.RAdam, dict(lr=0.01)),
    ("radam-rectified-wd", optim.RAdam, torch.optim.RAdam, dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.05)),
    ("radam-decoupled", optim.RAdam, torch.optim.RAdam,
     dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.05, decoupled_weight_decay=True)),
    # LBFGS runs max_iter iterations per step; 20 steps of a few keep rounding's amplification small
    ("lbfgs", optim.LBFGS, torch.optim.LBFGS, dict(lr=0.5, max_iter=2, history_size=3)),
    ("lbfgs-strong-wolfe", optim.LBFGS, torch.optim.LBFGS, dict(line_search_fn="strong_wolfe", max_iter=4)),
    ("lbfgs-strong-wolfe-short-history", optim.LBFGS, torch.optim.LBFGS,
     dict(line_search_fn="strong_wolfe", history_size=2, max_iter=3, max_eval=4)),
]
IDS = [c[0] for c in CASES]


def _run(models, dopt, topt, steps, what):
    # LBFGS: tens of quasi-Newton iterations (and line-search trials) compound the last-bit differences
    # of the two BLAS libraries' dot products. Measured: torch against itself with the parameters scaled
    # by 1 + 1e-15 differs by 1.1e-7 relative after 20 strong-Wolfe steps, so 1e-6 is rounding, not a change.
    rtol, atol = (1e-6, 1e-9) if isinstance(dopt, optim.LBFGS) else (RTOL, ATOL)
    for k in range(steps):
        dloss = dopt.step(models.dl_closure(dopt))
        tloss = topt.step(models.torch_closure(topt))
        assert dloss.item() == pytest.approx(tloss.item(), rel=rtol, abs=1e-14), f"{what} step {k}"
        models.assert_close(f"{what} step {k}", rtol, atol)


@pytest.mark.parametrize("name,dl_cls,t_cls,options", CASES, ids=IDS)
def test_matches_torch_over_20_steps_in_float64(name, dl_cls, t_cls, options):
    models = _Models()
    dopt, topt = dl_cls(models.dm.parameters(), **options), t_cls(models.tm.parameters(), **options)
    assert dopt.defaults == topt.defaults
    _run(models, dopt, topt, STEPS, name)
    if not options.get("maximize"):
        assert models.dl_loss().item() < _Models().dl_loss().item()


def _to_torch(value):
    if isinstance(value, dl.Tensor):
        return torch.from_numpy(value.array.copy())
    if isinstance(value, list):
        return [_to_torch(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_torch(v) for k, v in value.items()}
    return value


def _to_deepling_layout(value):
    """Torch's state values in the types deepling keeps them (a tensor-valued t, H_diag as plain numbers)."""
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape))
    if isinstance(value, list):
        return [_to_deepling_layout(v) for v in value]
    return type(value).__name__


@pytest.mark.parametrize("name,dl_cls,t_cls,options", CASES, ids=IDS)
def test_state_dict_both_ways(name, dl_cls, t_cls, options):
    """Run 5 steps; then torch's state continues in deepling and deepling's in torch, 5 more steps."""
    models = _Models()
    dopt, topt = dl_cls(models.dm.parameters(), **options), t_cls(models.tm.parameters(), **options)
    _run(models, dopt, topt, 5, name)
    dsd, tsd = dopt.state_dict(), topt.state_dict()
    assert dsd["param_groups"] == tsd["param_groups"]
    assert sorted(dsd["state"]) == sorted(tsd["state"])
    for i, tstate in tsd["state"].items():
        assert sorted(dsd["state"][i]) == sorted(tstate), f"{name}: state keys of parameter {i}"
        for key, tval in tstate.items():
            dval = dsd["state"][i][key]
            if isinstance(tval, torch.Tensor) and tval.ndim:
                np.testing.assert_allclose(dval.array, tval.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"{name} {key}")
            elif isinstance(tval, list):
                assert len(dval) == len(tval), f"{name} {key}"
            else:  # scalars: a 0-d tensor in one, a number in the other when PyTorch's own type varies (LBFGS t)
                assert float(dval.item() if isinstance(dval, dl.Tensor) else dval) == pytest.approx(float(tval), rel=1e-9)
    # swap: each framework's optimizer restarts from the other's state
    dnew = dl_cls(models.dm.parameters(), lr=123.0)
    dnew.load_state_dict(tsd)
    tnew = t_cls(models.tm.parameters(), lr=123.0)
    tnew.load_state_dict(_to_torch(dsd))
    assert dnew.param_groups[0]["lr"] == options.get("lr", dl_cls(models.dm.parameters()).defaults["lr"])
    _run(models, dnew, tnew, 5, name + " after swapping states")


@pytest.mark.parametrize("name,dl_cls,t_cls,options", [c for c in CASES if c[1] is not optim.LBFGS],
                         ids=[c[0] for c in CASES if c[1] is not optim.LBFGS])
def test_param_groups_with_their_own_options(name, dl_cls, t_cls, options):
    models = _Models()

    def groups(m):
        layers = list(m.children())
        return [{"params": layers[0].parameters(), "lr": 0.02, "weight_decay": 0.1},
                {"params": layers[2].parameters()}]

    dopt, topt = dl_cls(groups(models.dm), **options), t_cls(groups(models.tm), **options)
    assert [sorted(g) for g in dopt.param_groups] == [sorted(g) for g in topt.param_groups]
    _run(models, dopt, topt, 10, name + " groups")


@pytest.mark.parametrize("opts", [dict(tolerance_grad=1e-3), dict(tolerance_change=1e-3), dict(max_eval=3),
                                  dict(line_search_fn="strong_wolfe", tolerance_grad=1e-5)])
def test_lbfgs_stops_as_torch_on_tolerances(opts):
    """A quadratic: the tolerances and max_eval stop a step early; func_evals and n_iter match torch."""
    a = np.diag(np.arange(1.0, 6.0))
    dw, tw = dl.nn.Parameter(dl.tensor(np.ones(5), dtype=np.float64)), torch.nn.Parameter(torch.ones(5, dtype=torch.float64))
    dopt, topt = optim.LBFGS([dw], **opts), torch.optim.LBFGS([tw], **opts)
    da, ta = dl.tensor(a, dtype=np.float64), torch.from_numpy(a)

    def dclosure():
        dopt.zero_grad()
        loss = (dw * (da @ dw)).sum() * 0.5
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = (tw * (ta @ tw)).sum() * 0.5
        loss.backward()
        return loss

    for _ in range(3):
        dopt.step(dclosure)
        topt.step(tclosure)
        np.testing.assert_allclose(dw.array, tw.detach().numpy(), rtol=1e-10, atol=1e-14)
        ds, ts = dopt.state[dw], topt.state[tw]
        assert (ds["func_evals"], ds["n_iter"]) == (ts["func_evals"], ts["n_iter"])


def test_lbfgs_float32_matches_torch():
    """float32, 8 iterations: equal to float32 rounding. (Further on, where the loss is flat to float32
    precision, the two line searches may take different trials: both then sit at the minimum.)"""
    w0 = np.linspace(-1, 1, 6).astype(np.float32)
    dw, tw = dl.nn.Parameter(dl.tensor(w0.copy())), torch.nn.Parameter(torch.tensor(w0.copy()))
    dopt = optim.LBFGS([dw], line_search_fn="strong_wolfe", max_iter=8)
    topt = torch.optim.LBFGS([tw], line_search_fn="strong_wolfe", max_iter=8)

    def dclosure():
        dopt.zero_grad()
        loss = ((dw - 0.5) ** 4).sum() + (dw**2).sum()
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = ((tw - 0.5) ** 4).sum() + (tw**2).sum()
        loss.backward()
        return loss

    dopt.step(dclosure)
    topt.step(tclosure)
    assert dw.dtype == np.float32 and dopt.state[dw]["d"].dtype == np.float32
    np.testing.assert_allclose(dw.array, tw.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert dopt.state[dw]["func_evals"] == topt.state[tw]["func_evals"]


def test_lbfgs_state_dict_saves_and_loads_with_deepling_save(tmp_path):
    models = _Models()
    dopt = optim.LBFGS(models.dm.parameters(), history_size=4, line_search_fn="strong_wolfe", max_iter=3)
    for _ in range(3):
        dopt.step(models.dl_closure(dopt))
    dl.save(dopt.state_dict(), tmp_path / "lbfgs.dl")
    after = [p.array.copy() for p in models.dm.parameters()]
    dopt.step(models.dl_closure(dopt))
    expected = [p.array.copy() for p in models.dm.parameters()]
    for p, a in zip(models.dm.parameters(), after):
        p.array[...] = a
    fresh = optim.LBFGS(models.dm.parameters())
    fresh.load_state_dict(dl.load(tmp_path / "lbfgs.dl"))
    fresh.step(models.dl_closure(fresh))
    for p, e in zip(models.dm.parameters(), expected):
        np.testing.assert_array_equal(p.array, e)


def test_lbfgs_errors():
    p, q = dl.nn.Parameter(dl.ones(2)), dl.nn.Parameter(dl.ones(3))
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [p]}, {"params": [q]}])
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([p]).add_param_group({"params": [q]})
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS([p], line_search_fn="armijo")
    with pytest.raises(ValueError, match="needs a closure"):
        optim.LBFGS([p]).step(None)
    opt = optim.LBFGS([p])
    sd = {"state": {0: {"d": np.ones(5), "func_evals": 1, "n_iter": 1}}, "param_groups": opt.state_dict()["param_groups"]}
    with pytest.raises(ValueError, match=r"state 'd' has shape \(5,\), but the parameters flatten to \(2,\)"):
        opt.load_state_dict(sd)


@pytest.mark.parametrize("dl_cls,t_cls,options", [
    (optim.Adadelta, torch.optim.Adadelta, dict(rho=1.5)),
    (optim.Adadelta, torch.optim.Adadelta, dict(lr=-1.0)),
    (optim.Adadelta, torch.optim.Adadelta, dict(eps=-1.0)),
    (optim.Adamax, torch.optim.Adamax, dict(betas=(0.9, 1.0))),
    (optim.Adamax, torch.optim.Adamax, dict(weight_decay=-0.1)),
    (optim.NAdam, torch.optim.NAdam, dict(momentum_decay=-0.1)),
    (optim.NAdam, torch.optim.NAdam, dict(betas=(1.0, 0.9))),
    (optim.RAdam, torch.optim.RAdam, dict(eps=-1.0)),
    (optim.RAdam, torch.optim.RAdam, dict(weight_decay=-1.0)),
    (optim.LBFGS, torch.optim.LBFGS, dict(lr=-1.0)),
])
def test_invalid_options_raise_torchs_value_error(dl_cls, t_cls, options):
    with pytest.raises(ValueError) as terr:
        t_cls([torch.nn.Parameter(torch.ones(2))], **options)
    with pytest.raises(ValueError) as derr:
        dl_cls([dl.nn.Parameter(dl.ones(2))], **options)
    assert str(derr.value) == str(terr.value)


def test_adadelta_trains_a_model_with_defaults():
    """``optim.Adadelta(model.parameters(), lr=1.0)`` as pytorch/examples' mnist uses it: the loss falls."""
    models = _Models()
    opt = optim.Adadelta(models.dm.parameters(), lr=1.0)
    first = models.dl_loss().item()
    for _ in range(100):
        opt.step(models.dl_closure(opt))
    assert models.dl_loss().item() < first / 2
