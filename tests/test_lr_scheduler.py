"""Learning-rate schedules against PyTorch: the same lr sequence, step by step, for 25+ steps."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch

import deepling as dl
import deepling.optim as optim
from deepling.optim import lr_scheduler as dls

tls = torch.optim.lr_scheduler
STEPS = 30


def _optimizers(dl_cls=optim.SGD, t_cls=torch.optim.SGD, lrs=(0.1, 0.02), **options):
    """Two param groups with different lrs, in both frameworks."""
    dp = [dl.nn.Parameter(dl.ones(2)) for _ in lrs]
    tp = [torch.nn.Parameter(torch.ones(2)) for _ in lrs]
    dopt = dl_cls([{"params": [p], "lr": lr} for p, lr in zip(dp, lrs)], **options)
    topt = t_cls([{"params": [p], "lr": lr} for p, lr in zip(tp, lrs)], **options)
    return dopt, topt


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


def _assert_same(dsched, tsched, dopt, topt, what):
    np.testing.assert_allclose(dsched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12, atol=0, err_msg=what)
    np.testing.assert_allclose(_lrs(dopt), _lrs(topt), rtol=1e-12, atol=0, err_msg=what)


def _tick(opt, sched):
    opt.step()
    sched.step()


def _run(make, steps=STEPS, dl_cls=optim.SGD, t_cls=torch.optim.SGD, **options):
    """Build the schedule ``make(module, optimizer)`` in both frameworks and compare each step's lrs."""
    dopt, topt = _optimizers(dl_cls, t_cls, **options)
    dsched, tsched = make(dls, dopt), make(tls, topt)
    _assert_same(dsched, tsched, dopt, topt, "after construction")
    seen = set()
    for k in range(steps):
        dopt.step()
        topt.step()
        dsched.step()
        tsched.step()
        _assert_same(dsched, tsched, dopt, topt, f"step {k}")
        seen.add(round(dsched.get_last_lr()[0], 12))
    assert len(seen) > 1, "the schedule never changed the lr"
    return dopt, topt, dsched, tsched


SCHEDULES = {
    "step": lambda m, o: m.StepLR(o, step_size=4, gamma=0.5),
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[3, 7, 7, 15], gamma=0.3),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=10),
    "cosine-eta-min": lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    "lambda": lambda m, o: m.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1 + e)),
    "lambda-per-group": lambda m, o: m.LambdaLR(o, lr_lambda=[lambda e: 0.95**e, lambda e: 1 + 0.1 * e]),
    "linear": lambda m, o: m.LinearLR(o),
    "linear-custom": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.6, total_iters=12),
    "constant": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=6),
    "sequential-warmup-cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=20)], milestones=[5]),
    "sequential-three": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.5, total_iters=10), m.ExponentialLR(o, gamma=0.8),
            m.StepLR(o, step_size=3, gamma=0.5)], milestones=[4, 12]),
    "multiplicative": lambda m, o: m.MultiplicativeLR(o, lr_lambda=lambda e: 0.9 if e % 2 else 1.02),
    "polynomial": lambda m, o: m.PolynomialLR(o, total_iters=20, power=2.0),
    "chained": lambda m, o: m.ChainedScheduler([m.ConstantLR(o, factor=0.5, total_iters=4),
                                                m.ExponentialLR(o, gamma=0.9)]),
    "warm-restarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=6, eta_min=0.001),
    "warm-restarts-tmult": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "onecycle": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS + 1),
    "onecycle-linear": lambda m, o: m.OneCycleLR(o, max_lr=0.8, total_steps=STEPS + 1, anneal_strategy="linear"),
    "onecycle-three-phase": lambda m, o: m.OneCycleLR(o, max_lr=0.8, epochs=3, steps_per_epoch=11,
                                                      pct_start=0.25, three_phase=True, div_factor=10.0),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_matches_torch(name):
    _run(SCHEDULES[name])


