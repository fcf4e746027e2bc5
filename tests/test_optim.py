"""Optimizers against PyTorch: same parameters, same gradient sequence, 25 steps, equal to 1e-5 relative."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import deepling as dl
import deepling.optim as optim

torch.set_num_threads(1)

SHAPES = [(6, 5), (5,), (3, 4, 2)]
STEPS = 25

# (name, deepling class, torch class, options): every option that changes the update, alone and combined.
CASES = [
    ("sgd", optim.SGD, torch.optim.SGD, dict(lr=0.1)),
    ("sgd-momentum", optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    ("sgd-dampening", optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("sgd-nesterov", optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("sgd-wd", optim.SGD, torch.optim.SGD, dict(lr=0.1, weight_decay=0.05)),
    ("sgd-maximize", optim.SGD, torch.optim.SGD, dict(lr=0.1, maximize=True)),
    ("sgd-momentum-wd-maximize", optim.SGD, torch.optim.SGD,
     dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01, maximize=True)),
    ("sgd-nesterov-wd-maximize", optim.SGD, torch.optim.SGD,
     dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.02, maximize=True)),
    ("adam", optim.Adam, torch.optim.Adam, dict(lr=0.01)),
    ("adam-amsgrad", optim.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
    ("adam-wd", optim.Adam, torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
    ("adam-maximize", optim.Adam, torch.optim.Adam, dict(lr=0.01, maximize=True)),
    ("adam-betas-eps", optim.Adam, torch.optim.Adam, dict(lr=0.02, betas=(0.5, 0.9), eps=1e-3)),
    ("adam-amsgrad-wd-maximize", optim.Adam, torch.optim.Adam,
     dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("adam-decoupled", optim.Adam, torch.optim.Adam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("adamw", optim.AdamW, torch.optim.AdamW, dict(lr=0.01)),
    ("adamw-wd-amsgrad", optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.2, amsgrad=True)),
    ("adamw-maximize", optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("rmsprop", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01)),
    ("rmsprop-centered", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, centered=True)),
    ("rmsprop-momentum", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.9)),
    ("rmsprop-alpha-eps", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, eps=1e-2)),
    ("rmsprop-wd", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, weight_decay=0.1)),
    ("rmsprop-maximize", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, maximize=True)),
    ("rmsprop-all", optim.RMSprop, torch.optim.RMSprop,
     dict(lr=0.01, alpha=0.95, centered=True, momentum=0.5, weight_decay=0.05, maximize=True)),
    ("adagrad", optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1)),
    ("adagrad-lr-decay", optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.05)),
    ("adagrad-wd", optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, weight_decay=0.1)),
    ("adagrad-init-acc", optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, initial_accumulator_value=0.5)),
    ("adagrad-maximize", optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, maximize=True)),
    ("adagrad-all", optim.Adagrad, torch.optim.Adagrad,
     dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-6, maximize=True)),
    ("adadelta", optim.Adadelta, torch.optim.Adadelta, dict()),
    ("adadelta-rho-eps-wd", optim.Adadelta, torch.optim.Adadelta, dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("adadelta-maximize", optim.Adadelta, torch.optim.Adadelta, dict(lr=0.5, maximize=True)),
    ("adamax", optim.Adamax, torch.optim.Adamax, dict()),
    ("adamax-wd-betas", optim.Adamax, torch.optim.Adamax, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("adamax-maximize", optim.Adamax, torch.optim.Adamax, dict(lr=0.01, maximize=True, eps=1e-3)),
    ("nadam", optim.NAdam, torch.optim.NAdam, dict()),
    ("nadam-wd", optim.NAdam, torch.optim.NAdam, dict(lr=0.01, weight_decay=0.1)),
    ("nadam-decoupled", optim.NAdam, torch.optim.NAdam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("nadam-momentum-decay-maximize", optim.NAdam, torch.optim.NAdam,
     dict(lr=0.01, momentum_decay=0.1, betas=(0.8, 0.9), maximize=True)),
    ("radam", optim.RAdam, torch.optim.RAdam, dict()),
    ("radam-wd", optim.RAdam, torch.optim.RAdam, dict(lr=0.01, weight_decay=0.1)),
    ("radam-decoupled", optim.RAdam, torch.optim.RAdam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    # beta2 = 0.9: rho_t passes 5 at step 6, so the rectified branch runs within the test's steps
    ("radam-rectified-maximize", optim.RAdam, torch.optim.RAdam, dict(lr=0.01, betas=(0.8, 0.9), maximize=True)),
]
IDS = [c[0] for c in CASES]


def _initial(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def _grads(steps: int, seed: int = 1) -> list[list[np.ndarray | None]]:
    """A fixed gradient sequence; the bias gets no gradient every third step (the step must skip it)."""
    rng = np.random.default_rng(seed)
    seq = []
    for k in range(steps):
        gs = [rng.standard_normal(s).astype(np.float32) * (1 + k % 3) for s in SHAPES]
        if k % 3 == 2:
            gs[1] = None
        seq.append(gs)
    return seq


class _Pair:
    """The same parameters in both frameworks, each with its optimizer."""

    def __init__(self, dl_cls, t_cls, options, groups=None, init=None):
        init = init if init is not None else _initial()
        self.dp = [dl.nn.Parameter(dl.tensor(a.copy())) for a in init]
        self.tp = [torch.nn.Parameter(torch.tensor(a.copy())) for a in init]
        self.dopt = dl_cls(self._groups(self.dp, groups), **options)
        self.topt = t_cls(self._groups(self.tp, groups), **options)

    @staticmethod
    def _groups(params, groups):
        if groups is None:
            return params
        return [dict(g, params=[params[i] for i in g["params"]]) for g in groups]

    def step(self, grads):
        for dp, tp, g in zip(self.dp, self.tp, grads):
            dp.grad = None if g is None else dl.tensor(g)
            tp.grad = None if g is None else torch.tensor(g)
        self.dopt.step()
        self.topt.step()

    def assert_close(self, what):
        for i, (dp, tp) in enumerate(zip(self.dp, self.tp)):
            np.testing.assert_allclose(dp.array, tp.detach().numpy(), rtol=1e-5, atol=1e-6,
                                       err_msg=f"{what}: parameter {i}")


@pytest.mark.parametrize("name,dl_cls,t_cls,options", CASES, ids=IDS)
def test_matches_torch_over_25_steps(name, dl_cls, t_cls, options):
    pair = _Pair(dl_cls, t_cls, options)
    for k, grads in enumerate(_grads(STEPS)):
        pair.step(grads)
        pair.assert_close(f"{name} step {k}")
    for dp in pair.dp:
        assert dp.dtype == np.float32


@pytest.mark.parametrize("name,dl_cls,t_cls,options", CASES, ids=IDS)
def test_state_dict_layout_matches_torch(name, dl_cls, t_cls, options):
    pair = _Pair(dl_cls, t_cls, options)
    for grads in _grads(3):
        pair.step(grads)
    dsd, tsd = pair.dopt.state_dict(), pair.topt.state_dict()
    assert [sorted(g) for g in dsd["param_groups"]] == [sorted(g) for g in tsd["param_groups"]]
    assert [g["params"] for g in dsd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    assert sorted(dsd["state"]) == sorted(tsd["state"])
    for i, tstate in tsd["state"].items():
        assert sorted(dsd["state"][i]) == sorted(tstate)
        for key, tval in tstate.items():
            if tval is None:
                assert dsd["state"][i][key] is None
                continue
            dval = dsd["state"][i][key]
            assert isinstance(dval, dl.Tensor)
            np.testing.assert_allclose(dval.array, tval.numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{name} {i} {key}")
            assert dval.dtype == np.float32


PARAM_GROUPS = [{"params": [0], "lr": 0.3}, {"params": [1, 2]}]


@pytest.mark.parametrize("name,dl_cls,t_cls,options", [
    ("sgd", optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    ("adam", optim.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
    ("adamw", optim.AdamW, torch.optim.AdamW, dict(lr=0.01)),
    ("rmsprop", optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.3)),
    ("adagrad", optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
], ids=["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_param_groups_with_their_own_options(name, dl_cls, t_cls, options):
    groups = [{"params": [0], "lr": 0.3, "weight_decay": 0.1}, {"params": [1, 2], "lr": 0.002}]
    pair = _Pair(dl_cls, t_cls, options, groups=groups)
    assert pair.dopt.param_groups[0]["lr"] == 0.3 and pair.dopt.param_groups[1]["lr"] == 0.002
    assert pair.dopt.param_groups[1]["weight_decay"] == pair.topt.param_groups[1]["weight_decay"]
    for k, grads in enumerate(_grads(STEPS)):
        pair.step(grads)
        pair.assert_close(f"{name} groups step {k}")


def test_add_param_group_matches_torch():
    pair = _Pair(optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9), groups=[{"params": [0, 1]}])
    seq = _grads(STEPS)
    for grads in seq[:5]:
        pair.step(grads)
    pair.dopt.add_param_group({"params": [pair.dp[2]], "lr": 0.01, "nesterov": True})
    pair.topt.add_param_group({"params": [pair.tp[2]], "lr": 0.01, "nesterov": True})
    assert pair.dopt.param_groups[1]["momentum"] == 0.9
    for grads in seq[5:]:
        pair.step(grads)
        pair.assert_close("after add_param_group")


def test_gradients_from_a_quadratic_loss_in_both_frameworks():
    """Gradients come from each framework's autograd of the same loss ||A w - b||^2 + ||w||^2."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((8, 4)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    w0 = rng.standard_normal(4).astype(np.float32)
    for dl_cls, t_cls, opts in [(optim.Adam, torch.optim.Adam, dict(lr=0.05)),
                                (optim.SGD, torch.optim.SGD, dict(lr=0.01, momentum=0.9, nesterov=True)),
                                (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, centered=True))]:
        dw, tw = dl.nn.Parameter(dl.tensor(w0.copy())), torch.nn.Parameter(torch.tensor(w0.copy()))
        dopt, topt = dl_cls([dw], **opts), t_cls([tw], **opts)
        da, db, ta, tb = dl.tensor(a), dl.tensor(b), torch.tensor(a), torch.tensor(b)
        losses = []
        for _ in range(30):
            dopt.zero_grad()
            topt.zero_grad()
            dl_loss = ((da @ dw - db) ** 2).sum() + (dw * dw).sum()
            t_loss = ((ta @ tw - tb) ** 2).sum() + (tw * tw).sum()
            dl_loss.backward()
            t_loss.backward()
            dopt.step()
            topt.step()
            losses.append(dl_loss.item())
            np.testing.assert_allclose(dl_loss.item(), t_loss.item(), rtol=1e-5)
            np.testing.assert_allclose(dw.array, tw.detach().numpy(), rtol=1e-5, atol=1e-6)
        assert losses[-1] < losses[0]


