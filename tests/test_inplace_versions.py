"""In-place writes as PyTorch does them: version counters, views sharing memory, gradients through
writes into views, and the error when a write changed what a backward needs."""

import numpy as np
import pytest
import torch

import deepling as dl


def _both(fn):
    """Run ``fn(lib)`` on torch and deepling: both return the same values or both raise RuntimeError."""
    out = []
    for lib in (torch, dl):
        try:
            out.append(("ok", fn(lib)))
        except RuntimeError as e:
            out.append(("raised", str(e)))
    assert out[0][0] == out[1][0], f"torch {out[0]} vs deepling {out[1]}"
    if out[0][0] == "ok":
        np.testing.assert_allclose(np.asarray(out[1][1], dtype=float), np.asarray(out[0][1], dtype=float),
                                   rtol=1e-6, atol=1e-6)
    return out[1]


def test_issue_examples_raise_as_in_pytorch():
    def step_then_retained_backward(lib):
        w = lib.nn.Parameter(lib.tensor([1.0, 2.0, 3.0]))
        opt = lib.optim.SGD([w], lr=1.0)
        l1, l2 = (w * w).sum(), (w * w * w).sum()
        l1.backward(retain_graph=True)
        opt.step()
        l2.backward()
        return w.grad.tolist()

    def saved_output_written_under_no_grad(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x.sigmoid()
        with lib.no_grad():
            y.mul_(2)
        y.sum().backward()
        return x.grad.tolist()

    for case in (step_then_retained_backward, saved_output_written_under_no_grad):
        kind, msg = _both(case)
        assert kind == "raised"
        assert "modified by an inplace operation" in msg and "version 1; expected version 0" in msg


def test_error_names_the_op_and_the_tensor():
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y * y
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"shape \(2,\) and dtype float32, input 0 of Mul.*version 1; expected version 0"):
        z.sum().backward()


def test_versions_are_shared_by_views_and_detach_but_not_data():
    for lib in (torch, dl):
        x = lib.zeros(4)
        v, d, dd = x[1:3], x.detach(), x.data
        x.add_(1)
        v.mul_(2)
        dd.add_(1)  # untracked: .data has its own counter
        assert (x._version, v._version, d._version, dd._version) == (2, 2, 2, 1), lib.__name__
        assert x.tolist() == [2.0, 3.0, 3.0, 2.0]


def test_writes_through_data_and_no_grad_leave_graphs_alone_when_nothing_saved():
    def f(lib):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = a + 1
        z = y * 2
        y.add_(1)  # y is not saved by either op
        z.sum().backward()
        return a.grad.tolist()

    assert _both(f)[0] == "ok"


VIEWS = {
    "rows": lambda x: x[1:3],
    "step_cols": lambda x: x[:, ::2],
    "row": lambda x: x[2],
    "t": lambda x: x.t(),
    "reshape": lambda x: x.reshape(6, 4),
    "view_chain": lambda x: x.reshape(2, 12)[1].reshape(3, 4)[:, 1:],
    "narrow": lambda x: x.narrow(1, 2, 3) if hasattr(x, "narrow") else x[:, 2:5],
    "unsqueeze": lambda x: x.unsqueeze(0)[0, :2],
}
WRITES = {
    "mul_": lambda v, w: v.mul_(w[: v.numel()].reshape(v.shape)),
    "add_": lambda v, w: v.add_(w[: v.numel()].reshape(v.shape) * 3),
    "clamp_": lambda v, w: v.clamp_(-0.5, 0.5),
    "fill_": lambda v, w: v.fill_(0.25),
    "copy_": lambda v, w: v.copy_(w[: v.numel()].reshape(v.shape).exp()),
    "setitem": lambda v, w: v.__setitem__(0, w[0] * 2),
    "div_": lambda v, w: v.div_(2.0),
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("view", sorted(VIEWS))
@pytest.mark.parametrize("through", ["view", "base"])
def test_writes_into_views_match_torch(view, write, through):
    rng = np.random.default_rng(abs(hash((view, write, through))) % 2**32)
    a0, w0 = rng.standard_normal((4, 6)), rng.standard_normal(24)
    p0, q0 = rng.standard_normal((4, 6)), rng.standard_normal(24)

    def f(lib):
        a = lib.tensor(a0, dtype=lib.float64, requires_grad=True)
        w = lib.tensor(w0, dtype=lib.float64, requires_grad=True)
        x = a * 1.0
        v = VIEWS[view](x)
        WRITES[write](v if through == "view" else x, w)
        q = lib.tensor(q0[: v.numel()].reshape(v.shape), dtype=lib.float64)
        loss = (x * lib.tensor(p0, dtype=lib.float64)).sum() + (v * q).sum()  # the base and the view, both used after
        loss.backward()
        grads = [t.grad.numpy().ravel() if t.grad is not None else np.zeros(t.numel()) for t in (a, w)]
        return np.concatenate([x.detach().numpy().ravel(), v.detach().numpy().ravel(), *grads])

    _both(f)


def test_view_of_a_leaf_that_requires_grad_cannot_be_written():
    for lib in (torch, dl):
        a = lib.zeros(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="view of a leaf Variable"):
            a[1:].mul_(2)


def test_write_into_a_broadcast_view_is_a_clear_error():
    x = dl.zeros(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        x.add_(1)


def test_detect_anomaly_names_the_op_and_where_it_was_made():
    x = dl.tensor([0.0, 1.0], requires_grad=True)
    with dl.autograd.detect_anomaly():
        y = x.sqrt()  # the gradient at 0 is inf
        with pytest.raises(RuntimeError, match=r"Function 'SqrtBackward' returned inf values in its 0th output(.|\n)*test_inplace_versions.py"):
            y.sum().backward()
    assert not dl.autograd.is_anomaly_enabled()
    x.grad = None
    x.sqrt().sum().backward()  # outside the block: no check, as in PyTorch
    assert np.isinf(x.grad.numpy()[0])


def test_set_detect_anomaly_switch():
    dl.autograd.set_detect_anomaly(True)
    try:
        assert dl.autograd.is_anomaly_enabled()
        x = dl.tensor([1.0], requires_grad=True)
        (x * 0).log().sum().backward() if False else None
        with pytest.raises(RuntimeError, match="returned nan values|returned inf values"):
            (x * 0).log().sum().backward()
    finally:
        dl.autograd.set_detect_anomaly(False)