def test_onecycle_cycles_sgd_momentum_like_torch():
    make = SCHEDULES["onecycle"]
    dopt, topt = _optimizers(momentum=0.9)
    dsched, tsched = make(dls, dopt), make(tls, topt)
    for k in range(STEPS):
        dopt.step()
        topt.step()
        dsched.step()
        tsched.step()
        _assert_same(dsched, tsched, dopt, topt, f"step {k}")
        np.testing.assert_allclose([g["momentum"] for g in dopt.param_groups],
                                   [g["momentum"] for g in topt.param_groups], rtol=1e-12)
    with pytest.raises(ValueError, match="Tried to step"):
        dsched.step()
        dsched.step()


def test_onecycle_cycles_adam_beta1_like_torch():
    make = SCHEDULES["onecycle-linear"]
    dopt, topt = _optimizers(optim.Adam, torch.optim.Adam)
    dsched, tsched = make(dls, dopt), make(tls, topt)
    for k in range(STEPS):
        dopt.step()
        topt.step()
        dsched.step()
        tsched.step()
        _assert_same(dsched, tsched, dopt, topt, f"step {k}")
        for dg, tg in zip(dopt.param_groups, topt.param_groups):
            assert dg["betas"][1] == tg["betas"][1]
            assert dg["betas"][0] == pytest.approx(tg["betas"][0], rel=1e-12)


@pytest.mark.parametrize("options", [
    dict(),
    dict(patience=2, factor=0.5),
    dict(patience=1, factor=0.5, cooldown=2, threshold=0.05),
    dict(mode="max", patience=2, factor=0.3, threshold_mode="abs", threshold=0.01),
    dict(patience=0, factor=0.5, min_lr=[0.01, 0.005]),
    dict(patience=1, factor=0.5, threshold_mode="abs", threshold=0.1, min_lr=0.004, eps=1e-3),
], ids=["default", "patience", "cooldown", "max-abs", "min-lr-list", "abs-min-lr"])
def test_reduce_lr_on_plateau_matches_torch(options):
    metrics = [1.0, 0.9, 0.95, 0.93, 0.91, 0.92, 0.85, 0.86, 0.86, 0.87, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85,
               0.7, 0.71, 0.72, 0.7, 0.69, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77, 0.78]
    if options.get("mode") == "max":
        metrics = [-m for m in metrics]
    dopt, topt = _optimizers()
    dsched, tsched = dls.ReduceLROnPlateau(dopt, **options), tls.ReduceLROnPlateau(topt, **options)
    changed = False
    for k, m in enumerate(metrics):
        dsched.step(m)
        tsched.step(m)
        _assert_same(dsched, tsched, dopt, topt, f"epoch {k}")
        assert dsched.num_bad_epochs == tsched.num_bad_epochs and dsched.best == tsched.best
        changed |= dsched.get_last_lr()[0] != 0.1
    assert changed or options == {}


def test_reduce_lr_on_plateau_accepts_a_deepling_scalar():
    dopt, _ = _optimizers()
    sched = dls.ReduceLROnPlateau(dopt, patience=0)
    sched.step(dl.tensor(1.0))
    sched.step(dl.tensor(2.0))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.002])


@pytest.mark.parametrize("name", ["step", "cosine", "linear-custom", "sequential-warmup-cosine", "onecycle"])
def test_scheduler_state_dict_round_trip(name):
    make = SCHEDULES[name]
    ref_opt, _ = _optimizers(momentum=0.9)
    ref = make(dls, ref_opt)
    opt, _ = _optimizers(momentum=0.9)
    sched = make(dls, opt)
    for _ in range(10):
        _tick(ref_opt, ref)
        _tick(opt, sched)
    saved_sched, saved_opt = copy.deepcopy(sched.state_dict()), copy.deepcopy(opt.state_dict())
    fresh_opt, _ = _optimizers(momentum=0.9)
    fresh = make(dls, fresh_opt)
    fresh.load_state_dict(saved_sched)
    fresh_opt.load_state_dict(saved_opt)
    for _ in range(15):
        _tick(ref_opt, ref)
        _tick(fresh_opt, fresh)
        assert fresh.get_last_lr() == ref.get_last_lr()
        assert _lrs(fresh_opt) == _lrs(ref_opt)


