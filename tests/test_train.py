"""deepling.train and deepling.models.MLP: learning, fit/History, callbacks, metrics, checkpoints, resume."""

import numpy as np
import pytest
import torch

import deepling as dl
from deepling import nn, optim
from deepling.data import DataLoader, TensorDataset
from deepling.data.datasets import Digits, sin, spirals
from deepling.models import MLP, MODELS
from deepling.serialization import SerializationError
from deepling.train import (
    Callback,
    EarlyStopping,
    History,
    accuracy,
    confusion_matrix,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
)


# ------------------------------------------------------------------------------------------ MLP
@pytest.mark.parametrize("activation,torch_act", [("relu", torch.nn.ReLU), ("tanh", torch.nn.Tanh),
                                                  ("sigmoid", torch.nn.Sigmoid)])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_mlp_matches_torch_twin(activation, torch_act, dropout):
    dl.manual_seed(0)
    m = MLP(6, [8, 5], 3, activation=activation, dropout=dropout)
    layers = []
    for a, b in [(6, 8), (8, 5)]:
        layers += [torch.nn.Linear(a, b), torch_act()] + ([torch.nn.Dropout(dropout)] if dropout else [])
    twin = torch.nn.Sequential(*layers, torch.nn.Linear(5, 3)).eval()
    assert list(m.state_dict().keys()) == list(twin.state_dict().keys())
    m.load_state_dict(twin.state_dict())
    m.eval()
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_allclose(m(dl.tensor(x)).array, twin(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    images = x.reshape(4, 1, 2, 3)  # (N, *) inputs are flattened
    np.testing.assert_allclose(m(dl.tensor(images)).array, m(dl.tensor(x)).array, rtol=1e-6)
    out = m(dl.tensor(x))
    assert out.shape == (4, 3) and out.dtype == np.float32


def test_mlp_bad_arguments():
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, 4, 2, activation="swishy")
    with pytest.raises(ValueError, match="dropout"):
        MLP(2, 4, 2, dropout=1.0)
    assert isinstance(MLP(2, 4, 2, activation=nn.Tanh)[1], nn.Tanh)
    assert "mlp" in MODELS and isinstance(MODELS["mlp"]((1, 8, 8), 10), MLP)


# ------------------------------------------------------------------------------------------ learning
def test_mlp_learns_spirals():
    X, y = spirals(n_samples=300, n_classes=2, noise=0.1, seed=0)
    dl.manual_seed(0)
    model = MLP(2, [64, 64], 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(400):  # full-batch steps
        loss = loss_fn(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with dl.no_grad():
        acc = accuracy(model(X), y)
    assert acc >= 0.95, acc


def test_mlp_learns_digits_with_fit():
    dl.manual_seed(0)
    train = DataLoader(Digits(train=True), batch_size=32, shuffle=True)
    test = DataLoader(Digits(train=False), batch_size=256)
    model = MLP(64, [128], 10)
    history = fit(model, train, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=2e-3), epochs=12,
                  val_loader=test, progress=False)
    assert len(history) == 12 and history.epochs == list(range(1, 13))
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
    assert history["loss"][-1] < history["loss"][0]
    result = evaluate(model, test, nn.CrossEntropyLoss())
    assert result["accuracy"] >= 0.95, result
    assert result["accuracy"] == pytest.approx(history["val_accuracy"][-1])
    assert model.training  # evaluate restores the mode


def test_fit_regression_has_no_accuracy_and_learns_sin():
    x, t = sin(n_samples=256, noise=0.0, seed=0)
    dl.manual_seed(0)
    model = MLP(1, [32, 32], 1, activation="tanh")
    loader = DataLoader(TensorDataset(x, t), batch_size=32, shuffle=True)
    h = fit(model, loader, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.01), epochs=40, progress=False)
    assert "accuracy" not in h and h["loss"][-1] < 0.02 < h["loss"][0]


def test_fit_rejects_batches_that_are_not_pairs():
    model = MLP(2, 4, 2)
    loader = DataLoader(TensorDataset(np.zeros((4, 2), np.float32)), batch_size=2)
    with pytest.raises(TypeError, match="inputs, targets"):
        fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), progress=False)