def test_step_with_closure_returns_the_loss():
    w = dl.nn.Parameter(dl.tensor([1.0, -2.0]))
    tw = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt, topt = optim.SGD([w], lr=0.1), torch.optim.SGD([tw], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = (tw * tw).sum()
        loss.backward()
        return loss

    for _ in range(3):
        loss, tloss = opt.step(closure), topt.step(tclosure)
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-6)
    np.testing.assert_allclose(w.array, tw.detach().numpy(), rtol=1e-6)


def test_updates_are_in_place_and_keep_dtype():
    init = _initial()
    for dl_cls, opts in [(optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)), (optim.Adam, dict(amsgrad=True)),
                         (optim.AdamW, {}), (optim.RMSprop, dict(centered=True, momentum=0.9)),
                         (optim.Adagrad, dict(weight_decay=0.1))]:
        params = [dl.nn.Parameter(dl.tensor(a.copy())) for a in init]
        arrays = [p.array for p in params]
        opt = dl_cls(params, **opts)
        for grads in _grads(4):
            for p, g in zip(params, grads):
                p.grad = None if g is None else dl.tensor(g)
            opt.step()
        for p, arr, a0 in zip(params, arrays, init):
            assert p.array is arr, f"{dl_cls.__name__} replaced a parameter's array"
            assert p.dtype == np.float32
            assert not np.array_equal(p.array, a0)
        for state in opt.state.values():
            for v in state.values():
                assert isinstance(v, dl.Tensor) and v.dtype == np.float32


