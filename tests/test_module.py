"""Layers (activations, losses, Flatten) against their PyTorch twins, Module mechanics
(registration, order, sharing, modes, state_dict both ways, strict loading errors, repr), penalties."""

import numpy as np
import pytest
import torch

import deepling as dl
from oracle import check_grad, check_op

# (class name, constructor args): each is built in torch.nn and deepling.nn with the same args
ACTIVATION_MODULES = [
    ("ReLU", ()), ("ReLU", (True,)), ("LeakyReLU", ()), ("LeakyReLU", (0.2, True)), ("ELU", ()), ("ELU", (0.5,)),
    ("SELU", ()), ("CELU", (1.5,)), ("GELU", ()), ("GELU", ("tanh",)), ("SiLU", ()), ("Mish", ()), ("Sigmoid", ()),
    ("Tanh", ()), ("Softplus", ()), ("Softplus", (2, 10)), ("Softmax", (1,)), ("Softmax", (-1,)), ("LogSoftmax", (1,)),
    ("Softmin", (0,)), ("Hardtanh", ()), ("Hardtanh", (-2, 2, True)), ("ReLU6", ()), ("ReLU6", (True,)),
    ("Hardsigmoid", ()), ("Hardswish", ()), ("LogSigmoid", ()), ("Softsign", ()), ("Threshold", (0.1, 20.0)),
    ("Threshold", (-0.5, 1.0, True)),
]


@pytest.mark.parametrize("name,args", ACTIVATION_MODULES, ids=lambda v: str(v))
def test_activation_module_matches_torch(name, args):
    tm, dm = getattr(torch.nn, name)(*args), getattr(dl.nn, name)(*args)
    assert repr(dm) == repr(tm)
    # x * 1: torch's inplace variants refuse a leaf that requires grad
    check_op(lambda x: tm(x * 1), [(4, 5, 3)], lambda x: dm(x * 1), low=-7, high=7)
    check_grad(lambda x: dm(x * 1), [(3, 4)], low=-0.9, high=0.9)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_glu_module_matches_torch(dim):
    tm, dm = torch.nn.GLU(dim), dl.nn.GLU(dim)
    assert repr(dm) == repr(tm)
    check_op(tm, [(4, 6, 2)], dm)


def test_step_module_is_the_perceptron_activation():
    m = dl.nn.Step()
    assert repr(m) == "Step(value=1.0)"
    x = np.array([[-1.0, 0.0, 2.0]], dtype=np.float32)
    check_op(lambda t: torch.heaviside(t, torch.tensor(1.0)), [], m, arrays=[x], grad=False)


@pytest.mark.parametrize("args,shape", [((), (2, 3, 4, 5)), ((0, -1), (2, 3, 4)), ((1, 2), (2, 3, 4, 5)), ((2,), (2, 3, 4, 5))])
def test_flatten_matches_torch(args, shape):
    tm, dm = torch.nn.Flatten(*args), dl.nn.Flatten(*args)
    assert repr(dm) == repr(tm)
    check_op(tm, [shape], dm)


@pytest.mark.parametrize("dim,sizes,shape", [(1, (2, 5), (3, 10)), (-1, (2, 2, 3), (4, 12)), (1, (4, 1), (2, 4, 3))])
def test_unflatten_matches_torch(dim, sizes, shape):
    tm, dm = torch.nn.Unflatten(dim, sizes), dl.nn.Unflatten(dim, sizes)
    assert repr(dm) == repr(tm)
    check_op(tm, [shape], dm)
    with pytest.raises(TypeError):
        dl.nn.Unflatten(1, 5)


# ---------------------------------------------------------------------------- loss modules
W3 = np.array([0.5, 2.0, 1.0], dtype=np.float32)