# ------------------------------------------------------------------------------------------ callbacks, scheduler
def _toy(n=64, seed=0):
    X, y = spirals(n_samples=n, noise=0.1, seed=seed)
    return TensorDataset(X, y)


def test_early_stopping_stops_and_restores_best():
    dl.manual_seed(0)
    model = MLP(2, 16, 2)
    loader = DataLoader(_toy(), batch_size=16)
    seen = []

    class Record(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            seen.append({k: v.array.copy() for k, v in trainer.model.state_dict().items()})

    # an absurdly large min_delta: no epoch after the first counts as an improvement
    stop = EarlyStopping(monitor="loss", patience=2, min_delta=1e9, restore_best_weights=True)
    h = fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=20,
            callbacks=[stop, Record()], progress=False)
    assert len(h) == 3 and stop.stopped_epoch == 2 and stop.best_epoch == 0
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.array, seen[0][k])
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_early_stopping_mode_auto_for_accuracy():
    assert EarlyStopping("val_accuracy").mode == "max" and EarlyStopping("val_loss").mode == "min"


def test_scheduler_steps_once_per_epoch():
    model = MLP(2, 4, 2)
    opt = optim.SGD(model.parameters(), lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(model, DataLoader(_toy(), batch_size=32), nn.CrossEntropyLoss(), opt, epochs=3, scheduler=sched,
            progress=False)
    assert h["lr"] == [1.0, 0.5, 0.25]
    assert opt.param_groups[0]["lr"] == 0.125


# ------------------------------------------------------------------------------------------ metrics
def test_accuracy_and_confusion_matrix_against_sklearn():
    from sklearn.metrics import confusion_matrix as sk_cm

    rng = np.random.default_rng(0)
    logits = rng.standard_normal((50, 4)).astype(np.float32)
    y = rng.integers(0, 4, 50)
    pred = logits.argmax(1)
    assert accuracy(dl.tensor(logits), dl.tensor(y)) == pytest.approx((pred == y).mean())
    np.testing.assert_array_equal(confusion_matrix(logits, y, 4), sk_cm(y, pred, labels=range(4)))
    np.testing.assert_array_equal(confusion_matrix(pred, y), sk_cm(y, pred))
    assert accuracy(np.array([[-1.0], [2.0]]), np.array([0, 1])) == 1.0  # binary logits
    assert accuracy(logits, np.eye(4)[y]) == accuracy(logits, y)  # one-hot targets
    with pytest.raises(ValueError, match="do not match"):
        accuracy(logits, y[:10])


def test_history_round_trip(tmp_path):
    h = History()
    h.append(1, {"loss": 1.0, "accuracy": 0.5})
    h.append(2, {"loss": 0.5, "accuracy": 0.75})
    h.save_json(tmp_path / "h.json")
    import json

    h2 = History.from_dict(json.loads((tmp_path / "h.json").read_text()))
    assert h2["loss"] == [1.0, 0.5] and h2.epochs == [1, 2] and len(h2) == 2


# ------------------------------------------------------------------------------------------ checkpoints
def _setup(seed=0):
    dl.manual_seed(seed)
    model = MLP(2, [16, 16], 2, dropout=0.2)  # dropout: the RNG state matters on resume
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    loader = DataLoader(_toy(96), batch_size=16, shuffle=True)
    return model, opt, sched, loader


def _weights(model):
    return {k: v.array.copy() for k, v in model.state_dict().items()}


def test_checkpoint_round_trip_model_optimizer_scheduler(tmp_path):
    model, opt, sched, loader = _setup()
    fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=2, scheduler=sched, progress=False)
    save_checkpoint(tmp_path / "c.ckpt", model, opt, sched, epoch=2, note="hi")
    m2, o2, s2, _ = _setup(seed=1)
    state = load_checkpoint(tmp_path / "c.ckpt", m2, o2, s2)
    assert state["epoch"] == 2 and state["note"] == "hi"
    for k, v in _weights(model).items():
        np.testing.assert_array_equal(v, m2.state_dict()[k].array)
    assert s2.state_dict() == sched.state_dict()
    assert o2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    a, b = opt.state_dict()["state"], o2.state_dict()["state"]
    assert a.keys() == b.keys()
    for i in a:
        for key in a[i]:
            np.testing.assert_array_equal(np.asarray(getattr(a[i][key], "data", a[i][key])),
                                          np.asarray(getattr(b[i][key], "data", b[i][key])))
    # one more identical step from both
    x, y = next(iter(DataLoader(_toy(96), batch_size=16)))
    for m, o in ((model, opt), (m2, o2)):
        m.eval()
        loss = nn.CrossEntropyLoss()(m(x), y)
        o.zero_grad()
        loss.backward()
        o.step()
    for k, v in _weights(model).items():
        np.testing.assert_array_equal(v, m2.state_dict()[k].array)