def test_float64_parameters_stay_float64():
    w = dl.nn.Parameter(dl.tensor(np.arange(4.0), dtype=np.float64))
    tw = torch.nn.Parameter(torch.arange(4.0, dtype=torch.float64))
    opt, topt = optim.Adam([w], lr=0.1), torch.optim.Adam([tw], lr=0.1)
    for k in range(5):
        g = np.linspace(-1, 1, 4) * (k + 1)
        w.grad, tw.grad = dl.tensor(g, dtype=np.float64), torch.tensor(g)
        opt.step()
        topt.step()
    assert w.dtype == np.float64 and opt.state[w]["exp_avg"].dtype == np.float64
    np.testing.assert_allclose(w.array, tw.detach().numpy(), rtol=1e-12)


def test_parameters_without_grad_are_skipped():
    p, q = dl.nn.Parameter(dl.ones(3)), dl.nn.Parameter(dl.ones(2))
    opt = optim.Adam([p, q], lr=0.1)
    p.grad = dl.ones(3)
    opt.step()
    np.testing.assert_array_equal(q.array, np.ones(2, np.float32))
    assert q not in opt.state and float(opt.state[p]["step"].array) == 1.0


def test_zero_grad():
    p = dl.nn.Parameter(dl.ones(3))
    opt = optim.SGD([p], lr=0.1)
    p.grad = dl.ones(3)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and not np.any(p.grad.array)
    opt.zero_grad()
    assert p.grad is None