def test_reduce_lr_on_plateau_state_dict_round_trip():
    opt, _ = _optimizers()
    sched = dls.ReduceLROnPlateau(opt, patience=1, mode="max")
    for m in [1.0, 0.5, 0.4]:
        sched.step(m)
    state = copy.deepcopy(sched.state_dict())
    opt2, _ = _optimizers()
    sched2 = dls.ReduceLROnPlateau(opt2)
    sched2.load_state_dict(state)
    assert sched2.mode == "max" and sched2.best == 1.0 and sched2.num_bad_epochs == sched.num_bad_epochs


def test_lambda_state_dict_saves_callable_objects_only():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate**epoch

    opt, _ = _optimizers()
    sched = dls.LambdaLR(opt, [Decay(0.5), lambda e: 1.0])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.5}, None]
    other = dls.LambdaLR(_optimizers()[0], [Decay(0.9), lambda e: 1.0])
    other.load_state_dict(state)
    assert other.lr_lambdas[0].rate == 0.5


def test_step_with_epoch_uses_the_closed_form_like_torch():
    for make in (SCHEDULES["step"], SCHEDULES["multistep"], SCHEDULES["exponential"], SCHEDULES["cosine"]):
        dopt, topt = _optimizers()
        dsched, tsched = make(dls, dopt), make(tls, topt)
        for epoch in (3, 7, 12):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dsched.step(epoch)
                tsched.step(epoch)
            _assert_same(dsched, tsched, dopt, topt, f"epoch {epoch}")


def test_warm_restarts_with_fractional_epochs_like_torch():
    make = SCHEDULES["warm-restarts-tmult"]
    dopt, topt = _optimizers()
    dsched, tsched = make(dls, dopt), make(tls, topt)
    for epoch in np.arange(0, 20, 0.35):
        dsched.step(float(epoch))
        tsched.step(float(epoch))
        _assert_same(dsched, tsched, dopt, topt, f"epoch {epoch}")


def test_scheduler_drives_training_lr():
    """The lr a schedule sets is the lr the optimizer steps with."""
    p = dl.nn.Parameter(dl.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    sched = dls.StepLR(opt, step_size=1, gamma=0.5)
    total = 0.0
    for k in range(4):
        p.grad = dl.ones(1)
        opt.step()
        total += 0.5**k
        sched.step()
        np.testing.assert_allclose(p.array, [-total], rtol=1e-6)


def test_initial_lr_and_resume_errors():
    opt, _ = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        dls.StepLR(opt, step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        dls.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        dls.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        dls.SequentialLR(opt, [dls.ExponentialLR(opt, 0.9), dls.ExponentialLR(opt, 0.8)], milestones=[])
    with pytest.raises(ValueError, match="total_steps"):
        dls.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy"):
        dls.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="step")
    sched = dls.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
    resumed = dls.StepLR(opt, step_size=2, last_epoch=3)
    assert resumed.last_epoch == 4 and sched.base_lrs == [0.1, 0.02]


def test_cosine_reaches_eta_min_at_t_max():
    opt, _ = _optimizers()
    sched = dls.CosineAnnealingLR(opt, T_max=8, eta_min=0.003)
    for _ in range(8):
        _tick(opt, sched)
    assert sched.get_last_lr() == pytest.approx([0.003, 0.003], rel=1e-9)
    assert math.isclose(opt.param_groups[0]["lr"], 0.003, rel_tol=1e-9)


def test_warns_when_the_scheduler_steps_before_the_optimizer():
    opt, _ = _optimizers()
    sched = dls.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match=r"before `optimizer.step\(\)`"):
        sched.step()
    opt2, _ = _optimizers()
    sched2 = dls.StepLR(opt2, step_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _tick(opt2, sched2)
    clone = copy.deepcopy(opt2)  # the step wrapper is not copied: the clone steps its own parameters
    p = clone.param_groups[0]["params"][0]
    p.grad = dl.ones(2)
    clone.step()
    assert p.array[0] != 1.0 and opt2.param_groups[0]["params"][0].array[0] == 1.0