def test_resume_after_2_of_4_epochs_equals_uninterrupted(tmp_path):
    model, opt, sched, loader = _setup()
    full = fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=4, scheduler=sched, progress=False)
    expected = _weights(model)

    ckpt = tmp_path / "run.ckpt"
    model, opt, sched, loader = _setup()
    fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=2, scheduler=sched, checkpoint=ckpt, progress=False)
    dl.manual_seed(12345)  # a fresh process: different RNG, fresh objects
    model, opt, sched, loader = _setup(seed=99)
    resumed = fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=4, scheduler=sched, checkpoint=ckpt,
                  resume=True, progress=False)
    for k, v in expected.items():
        np.testing.assert_array_equal(model.state_dict()[k].array, v, err_msg=k)
    assert resumed.epochs == [1, 2, 3, 4]
    np.testing.assert_allclose(resumed["loss"], full["loss"], rtol=1e-6)
    assert load_checkpoint(ckpt, restore_rng=False)["epoch"] == 4


def test_resume_with_loader_generator(tmp_path):
    def setup():
        dl.manual_seed(0)
        model = MLP(2, 8, 2)
        opt = optim.SGD(model.parameters(), lr=0.1)
        return model, opt, DataLoader(_toy(64), batch_size=8, shuffle=True, generator=dl.Generator(5))

    model, opt, loader = setup()
    fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=3, progress=False)
    expected = _weights(model)
    model, opt, loader = setup()
    fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=1, checkpoint=tmp_path / "c", progress=False)
    model, opt, loader = setup()
    fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=3, checkpoint=tmp_path / "c", resume=tmp_path / "c",
        progress=False)
    for k, v in expected.items():
        np.testing.assert_array_equal(model.state_dict()[k].array, v)


def test_ctrl_c_stops_cleanly_and_keeps_last_checkpoint(tmp_path, capsys):
    model, opt, sched, loader = _setup()
    ckpt = tmp_path / "c.ckpt"

    class CtrlC(Callback):
        def on_batch_end(self, trainer, batch, loss):
            if trainer.epoch == 1 and batch == 2:
                raise KeyboardInterrupt

    h = fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=4, scheduler=sched, checkpoint=ckpt,
            callbacks=[CtrlC()], progress=False)
    assert h.interrupted and len(h) == 1
    assert "interrupted" in capsys.readouterr().err
    assert load_checkpoint(ckpt, restore_rng=False)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ckpt"]