def test_model_parameters_and_named_parameters():
    model = dl.nn.Sequential(dl.nn.Linear(4, 3), dl.nn.Linear(3, 2))
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 4
    named = optim.Adam(model.named_parameters())
    assert named.param_groups[0]["param_names"] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    x = dl.randn(5, 4)
    before = [p.array.copy() for p in model.parameters()]
    model(x).sum().backward()
    opt.step()
    assert all(not np.array_equal(b, p.array) for b, p in zip(before, model.parameters()))


# ---------------------------------------------------------------------------------------------- state_dict
def _train(opt, params, seq):
    for grads in seq:
        for p, g in zip(params, grads):
            p.grad = None if g is None else dl.tensor(g)
        opt.step()


@pytest.mark.parametrize("name,dl_cls,t_cls,options", CASES, ids=IDS)
def test_state_dict_round_trip_resumes_identically(name, dl_cls, t_cls, options):
    seq = _grads(10)
    init = _initial()
    # uninterrupted: 10 steps
    ref = [dl.nn.Parameter(dl.tensor(a.copy())) for a in init]
    _train(dl_cls(ref, **options), ref, seq)
    # 5 steps, save, a fresh optimizer loads the saved state, 5 more steps
    params = [dl.nn.Parameter(dl.tensor(a.copy())) for a in init]
    opt = dl_cls(params, **options)
    _train(opt, params, seq[:5])
    saved = copy.deepcopy(opt.state_dict())
    del opt
    fresh = dl_cls(params, lr=123.0)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == options.get("lr", dl_cls([dl.nn.Parameter(dl.ones(1))]).defaults["lr"])
    _train(fresh, params, seq[5:])
    for i, (p, r) in enumerate(zip(params, ref)):
        np.testing.assert_array_equal(p.array, r.array, err_msg=f"{name}: parameter {i}")
    # the loaded optimizer owns its buffers: training it did not touch the saved dict
    for i, state in saved["state"].items():
        for key, v in state.items():
            if isinstance(v, dl.Tensor) and key in fresh.state[params[i]]:
                assert v.array is not fresh.state[params[i]][key].array


@pytest.mark.parametrize("name,dl_cls,t_cls,options", CASES, ids=IDS)
def test_torch_state_dict_loads_and_continues(name, dl_cls, t_cls, options):
    """Torch trains 5 steps; deepling loads torch's state_dict and continues as torch does."""
    seq = _grads(10)
    pair = _Pair(dl_cls, t_cls, options)
    for grads in seq[:5]:
        pair.step(grads)
    for dp, tp in zip(pair.dp, pair.tp):
        dp.array[...] = tp.detach().numpy()
    pair.dopt = dl_cls(pair.dp, lr=1.0)
    pair.dopt.load_state_dict(pair.topt.state_dict())
    for grads in seq[5:]:
        pair.step(grads)
    pair.assert_close(f"{name} after loading torch's state")