def _loss_cases():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    p = rng.uniform(0.05, 0.95, (4, 3)).astype(np.float32)
    q = rng.uniform(0, 1, (4, 3)).astype(np.float32)
    idx = np.array([0, 2, 1, 2])
    qn = q / q.sum(1, keepdims=True)
    logq = np.log(qn)
    return [
        ("MSELoss", {}, [x, y]), ("MSELoss", {"reduction": "sum"}, [x, y]), ("L1Loss", {"reduction": "none"}, [x, y]),
        ("HuberLoss", {"delta": 0.5}, [x, y]), ("SmoothL1Loss", {"beta": 0.5, "reduction": "sum"}, [x, y]),
        ("CrossEntropyLoss", {}, [x, idx]), ("CrossEntropyLoss", {"weight": W3, "label_smoothing": 0.1, "ignore_index": 1}, [x, idx]),
        ("NLLLoss", {"weight": W3, "reduction": "sum"}, [x, idx]), ("BCELoss", {}, [p, q]), ("BCELoss", {"weight": W3}, [p, q]),
        ("BCEWithLogitsLoss", {"pos_weight": W3, "reduction": "none"}, [x, q]), ("BCEWithLogitsLoss", {"weight": W3}, [x, q]),
        ("KLDivLoss", {"reduction": "batchmean"}, [x, qn]), ("KLDivLoss", {"reduction": "sum", "log_target": True}, [x, logq]),
        ("CosineSimilarity", {"dim": 1}, [x, y]), ("CosineSimilarity", {"dim": 0, "eps": 1e-6}, [x, y]),
    ]