def test_resume_missing_and_foreign_files(tmp_path):
    model, opt, sched, loader = _setup()
    # resume=True with no checkpoint yet: a fresh start
    h = fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=1, checkpoint=tmp_path / "new", resume=True, progress=False)
    assert len(h) == 1
    with pytest.raises(FileNotFoundError):
        fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=1, resume=tmp_path / "missing", progress=False)
    dl.save({"just": "data"}, tmp_path / "other")
    with pytest.raises(SerializationError, match="not a training checkpoint"):
        load_checkpoint(tmp_path / "other")
    (tmp_path / "trunc").write_bytes((tmp_path / "new").read_bytes()[:200])
    with pytest.raises(SerializationError):
        fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=1, resume=tmp_path / "trunc", progress=False)


# ------------------------------------------------------------------------------------------ step budgets, step_fn
def _strip_time(d):
    return {k: v for k, v in d.items() if k != "time"}


def test_step_budget_spans_epochs_and_evaluates_every_n_steps(capsys):
    dl.manual_seed(0)
    model = MLP(2, 8, 2)
    loader = DataLoader(_toy(96), batch_size=16, shuffle=True)  # 6 batches per epoch
    val = DataLoader(_toy(32, seed=1), batch_size=32)
    losses = []

    class Record(Callback):
        def on_batch_end(self, trainer, batch, loss):
            losses.append(loss)

    h = fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), max_steps=15,
            val_loader=val, eval_every=4, callbacks=[Record()], progress=False)
    assert h.global_step == 15 and len(losses) == 15
    assert h.epochs == [1, 2]  # epoch 3 stopped after 3 of its 6 batches
    assert h.steps == [4, 8, 12, 15]  # and once more at the end of the budget
    # the logged training loss is the mean over the steps since the previous evaluation (equal batches)
    np.testing.assert_allclose(h.step_history["loss"], [np.mean(losses[0:4]), np.mean(losses[4:8]),
                                                        np.mean(losses[8:12]), np.mean(losses[12:15])], rtol=1e-6)
    assert h.step_history["val_loss"][-1] == pytest.approx(evaluate(model, val, nn.CrossEntropyLoss())["loss"])
    assert {"accuracy", "val_accuracy", "lr"} <= set(h.step_history) and "val_loss" in h
    # with progress: a bar, a line per evaluation and one per completed epoch (on stderr)
    fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), max_steps=8, eval_every=4,
        desc="toy")
    err = capsys.readouterr().err
    assert "toy step 4/8  loss " in err and "toy step 8/8  loss " in err and "toy epoch 1  loss " in err
    # epochs and max_steps together: whichever ends first
    h = fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=1, max_steps=100,
            progress=False)
    assert h.global_step == 6 and h.epochs == [1]


def test_step_fn_equals_the_hand_written_loop():
    """A reconstruction loss on (x,) batches, with clipping and a per-step scheduler: same weights as by hand."""
    X = np.random.default_rng(0).random((40, 6)).astype(np.float32)

    def setup():
        dl.manual_seed(3)
        model = nn.Sequential(nn.Linear(6, 3), nn.Tanh(), nn.Linear(3, 6), nn.Dropout(0.2))
        opt = optim.Adam(model.parameters(), lr=0.05)
        return model, opt, optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), DataLoader(TensorDataset(X), 8, shuffle=True)

    model, opt, sched, loader = setup()
    for _ in range(2):
        for (xb,) in loader:
            loss = nn.functional.mse_loss(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            opt.step()
            sched.step()
    expected = _weights(model)

    def step(m, batch):
        (xb,) = batch
        out = m(xb)
        return {"loss": nn.functional.mse_loss(out, xb), "mae": (out - xb).abs().mean()}

    model, opt, sched, loader = setup()
    h = fit(model, loader, None, opt, epochs=2, step_fn=step, clip_grad_norm=0.1, scheduler=sched,
            scheduler_interval="step", val_loader=DataLoader(TensorDataset(X), 20), progress=False)
    for k, v in expected.items():
        np.testing.assert_array_equal(model.state_dict()[k].array, v, err_msg=k)
    assert {"loss", "mae", "val_loss", "val_mae"} <= set(h.history) and h.global_step == 10
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * 0.5 ** 3)
    model.eval()
    with dl.no_grad():
        want = nn.functional.mse_loss(model(dl.tensor(X)), dl.tensor(X)).item()
    assert h["val_loss"][-1] == pytest.approx(want, rel=1e-5)
    assert evaluate(model, DataLoader(TensorDataset(X), 20), step_fn=step)["loss"] == pytest.approx(want, rel=1e-5)