def test_load_state_dict_checks_groups():
    p, q = dl.nn.Parameter(dl.ones(3)), dl.nn.Parameter(dl.ones(2))
    sd = optim.SGD([p, q], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [p]}, {"params": [q]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([p], lr=0.1).load_state_dict(sd)
    adam = optim.Adam([p])
    p.grad = dl.ones(3)
    adam.step()
    with pytest.raises(ValueError, match=r"exp_avg.*shape \(3,\).*shape \(2,\)"):
        optim.Adam([q]).load_state_dict(adam.state_dict())


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("dl_cls,t_cls,options", [
    (optim.SGD, torch.optim.SGD, dict(lr=-0.1)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=-0.5)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.1, weight_decay=-1)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.1, nesterov=True)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    (optim.Adam, torch.optim.Adam, dict(lr=-1e-3)),
    (optim.Adam, torch.optim.Adam, dict(betas=(1.0, 0.999))),
    (optim.Adam, torch.optim.Adam, dict(betas=(0.9, -0.1))),
    (optim.Adam, torch.optim.Adam, dict(eps=-1e-8)),
    (optim.AdamW, torch.optim.AdamW, dict(weight_decay=-0.01)),
    (optim.RMSprop, torch.optim.RMSprop, dict(alpha=-0.9)),
    (optim.RMSprop, torch.optim.RMSprop, dict(momentum=-0.9)),
    (optim.Adagrad, torch.optim.Adagrad, dict(lr_decay=-0.1)),
    (optim.Adagrad, torch.optim.Adagrad, dict(initial_accumulator_value=-1.0)),
])
def test_invalid_options_raise_torchs_value_error(dl_cls, t_cls, options):
    with pytest.raises(ValueError) as terr:
        t_cls([torch.nn.Parameter(torch.ones(2))], **options)
    with pytest.raises(ValueError) as derr:
        dl_cls([dl.nn.Parameter(dl.ones(2))], **options)
    assert str(derr.value) == str(terr.value)


def test_bad_params_raise():
    p = dl.nn.Parameter(dl.ones(2))
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    p.grad = dl.ones(3)
    with pytest.raises(ValueError, match=r"SGD.step: gradient of shape \(3,\) .* shape \(2,\)"):
        opt.step()


def test_repr_lists_groups():
    opt = optim.Adam([dl.nn.Parameter(dl.ones(2))], lr=0.01)
    text = repr(opt)
    assert text.startswith("Adam (") and "Parameter Group 0" in text and "lr: 0.01" in text


@pytest.mark.parametrize("dl_cls,options", [
    (optim.SGD, dict(lr=0.05, momentum=0.9)), (optim.Adam, dict(lr=0.02)), (optim.AdamW, dict(lr=0.02)),
    (optim.RMSprop, dict(lr=0.005)), (optim.Adagrad, dict(lr=0.1)),
], ids=["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_each_optimizer_trains_a_small_network(dl_cls, options):
    """A 2-16-1 tanh network fits y = sin(x1) * x2 on 64 fixed points: the loss falls 10x in 300 steps."""
    dl.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (64, 2)).astype(np.float32)
    y = (np.sin(x[:, :1]) * x[:, 1:]).astype(np.float32)
    model = dl.nn.Sequential(dl.nn.Linear(2, 16), dl.nn.Linear(16, 1))
    opt = dl_cls(model.parameters(), **options)
    xt, yt = dl.tensor(x), dl.tensor(y)

    def loss_fn():
        return ((model[1](model[0](xt).tanh()) - yt) ** 2).mean()

    first = loss_fn().item()
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss_fn().item() < first / 10


@pytest.mark.parametrize("name,dl_cls,t_cls,options", CASES, ids=IDS)
def test_step_allocates_no_parameter_sized_arrays(name, dl_cls, t_cls, options):
    """After the first steps (state and scratch created), a step works in place: it allocates well
    under one parameter's worth of memory (numpy reports its allocations to tracemalloc)."""
    import tracemalloc

    p = dl.nn.Parameter(dl.tensor(np.linspace(-1, 1, 200_000, dtype=np.float32)))
    p.grad = dl.tensor(np.cos(np.arange(200_000, dtype=np.float32)))
    opt = dl_cls([p], **options)
    opt.step()
    opt.step()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < p.array.nbytes // 8, f"{name}: a step allocated {peak} bytes (parameter: {p.array.nbytes})"
