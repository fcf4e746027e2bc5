"""conv2d's Winograd F(2x2, 3x3) path (deepling.ops.winograd) against PyTorch and float64 gradchecks.

The dispatch rule picks Winograd only for 32+ channels on small images when a gradient is needed;
``forced`` widens it to every 3x3 / stride 1 / one-group convolution so that small, odd shapes
exercise the kernel, and a spy asserts that the Winograd path really ran.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepling as dl
import deepling.nn.functional as F
from deepling.ops import conv, winograd
from oracle import check_grad, check_op


@pytest.fixture
def spy(monkeypatch):
    calls = {"forward": 0, "backward": 0}
    fwd, bwd = winograd.winograd_forward, winograd.winograd_backward

    def counted_forward(*a, **k):
        calls["forward"] += 1
        return fwd(*a, **k)

    def counted_backward(*a, **k):
        calls["backward"] += 1
        return bwd(*a, **k)

    monkeypatch.setattr(winograd, "winograd_forward", counted_forward)
    monkeypatch.setattr(winograd, "winograd_backward", counted_backward)
    return calls


@pytest.fixture
def forced(monkeypatch, spy):
    def every_3x3(x_shape, w_shape, stride, dilation, groups):
        return w_shape[2:] == (3, 3) and stride == (1, 1) and dilation == (1, 1) and groups == 1

    monkeypatch.setattr(winograd, "applies", every_3x3)
    return spy


CASES = [
    # x shape, w shape, kwargs: odd sizes, every padding form, batch 1
    ((2, 3, 7, 6), (4, 3, 3, 3), {"padding": 1}),
    ((1, 2, 5, 5), (3, 2, 3, 3), {}),
    ((3, 4, 9, 4), (2, 4, 3, 3), {"padding": (2, 1)}),
    ((1, 3, 6, 11), (5, 3, 3, 3), {"padding": "same"}),
    ((2, 2, 3, 3), (2, 2, 3, 3), {"padding": 3}),
    ((2, 5, 8, 8), (3, 5, 3, 3), {"padding": "valid"}),
]


@pytest.mark.parametrize("xs,ws,kw", CASES)
def test_winograd_conv2d_matches_torch(forced, xs, ws, kw):
    check_op(lambda x, w, b: TF.conv2d(x, w, b, **kw), [xs, ws, (ws[0],)],
             lambda x, w, b: F.conv2d(x, w, b, **kw), atol=1e-4, grad_atol=1e-3)
    assert forced["forward"] == 1 and forced["backward"] == 1


@pytest.mark.parametrize("xs,ws,kw", CASES[:4])
def test_winograd_conv2d_gradcheck(forced, xs, ws, kw):
    check_grad(lambda x, w, b: F.conv2d(x, w, b, **kw), [(1,) + xs[1:], ws, (ws[0],)])
    assert forced["forward"] > 0 and forced["backward"] > 0


def test_winograd_without_bias_unbatched_and_float64(forced):
    check_op(lambda x, w: TF.conv2d(x, w, padding=1), [(3, 7, 5), (2, 3, 3, 3)],
             lambda x, w: F.conv2d(x, w, padding=1), atol=1e-4, grad_atol=1e-3)
    check_op(lambda x, w: TF.conv2d(x, w, padding=1), [(2, 3, 5, 4), (2, 3, 3, 3)],
             lambda x, w: F.conv2d(x, w, padding=1), dtype=np.float64, atol=1e-10, grad_atol=1e-9)
    assert forced["forward"] == 2


@pytest.mark.parametrize("which", ["input", "weight"])
def test_winograd_one_gradient_only(forced, which):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 5), dtype=np.float32), rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    dx, dw = dl.tensor(x, requires_grad=which == "input"), dl.tensor(w, requires_grad=which == "weight")
    tx, tw = torch.tensor(x, requires_grad=which == "input"), torch.tensor(w, requires_grad=which == "weight")
    F.conv2d(dx, dw, padding=1).square().sum().backward()
    TF.conv2d(tx, tw, padding=1).square().sum().backward()
    d, t = (dx, tx) if which == "input" else (dw, tw)
    np.testing.assert_allclose(d.grad.array, t.grad.numpy(), rtol=1e-4, atol=1e-3)
    assert (dw.grad if which == "input" else dx.grad) is None
    assert forced["backward"] == 1


def test_dispatch_takes_winograd_for_32_channels_on_small_images(spy):
    # The real rule: 32+ channels, 8x8 to 16x16, 2048+ pixels in the batch; odd sizes.
    check_op(lambda x, w, b: TF.conv2d(x, w, b, padding=1), [(33, 32, 9, 8), (32, 32, 3, 3), (32,)],
             lambda x, w, b: F.conv2d(x, w, b, padding=1), atol=1e-4, grad_atol=1e-3)
    assert spy["forward"] == 1 and spy["backward"] == 1


def test_dispatch_keeps_im2col_without_grad_and_outside_the_rule(spy):
    x = dl.tensor(np.ones((32, 32, 8, 8), dtype=np.float32))
    w = dl.tensor(np.ones((32, 32, 3, 3), dtype=np.float32))
    with dl.no_grad():
        F.conv2d(x, w.requires_grad_(), padding=1)
    wg = dl.tensor(np.ones((16, 32, 3, 3), dtype=np.float32), requires_grad=True)
    F.conv2d(x, wg, padding=1)  # 16 output channels
    F.conv2d(dl.tensor(np.ones((4, 32, 32, 32), dtype=np.float32)), w, padding=1)  # 32x32
    F.conv2d(x, w, padding=1, stride=2)
    F.conv2d(dl.tensor(np.ones((4, 32, 16, 16), dtype=np.float32)), w, padding=1)  # 1024 pixels in the batch
    assert spy["forward"] == 0
    conv.use_winograd = False
    try:
        F.conv2d(x, w, padding=1)
    finally:
        conv.use_winograd = True
    assert spy["forward"] == 0