def test_fit_argument_errors():
    model = MLP(2, 4, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(_toy(), batch_size=16)
    with pytest.raises(TypeError, match="loss_fn"):
        fit(model, loader, None, opt)
    with pytest.raises(TypeError, match="optimizer"):
        fit(model, loader, nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match="max_steps"):
        fit(model, loader, nn.CrossEntropyLoss(), opt, max_steps=0)
    with pytest.raises(ValueError, match="metrics"):
        fit(model, loader, None, opt, step_fn=lambda m, b: m(b[0]).sum(), metrics=["accuracy"])
    with pytest.raises(ValueError, match="'loss'"):
        fit(model, loader, None, opt, step_fn=lambda m, b: {"l": m(b[0]).sum()}, progress=False)
    with pytest.raises(ValueError, match="scheduler_interval"):
        fit(model, loader, nn.CrossEntropyLoss(), opt, scheduler_interval="batch")
    with pytest.raises(ValueError, match="no batches"):
        fit(model, [], nn.CrossEntropyLoss(), opt, max_steps=3, progress=False)


# ------------------------------------------------------------------------------------------ interrupt + resume, both budgets
class _Interrupt(Callback):
    """Ctrl-C after ``at`` optimizer steps."""

    def __init__(self, at):
        self.at = at

    def on_batch_end(self, trainer, batch, loss):
        if trainer.step == self.at:
            raise KeyboardInterrupt


def _run_steps(ckpt, generator, callbacks=(), resume=False):
    dl.manual_seed(0)
    model = MLP(2, [16, 16], 2, dropout=0.2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    loader = DataLoader(_toy(96), batch_size=16, shuffle=True, generator=dl.Generator(5) if generator else None)
    if resume:
        dl.manual_seed(999)  # a fresh process
    h = fit(model, loader, nn.CrossEntropyLoss(), opt, max_steps=20, scheduler=sched, val_loader=loader,
            eval_every=5, checkpoint=ckpt, checkpoint_every=4, callbacks=callbacks, resume=resume, progress=False)
    return model, h


@pytest.mark.parametrize("generator", [False, True])
def test_step_budget_interrupted_mid_epoch_resumes_exactly(tmp_path, capsys, generator):
    model, full = _run_steps(tmp_path / "full.ckpt", generator)
    expected = _weights(model)

    ckpt = tmp_path / "run.ckpt"
    _, h = _run_steps(ckpt, generator, callbacks=[_Interrupt(15)])
    assert h.interrupted and h.global_step == 15
    err = capsys.readouterr().err
    # checkpoints every 4 steps: the last one is after step 12 = 2 epochs of 6 batches; then 16 would have come
    assert "interrupted at step 15" in err and f"the last checkpoint is {ckpt} (step 12, after epoch 2)" in err
    _, h = _run_steps(ckpt, generator, callbacks=[_Interrupt(18)], resume=True)
    log = capsys.readouterr()
    assert f"resumed from {ckpt} at step 12 (the start of epoch 3)" in log.out
    assert h.interrupted and "(step 16, batch 4 of epoch 3)" in log.err
    model, h = _run_steps(ckpt, generator, resume=True)
    assert f"resumed from {ckpt} at step 16 (batch 4 of epoch 3)" in capsys.readouterr().out
    for k, v in expected.items():
        np.testing.assert_array_equal(model.state_dict()[k].array, v, err_msg=k)
    assert not h.interrupted and h.global_step == 20 and h.steps == full.steps == [5, 10, 15, 20]
    assert h.epochs == full.epochs == [1, 2, 3]
    assert _strip_time(h.history) == _strip_time(full.history)
    assert _strip_time(h.step_history) == _strip_time(full.step_history)  # bit-exact, the logged means too
    state = load_checkpoint(ckpt, restore_rng=False)
    assert (state["step"], state["epoch"], state["batch"]) == (20, 3, 2)


def test_epoch_budget_interrupted_from_step_fn_resumes_exactly(tmp_path, capsys):
    def run(ckpt, interrupt_at=None, resume=False):
        dl.manual_seed(0)
        model = MLP(2, [16], 2, dropout=0.3)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        calls = [0]

        def step(m, batch):
            calls[0] += 1
            if calls[0] == interrupt_at:
                raise KeyboardInterrupt
            x, y = batch
            return nn.functional.cross_entropy(m(x), y)

        h = fit(model, DataLoader(_toy(64), batch_size=16, shuffle=True), None, opt, epochs=3, step_fn=step,
                checkpoint=ckpt, resume=resume, progress=False)
        return model, h

    model, full = run(tmp_path / "full")
    expected = _weights(model)
    _, h = run(tmp_path / "a", interrupt_at=3)  # inside epoch 1: no checkpoint yet
    assert h.interrupted and len(h) == 0
    assert f"no checkpoint exists: none was written yet to {tmp_path / 'a'}" in capsys.readouterr().err
    _, h = run(None, interrupt_at=3)
    assert "no checkpoint exists (pass checkpoint=PATH" in capsys.readouterr().err
    _, h = run(tmp_path / "b", interrupt_at=7)  # batch 3 of epoch 2
    assert h.interrupted and len(h) == 1 and h.global_step == 6
    assert f"the last checkpoint is {tmp_path / 'b'} (step 4, after epoch 1)" in capsys.readouterr().err
    model, h = run(tmp_path / "b", resume=True)
    for k, v in expected.items():
        np.testing.assert_array_equal(model.state_dict()[k].array, v, err_msg=k)
    assert h.epochs == [1, 2, 3] and _strip_time(h.history) == _strip_time(full.history)


class _Endless:
    """Random batches forever from its own generator: all its state is the generator's (a stateful loader)."""

    def __init__(self, seed):
        self.generator = dl.Generator(seed)
        self.drawn = 0

    def __iter__(self):
        X, y = _toy(96)[:]
        while True:
            self.drawn += 1
            idx = self.generator.rng.integers(0, len(X), 8)
            yield X[idx], y[idx]

    def state_dict(self):
        return {"drawn": self.drawn}

    def load_state_dict(self, state):
        self.drawn = state["drawn"]


def test_endless_stateful_loader_resumes_without_replay(tmp_path, capsys):
    def run(ckpt, callbacks=(), resume=False):
        dl.manual_seed(0)
        model = MLP(2, [16], 2, dropout=0.2)
        loader = _Endless(7)
        h = fit(model, loader, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), max_steps=30,
                eval_every=10, checkpoint=ckpt, callbacks=callbacks, resume=resume, progress=False)
        return model, h, loader

    model, full, _ = run(tmp_path / "full")
    expected = _weights(model)
    _, h, _ = run(tmp_path / "c", callbacks=[_Interrupt(25)])
    assert h.interrupted and h.epochs == [] and f"interrupted at step 25; the last checkpoint is {tmp_path / 'c'} (step 20)\n" \
        in capsys.readouterr().err  # an endless loader has no epochs to speak of
    model, h, loader = run(tmp_path / "c", resume=True)
    assert f"resumed from {tmp_path / 'c'} at step 20\n" in capsys.readouterr().out
    assert loader.drawn == 30  # restored through load_state_dict: the 20 earlier batches were not drawn again
    for k, v in expected.items():
        np.testing.assert_array_equal(model.state_dict()[k].array, v, err_msg=k)
    assert h.steps == [10, 20, 30] and _strip_time(h.step_history) == _strip_time(full.step_history)


def test_real_ctrl_c_finishes_the_step_saves_and_resumes_exactly(tmp_path, capsys):
    import signal

    class SendCtrlC(Callback):  # what the terminal does: SIGINT to the process, here in the middle of step 9
        def on_batch_end(self, trainer, batch, loss):
            if trainer.step == 9:
                signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever the test runner installed
    try:
        model, full = _run_steps(tmp_path / "full.ckpt", True)
        expected = _weights(model)
        ckpt = tmp_path / "run.ckpt"
        _, h = _run_steps(ckpt, True, callbacks=[SendCtrlC()])
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # fit restored the handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert h.interrupted and h.global_step == 9
    # the step finished and was saved (checkpoint_every=4 alone would have left step 8)
    assert f"the last checkpoint is {ckpt} (step 9, batch 3 of epoch 2)" in capsys.readouterr().err
    model, h = _run_steps(ckpt, True, resume=True)
    for k, v in expected.items():
        np.testing.assert_array_equal(model.state_dict()[k].array, v, err_msg=k)
    assert _strip_time(h.step_history) == _strip_time(full.step_history)


# ------------------------------------------------------------------------------------------ faults
def test_early_stopping_best_weights_survive_an_interruption(tmp_path):
    # the best epoch comes before the interruption: the resumed run must still end with its weights
    def run(ckpt, stop_at=None, resume=False):
        dl.manual_seed(0)
        model = MLP(2, 16, 2)
        loader = DataLoader(_toy(), batch_size=16, shuffle=True)
        stop = EarlyStopping(monitor="loss", patience=3, min_delta=1e9, restore_best_weights=True)
        cbs = [stop]
        if stop_at is not None:
            class Interrupt(Callback):
                def on_epoch_end(self, trainer, epoch, logs):
                    if epoch == stop_at:
                        raise KeyboardInterrupt

            cbs.append(Interrupt())
        fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=20,
            callbacks=cbs, checkpoint=ckpt, resume=resume, progress=False)
        return _weights(model), stop

    want, stop_full = run(tmp_path / "full.ckpt")
    run(tmp_path / "cut.ckpt", stop_at=1)
    got, stop_resumed = run(tmp_path / "cut.ckpt", resume=True)
    assert stop_full.best_epoch == stop_resumed.best_epoch == 0
    assert stop_full.stopped_epoch == stop_resumed.stopped_epoch
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