@pytest.mark.parametrize("case", _loss_cases(), ids=lambda c: f"{c[0]}-{c[1]}")
def test_loss_module_matches_torch(case):
    name, kw, arrays = case
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    dkw = {k: dl.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tm, dm = getattr(torch.nn, name)(**tkw), getattr(dl.nn, name)(**dkw)
    assert repr(dm) == repr(tm)
    assert list(dm.state_dict()) == list(tm.state_dict())  # weight / pos_weight are buffers in both
    check_op(lambda a, b: tm(a, b.detach() if b.is_floating_point() else b), [],
             lambda a, b: dm(a, b.detach() if b.dtype.kind == "f" else b), arrays=arrays)


def test_loss_module_legacy_flags_and_bad_reduction():
    assert dl.nn.MSELoss(size_average=False).reduction == torch.nn.MSELoss(size_average=False).reduction == "sum"
    assert dl.nn.L1Loss(reduce=False).reduction == "none"
    with pytest.raises(ValueError, match="MSELoss.*reduction"):
        dl.nn.MSELoss(reduction="average")


# ---------------------------------------------------------------------------- Module mechanics
def make_net(lib):
    """The same nested model in torch (lib=torch) and deepling (lib=deepling)."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 8)
            self.act = nn.GELU()
            self.scale = nn.Parameter(lib.ones(8))

        def forward(self, x):
            return self.act(self.fc(x)) * self.scale

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.layers = nn.Sequential(nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 3, bias=False))
            self.heads = nn.ModuleList([nn.Linear(3, 2), nn.Linear(3, 2, bias=False)])
            self.register_buffer("offset", lib.zeros(2))

        def forward(self, x):
            h = self.layers(self.block(x))
            return self.heads[0](h) + self.heads[1](h) + self.offset

    return Net()


def _copy_to_torch(dl_module, t_module):
    t_module.load_state_dict({k: torch.tensor(v.array) for k, v in dl_module.state_dict().items()})


@pytest.mark.parametrize("build", [lambda lib: lib.nn.Linear(5, 3), lambda lib: lib.nn.Linear(5, 3, bias=False),
                                   lambda lib: lib.nn.Sequential(lib.nn.Linear(5, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2)),
                                   lambda lib: make_net(lib)], ids=["linear", "linear-nobias", "sequential", "nested"])
def test_state_dict_round_trip_with_torch(build):
    tm, dm = build(torch), build(dl)
    in_features = 4 if isinstance(tm, torch.nn.Module) and hasattr(tm, "block") else 5
    x = np.random.default_rng(0).standard_normal((6, in_features)).astype(np.float32)
    assert list(dm.state_dict()) == list(tm.state_dict())
    dm.load_state_dict(tm.state_dict())  # torch -> deepling
    np.testing.assert_allclose(dm(dl.tensor(x)).array, tm(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    dm2 = build(dl)
    tm2 = build(torch)
    _copy_to_torch(dm2, tm2)  # deepling -> torch
    np.testing.assert_allclose(dm2(dl.tensor(x)).array, tm2(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert repr(dm) == repr(tm)


def test_named_parameters_follow_definition_order_like_torch():
    tm, dm = make_net(torch), make_net(dl)
    names = [n for n, _ in dm.named_parameters()]
    assert names == [n for n, _ in tm.named_parameters()]
    assert names[:3] == ["block.scale", "block.fc.weight", "block.fc.bias"]  # own parameters first, then children
    assert [n for n, _ in dm.named_buffers()] == ["offset"]
    assert [n for n, _ in dm.named_modules()] == [n for n, _ in tm.named_modules()]
    assert [n for n, _ in dm.named_children()] == ["block", "layers", "heads"]


def test_registration_of_parameters_modules_and_buffers():
    m = dl.nn.Module()
    m.w = dl.nn.Parameter(dl.ones(2))
    m.sub = dl.nn.Linear(2, 2)
    m.register_buffer("running", dl.zeros(2))
    m.register_buffer("scratch", dl.zeros(2), persistent=False)
    m.plain = dl.ones(3)  # a plain tensor attribute is not registered
    assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"]
    assert list(m.state_dict()) == ["w", "running", "sub.weight", "sub.bias"]
    with pytest.raises(TypeError):
        m.w = dl.ones(2)  # a registered parameter only takes a Parameter (or None)
    m.w = None
    assert [n for n, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    with pytest.raises(AttributeError):
        _ = m.missing


def test_shared_parameters_are_counted_once():
    lin = dl.nn.Linear(3, 3)
    seq = dl.nn.Sequential(lin, dl.nn.ReLU(), lin)
    tlin = torch.nn.Linear(3, 3)
    tseq = torch.nn.Sequential(tlin, torch.nn.ReLU(), tlin)
    assert len(list(seq.parameters())) == len(list(tseq.parameters())) == 2
    m = dl.nn.Module()
    m.a = dl.nn.Parameter(dl.ones(2))
    m.b = m.a
    assert len(list(m.parameters())) == 1
    assert list(m.state_dict()) == ["a", "b"]  # state_dict keeps both names, like torch
    tm = torch.nn.Module()
    tm.a = torch.nn.Parameter(torch.ones(2))
    tm.b = tm.a
    assert list(tm.state_dict()) == ["a", "b"]


def test_train_eval_propagate_to_every_submodule():
    dm = make_net(dl)
    assert all(m.training for m in dm.modules())
    assert dm.eval() is dm
    assert not any(m.training for m in dm.modules())
    dm.block.train()
    assert dm.block.fc.training and not dm.layers.training and not dm.training
    dm.train()
    assert all(m.training for m in dm.modules())


def test_load_state_dict_strict_errors_name_the_keys():
    dm, tm = make_net(dl), make_net(torch)
    sd = dict(tm.state_dict())
    missing = dict(sd)
    del missing["layers.0.bias"]
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*layers\.0\.bias"):
        dm.load_state_dict(missing)
    assert dm.load_state_dict(missing, strict=False).missing_keys == ["layers.0.bias"]
    extra = dict(sd, **{"heads.2.weight": torch.zeros(2, 3)})
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\).*heads\.2\.weight"):
        dm.load_state_dict(extra)
    assert dm.load_state_dict(extra, strict=False).unexpected_keys == ["heads.2.weight"]
    bad = dict(sd, **{"block.fc.weight": torch.zeros(8, 5)})
    with pytest.raises(RuntimeError, match=r"size mismatch for block\.fc\.weight.*\(8, 5\).*\(8, 4\)"):
        dm.load_state_dict(bad)
    with pytest.raises(RuntimeError, match="size mismatch"):
        dm.load_state_dict(bad, strict=False)


def test_zero_grad_and_requires_grad():
    dm = make_net(dl)
    dm(dl.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in dm.parameters())
    dm.zero_grad()
    assert all(p.grad is None for p in dm.parameters())
    dm.requires_grad_(False)
    assert not dm(dl.randn(2, 4)).requires_grad


# ---------------------------------------------------------------------------- penalties
def test_l2_penalty_is_half_squared_norm_of_weights_and_matches_weight_decay():
    dm, tm = make_net(dl), make_net(torch)
    dm.load_state_dict(tm.state_dict())
    lam = 0.1
    pen = dl.nn.l2_penalty(dm)
    twant = 0.5 * sum((p * p).sum() for p in tm.parameters() if p.ndim >= 2)
    np.testing.assert_allclose(pen.array, twant.detach().numpy(), rtol=1e-5)
    (lam * pen).backward()
    (lam * twant).backward()
    for (name, p), tp in zip(dm.named_parameters(), tm.parameters()):
        if p.ndim >= 2:  # gradient lam * w: SGD's weight_decay=lam
            np.testing.assert_allclose(p.grad.array, lam * p.array, rtol=1e-6, err_msg=name)
            np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-6, err_msg=name)
        else:  # biases and the 1-D scale are not penalized
            assert p.grad is None, name
    all_params = dl.nn.l2_penalty(dm, weights_only=False)
    np.testing.assert_allclose(all_params.array, 0.5 * sum(float((p.array.astype(np.float64) ** 2).sum()) for p in dm.parameters()), rtol=1e-5)


def test_l1_penalty_is_sum_of_absolute_weights():
    dm = dl.nn.Sequential(dl.nn.Linear(3, 4), dl.nn.ReLU(), dl.nn.Linear(4, 2))
    pen = dl.nn.l1_penalty(dm)
    np.testing.assert_allclose(pen.array, np.abs(dm[0].weight.array).sum() + np.abs(dm[2].weight.array).sum(), rtol=1e-6)
    pen.backward()
    np.testing.assert_array_equal(dm[0].weight.grad.array, np.sign(dm[0].weight.array))
    assert dm[0].bias.grad is None
    with pytest.raises(ValueError, match="no parameters"):
        dl.nn.l1_penalty(dl.nn.ReLU())


def _hook_calls(torch_like, register: str) -> list[int]:
    """Register one hook twice, remove the first handle, register it again: how often does it run?"""
    calls: list[int] = []
    m = torch_like.nn.Linear(2, 2)

    def hook(*args):
        calls.append(1)

    h1 = getattr(m, register)(hook)
    getattr(m, register)(hook)
    h1.remove()
    getattr(m, register)(hook)
    m(torch_like.zeros(1, 2))
    return calls


@pytest.mark.parametrize("register", ["register_forward_hook", "register_forward_pre_hook"])
def test_hook_handles_never_collide_like_torch(register):
    assert len(_hook_calls(dl, register)) == len(_hook_calls(torch, register)) == 2


def test_removable_handle_ids_increase_and_work_as_context_managers():
    m = dl.nn.Linear(2, 2)
    calls: list[str] = []
    a = m.register_forward_hook(lambda *_: calls.append("a"))
    with m.register_forward_pre_hook(lambda *_: calls.append("pre")) as b:
        m(dl.zeros(1, 2))
    m(dl.zeros(1, 2))
    assert b.id > a.id
    assert calls == ["pre", "a", "a"]
    a.remove()
    a.remove()  # idempotent
    m(dl.zeros(1, 2))
    assert calls == ["pre", "a", "a"]


@pytest.mark.parametrize("bad", [[1, 2], "ab", 3, None])
def test_load_state_dict_of_a_non_mapping_is_a_type_error_as_in_torch(bad):
    with pytest.raises(TypeError, match="dict-like"):
        torch.nn.Linear(2, 2).load_state_dict(bad)
    with pytest.raises(TypeError, match="expected state_dict to be dict-like, got"):
        dl.nn.Linear(2, 2).load_state_dict(bad)
