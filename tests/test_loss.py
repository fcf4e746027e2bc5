"""Losses: parity with PyTorch for every reduction and option (values and gradients of every float
input), stability for logits of 1e4, gradcheck in float64, and errors for bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepling as dl
import deepling.nn.functional as F
from oracle import check_grad, check_op

REDUCTIONS = ["mean", "sum", "none"]
RNG = np.random.default_rng(0)


def _probs(shape, axis=1, seed=0):
    x = np.random.default_rng(seed).uniform(0.1, 1.0, size=shape).astype(np.float32)
    return x / x.sum(axis=axis, keepdims=True) if axis is not None else x


def _indices(shape, n, seed=0, ignore=None):
    t = np.random.default_rng(seed).integers(0, n, size=shape)
    if ignore is not None and t.size:
        t.reshape(-1)[::3] = ignore
    return t


# ---------------------------------------------------------------------------- regression losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}), ("huber_loss", {}), ("huber_loss", {"delta": 0.3}),
                                     ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.4}), ("smooth_l1_loss", {"beta": 0.0})])
@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 3, 4)], ids=str)
def test_regression_losses(name, kw, reduction, shape):
    tf, df = getattr(TF, name), getattr(F, name)
    check_op(lambda x, y: tf(x, y, reduction=reduction, **kw), [shape, shape], lambda x, y: df(x, y, reduction=reduction, **kw))
    check_grad(lambda x, y: df(x, y, reduction=reduction, **kw), [shape, shape], arrays=[
        np.random.default_rng(3).uniform(-2, 2, shape), np.random.default_rng(4).uniform(-2, 2, shape)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_regression_losses_with_weight(name, reduction):
    tf, df = getattr(TF, name), getattr(F, name)
    x, y, w = (RNG.uniform(-2, 2, (3, 4)).astype(np.float32) for _ in range(3))
    w = np.abs(w)
    check_op(lambda a, b, c: tf(a, b, reduction=reduction, weight=c), [], lambda a, b, c: df(a, b, reduction=reduction, weight=c),
             arrays=[x, y, w])


def test_regression_loss_broadcast_warns_like_torch():
    with pytest.warns(UserWarning):
        check_op(lambda x, y: TF.mse_loss(x, y), [(3, 4), (4,)], lambda x, y: F.mse_loss(x, y))
    with pytest.raises(ValueError, match=r"mse_loss.*\(3, 4\).*\(5,\)"):
        F.mse_loss(dl.ones(3, 4), dl.ones(5))


def test_legacy_size_average_and_reduce():
    x, y = dl.randn(3, 4), dl.randn(3, 4)
    assert F.mse_loss(x, y, size_average=False).shape == ()
    np.testing.assert_allclose(F.mse_loss(x, y, size_average=False).array, F.mse_loss(x, y, reduction="sum").array)
    assert F.mse_loss(x, y, reduce=False).shape == (3, 4)
    with pytest.raises(ValueError, match="reduction"):
        F.l1_loss(x, y, reduction="avg")


# ---------------------------------------------------------------------------- cross entropy / nll
CE_CASES = [((5, 4), (5,)), ((4,), ()), ((3, 4, 2), (3, 2)), ((2, 3, 2, 2), (2, 2, 2))]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,tshape", CE_CASES, ids=str)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore", [None, 1])
def test_cross_entropy_class_indices(shape, tshape, reduction, weighted, smoothing, ignore):
    c = shape[0] if len(shape) == 1 else shape[1]
    t = _indices(tshape, c, ignore=ignore)
    w = RNG.uniform(0.2, 2.0, c).astype(np.float32) if weighted else None
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    if ignore is not None:
        kw["ignore_index"] = ignore
    check_op(lambda x: TF.cross_entropy(x, torch.tensor(t), weight=None if w is None else torch.tensor(w), **kw), [shape],
             lambda x: F.cross_entropy(x, dl.tensor(t), weight=None if w is None else dl.tensor(w), **kw), low=-3, high=3)
    check_grad(lambda x: F.cross_entropy(x, dl.tensor(t), weight=None if w is None else dl.tensor(w, dtype=dl.float64), **kw),
               [shape], low=-3, high=3)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 4), (4,), (3, 4, 2)], ids=str)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_class_probabilities(shape, reduction, weighted, smoothing):
    c = shape[0] if len(shape) == 1 else shape[1]
    q = _probs(shape, axis=0 if len(shape) == 1 else 1)
    w = RNG.uniform(0.2, 2.0, c).astype(np.float32) if weighted else None
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    check_op(lambda x, p: TF.cross_entropy(x, p, weight=None if w is None else torch.tensor(w), **kw), [shape, q],
             lambda x, p: F.cross_entropy(x, p, weight=None if w is None else dl.tensor(w), **kw), low=-3, high=3)
    check_grad(lambda x, p: F.cross_entropy(x, p, weight=None if w is None else dl.tensor(w, dtype=dl.float64), **kw),
               [shape, q.astype(np.float64)], low=-3, high=3)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_stable_for_logits_of_1e4(reduction):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [1e4, 1e4, -1e4], [-1e4, -1e4, -1e4]], dtype=np.float32)
    t = np.array([0, 0, 1, 2])
    check_op(lambda a: TF.cross_entropy(a, torch.tensor(t), reduction=reduction), [],
             lambda a: F.cross_entropy(a, dl.tensor(t), reduction=reduction), arrays=[x], rtol=1e-5)
    check_op(lambda a: TF.cross_entropy(a, torch.tensor(t), reduction=reduction, label_smoothing=0.1), [],
             lambda a: F.cross_entropy(a, dl.tensor(t), reduction=reduction, label_smoothing=0.1), arrays=[x], rtol=1e-5)
    assert np.isfinite(F.cross_entropy(dl.tensor(x), dl.tensor(t), reduction=reduction).array).all()


def test_cross_entropy_all_ignored_is_nan_like_torch():
    t = np.array([-100, -100])
    check_op(lambda a: TF.cross_entropy(a, torch.tensor(t)), [(2, 3)], lambda a: F.cross_entropy(a, dl.tensor(t)))


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    x = dl.randn(6, 5, requires_grad=True)
    t = dl.tensor([0, 4, 2, 2, 1, 3])
    F.cross_entropy(x, t, reduction="sum").backward()
    want = F.softmax(x.detach(), dim=1).array - np.eye(5, dtype=np.float32)[t.array]
    np.testing.assert_allclose(x.grad.array, want, atol=1e-6)


def test_cross_entropy_errors_name_the_op_and_shapes():
    x = dl.randn(4, 3)
    with pytest.raises(ValueError, match=r"cross_entropy.*\(4, 3\).*\(4,\).*\(5,\)"):
        F.cross_entropy(x, dl.tensor([0, 1, 2, 0, 1]))
    with pytest.raises(IndexError, match="cross_entropy.*out of bounds"):
        F.cross_entropy(x, dl.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="weight"):
        F.cross_entropy(x, dl.tensor([0, 1, 2, 0]), weight=dl.ones(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, dl.tensor([0, 1, 2, 0]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"cross_entropy: probability target of shape \(4,\)"):
        F.cross_entropy(x, dl.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(TypeError, match="cross_entropy.*integer"):
        F.cross_entropy(x, dl.tensor([0, 1, 2, 0], dtype=dl.bool))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,tshape", CE_CASES, ids=str)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, 2])
def test_nll_loss(shape, tshape, reduction, weighted, ignore):
    c = shape[0] if len(shape) == 1 else shape[1]
    t = _indices(tshape, c, seed=5, ignore=ignore)
    w = RNG.uniform(0.2, 2.0, c).astype(np.float32) if weighted else None
    kw = {"reduction": reduction} if ignore is None else {"reduction": reduction, "ignore_index": ignore}
    check_op(lambda x: TF.nll_loss(x, torch.tensor(t), weight=None if w is None else torch.tensor(w), **kw), [shape],
             lambda x: F.nll_loss(x, dl.tensor(t), weight=None if w is None else dl.tensor(w), **kw), low=-4, high=0)
    check_grad(lambda x: F.nll_loss(x, dl.tensor(t), weight=None if w is None else dl.tensor(w, dtype=dl.float64), **kw), [shape])


def test_log_softmax_plus_nll_equals_cross_entropy():
    x, t = dl.randn(7, 4), dl.tensor(_indices((7,), 4))
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(x, dim=1), t).array, F.cross_entropy(x, t).array, rtol=1e-6)


# ---------------------------------------------------------------------------- binary losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(6,), (3, 4)], ids=str)
def test_binary_cross_entropy(reduction, weighted, shape):
    p = np.random.default_rng(1).uniform(0.02, 0.98, shape).astype(np.float32)
    y = np.random.default_rng(2).uniform(0, 1, shape).astype(np.float32)
    arrays = [p, y] + ([np.random.default_rng(3).uniform(0.5, 2, shape[-1:]).astype(np.float32)] if weighted else [])
    check_op(lambda *a: TF.binary_cross_entropy(*a[:2], weight=a[2].detach() if weighted else None, reduction=reduction), [],
             lambda *a: F.binary_cross_entropy(*a[:2], weight=a[2].detach() if weighted else None, reduction=reduction), arrays=arrays)
    check_grad(lambda *a: F.binary_cross_entropy(*a[:2], weight=a[2] if weighted else None, reduction=reduction), [],
               arrays=[a.astype(np.float64) for a in arrays])


def test_binary_cross_entropy_clamps_log_at_saturation():
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype=np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype=np.float32)
    check_op(lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"), [], lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
             arrays=[p, y], grad=False)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(dl.tensor([1.5]), dl.tensor([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos", [False, True])
@pytest.mark.parametrize("shape", [(6,), (3, 4)], ids=str)
def test_binary_cross_entropy_with_logits(reduction, weighted, pos, shape):
    rng = np.random.default_rng(7)
    arrays = [rng.uniform(-4, 4, shape).astype(np.float32), rng.uniform(0, 1, shape).astype(np.float32)]
    if weighted:
        arrays.append(rng.uniform(0.5, 2, shape).astype(np.float32))
    if pos:
        arrays.append(rng.uniform(0.5, 3, shape[-1:]).astype(np.float32))

    def call(f, detach):
        def run(x, y, *rest):
            rest = [r.detach() if detach else r for r in rest]  # torch: weights are not differentiable
            w = rest.pop(0) if weighted else None
            pw = rest.pop(0) if pos else None
            return f(x, y, weight=w, pos_weight=pw, reduction=reduction)
        return run

    check_op(call(TF.binary_cross_entropy_with_logits, True), [], call(F.binary_cross_entropy_with_logits, True), arrays=arrays)
    # ours also differentiates the weights: checked against finite differences
    check_grad(call(F.binary_cross_entropy_with_logits, False), [], arrays=[a.astype(np.float64) for a in arrays])


def test_binary_cross_entropy_with_logits_stable_for_huge_logits():
    x = np.array([1e4, -1e4, 300.0, -300.0, 0.0], dtype=np.float32)
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.5], dtype=np.float32)
    pw = np.array([2.0], dtype=np.float32)
    check_op(lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="none"), [],
             lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"), arrays=[x, y])
    check_op(lambda a, b, c: TF.binary_cross_entropy_with_logits(a, b, pos_weight=c.detach()), [],
             lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, pos_weight=c.detach()), arrays=[x, y, pw])


# ---------------------------------------------------------------------------- KL / cosine
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)], ids=str)
@pytest.mark.filterwarnings("ignore:.*reduction.*mean")
def test_kl_div(reduction, log_target, shape):
    logp = np.log(_probs(shape, axis=-1, seed=1))
    q = _probs(shape, axis=-1, seed=2)
    target = np.log(q) if log_target else q
    check_op(lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target), [],
             lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target), arrays=[logp, target])
    check_grad(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target), [],
               arrays=[logp.astype(np.float64), target.astype(np.float64)])


def test_kl_div_zero_target_contributes_zero():
    logp = np.log(np.array([[0.2, 0.3, 0.5]], dtype=np.float32))
    q = np.array([[0.0, 0.4, 0.6]], dtype=np.float32)
    check_op(lambda a, b: TF.kl_div(a, b.detach(), reduction="batchmean"), [],
             lambda a, b: F.kl_div(a, b.detach(), reduction="batchmean"), arrays=[logp, q])


@pytest.mark.parametrize("shapes,dim", [(((4, 5), (4, 5)), 1), (((4, 5), (4, 5)), 0), (((2, 3, 4), (2, 3, 4)), -1),
                                        (((3, 4), (4,)), 1), (((6,), (6,)), 0)])
def test_cosine_similarity(shapes, dim):
    check_op(lambda a, b: TF.cosine_similarity(a, b, dim=dim), list(shapes), lambda a, b: F.cosine_similarity(a, b, dim=dim))
    check_grad(lambda a, b: F.cosine_similarity(a, b, dim=dim), list(shapes))


def test_cosine_similarity_zero_vector_uses_eps():
    a = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    b = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    check_op(lambda x, y: TF.cosine_similarity(x, y), [], lambda x, y: F.cosine_similarity(x, y), arrays=[a, b])


def test_losses_keep_float32():
    x, y = dl.randn(4, 3), dl.rand(4, 3)
    t = dl.tensor([0, 1, 2, 1])
    for out in (F.mse_loss(x, y), F.l1_loss(x, y), F.huber_loss(x, y), F.smooth_l1_loss(x, y), F.cross_entropy(x, t),
                F.nll_loss(x, t), F.binary_cross_entropy(y, y), F.binary_cross_entropy_with_logits(x, y),
                F.kl_div(x, y, reduction="batchmean"), F.cosine_similarity(x, y)):
        assert out.dtype == dl.float32


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "cross_entropy", "nll_loss",
                                  "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_similarity"])
def test_losses_in_float64_match_torch_closely(name):
    rng = np.random.default_rng(11)
    x = rng.uniform(-3, 3, (5, 4))
    if name in ("cross_entropy", "nll_loss"):
        t = rng.integers(0, 4, 5)
        check_op(lambda a: getattr(TF, name)(a, torch.tensor(t)), [], lambda a: getattr(F, name)(a, dl.tensor(t)),
                 arrays=[x], atol=1e-12, rtol=1e-10)
        return
    y = rng.uniform(0.05, 0.95, (5, 4))
    if name == "binary_cross_entropy":
        x = rng.uniform(0.05, 0.95, (5, 4))
    kw = {"reduction": "batchmean"} if name == "kl_div" else {}
    check_op(lambda a, b: getattr(TF, name)(a, b, **kw), [], lambda a, b: getattr(F, name)(a, b, **kw),
             arrays=[x, y], atol=1e-12, rtol=1e-10)