@pytest.mark.parametrize("mode", ["stop", "raise"])
def test_a_nonfinite_loss_stops_before_its_update(tmp_path, mode, capsys):
    dl.manual_seed(0)
    model = MLP(2, 8, 2)
    loader = DataLoader(_toy(), batch_size=16)
    calls = []

    def step_fn(m, batch):
        x, y = batch
        calls.append(1)
        loss = nn.functional.cross_entropy(m(x), y)
        return loss * float("nan") if len(calls) == 7 else loss

    ckpt = tmp_path / "run.ckpt"
    kwargs = dict(epochs=5, checkpoint=ckpt, progress=False, step_fn=step_fn, on_nonfinite=mode)
    opt = optim.SGD(model.parameters(), lr=0.1)
    if mode == "raise":
        with pytest.raises(FloatingPointError, match=r"the loss is nan at step 7 \(epoch 2\).*the last checkpoint is"):
            fit(model, loader, None, opt, **kwargs)
    else:
        h = fit(model, loader, None, opt, **kwargs)
        assert h.nonfinite and h.global_step == 6 and len(h) == 1
        assert "the loss is nan at step 7" in capsys.readouterr().err
    for v in _weights(model).values():
        assert np.isfinite(v).all()  # the NaN step was never applied
    state = dl.load(ckpt)
    assert state["step"] == 4 and all(np.isfinite(np.asarray(v)).all() for v in state["model"].values())
