"""conv1d/conv2d/conv_transpose2d/unfold/fold and the Conv modules against PyTorch, plus float64 gradchecks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepling as dl
import deepling.nn.functional as F
from oracle import check_grad, check_module, check_op

CONV2D_CASES = [
    # x shape, w shape, kwargs
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 2), {"stride": 2, "padding": 1}),
    ((1, 4, 9, 8), (6, 2, 3, 3), {"groups": 2, "padding": (2, 1), "dilation": (2, 1)}),
    ((3, 2, 5, 5), (5, 2, 1, 1), {"stride": (2, 3)}),
    ((2, 4, 6, 7), (4, 1, 3, 3), {"groups": 4, "padding": "same"}),
    ((2, 3, 8, 5), (2, 3, 4, 2), {"padding": "same", "dilation": 2}),
    ((2, 3, 6, 6), (3, 3, 3, 3), {"padding": "valid", "stride": 3}),
    ((1, 6, 11, 9), (6, 3, 5, 3), {"groups": 2, "stride": (3, 2), "padding": 2, "dilation": (1, 2)}),
    # dx by col2im: batch innermost (stride 1 or at most 64 outputs) above, the plain layout here
    ((2, 2, 19, 20), (3, 2, 3, 3), {"stride": 2, "padding": 1}),
]


@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES)
def test_conv2d_matches_torch(xs, ws, kw):
    check_op(lambda x, w, b: TF.conv2d(x, w, b, **kw), [xs, ws, (ws[0],)],
             lambda x, w, b: F.conv2d(x, w, b, **kw), atol=1e-4, grad_atol=1e-3)


def test_conv2d_without_bias_and_unbatched():
    check_op(lambda x, w: TF.conv2d(x, w, stride=2, padding=1), [(3, 6, 5), (2, 3, 3, 3)],
             lambda x, w: F.conv2d(x, w, stride=2, padding=1), atol=1e-4, grad_atol=1e-3)


@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES[:3] + CONV2D_CASES[-2:])
def test_conv2d_gradcheck(xs, ws, kw):
    xs = (1,) + xs[1:]
    check_grad(lambda x, w, b: F.conv2d(x, w, b, **kw), [xs, ws, (ws[0],)])


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 2}, {"dilation": 3, "padding": "same"},
                                {"groups": 2, "stride": 3}])
def test_conv1d_matches_torch(kw):
    check_op(lambda x, w, b: TF.conv1d(x, w, b, **kw), [(2, 4, 13), (6, 4 // kw.get("groups", 1), 3), (6,)],
             lambda x, w, b: F.conv1d(x, w, b, **kw), atol=1e-4, grad_atol=1e-3)


def test_conv1d_gradcheck():
    check_grad(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2), [(1, 2, 9), (3, 2, 3), (3,)])


CONVT_CASES = [
    ((2, 3, 4, 5), (3, 2, 3, 3), {}),
    ((2, 4, 3, 4), (4, 3, 3, 2), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((1, 4, 5, 3), (4, 1, 3, 3), {"groups": 2, "stride": (2, 3), "dilation": (2, 1), "padding": (1, 2)}),
    ((2, 2, 3, 3), (2, 3, 2, 2), {"stride": 3, "output_padding": (2, 1)}),
    ((1, 2, 4, 4), (2, 2, 3, 3), {"padding": 3, "dilation": 2, "stride": 2, "output_padding": 1}),
    # strided, more than 64 input positions: col2im in the plain layout (the cases above: batch innermost)
    ((2, 3, 9, 8), (3, 2, 3, 3), {"stride": 2, "padding": 1}),
]


@pytest.mark.parametrize("xs,ws,kw", CONVT_CASES)
def test_conv_transpose2d_matches_torch(xs, ws, kw):
    cout = ws[1] * kw.get("groups", 1)
    check_op(lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw), [xs, ws, (cout,)],
             lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), atol=1e-4, grad_atol=1e-3)


@pytest.mark.parametrize("xs,ws,kw", CONVT_CASES[1:3] + CONVT_CASES[-1:])
def test_conv_transpose2d_gradcheck(xs, ws, kw):
    cout = ws[1] * kw.get("groups", 1)
    check_grad(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), [(1,) + xs[1:], ws, (cout,)])


@pytest.mark.parametrize("kw", [{"kernel_size": 3}, {"kernel_size": (2, 3), "stride": 2, "padding": 1},
                                {"kernel_size": 2, "dilation": 2, "stride": (1, 2)}])
def test_unfold_fold_match_torch(kw):
    check_op(lambda x: TF.unfold(x, **kw), [(2, 3, 7, 6)], lambda x: F.unfold(x, **kw))
    cols = TF.unfold(torch.zeros(2, 3, 7, 6), **kw).shape
    check_op(lambda c: TF.fold(c, (7, 6), **kw), [cols], lambda c: F.fold(c, (7, 6), **kw))
    check_grad(lambda x: F.unfold(x, **kw), [(1, 2, 7, 6)])
    check_grad(lambda c: F.fold(c, (7, 6), **kw), [(1,) + tuple(cols[1:])])


def test_conv_errors_name_op_and_shapes():
    x = dl.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"conv2d: input of shape \(2, 3, 8, 8\)"):
        F.conv2d(x, dl.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match="conv2d: padding='same'"):
        F.conv2d(x, dl.randn(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="conv2d: input size"):
        F.conv2d(x, dl.randn(4, 3, 9, 9))
    with pytest.raises(TypeError, match="conv2d: input dtype"):
        F.conv2d(x.double(), dl.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match="conv_transpose2d: output_padding"):
        F.conv_transpose2d(x, dl.randn(3, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="fold: input of shape"):
        F.fold(dl.randn(1, 10, 4), (5, 5), 3)


def test_conv2d_float32_stays_float32_and_no_graph_under_no_grad():
    x, w = dl.randn(2, 3, 6, 6, requires_grad=True), dl.randn(4, 3, 3, 3, requires_grad=True)
    assert F.conv2d(x, w).dtype == np.float32
    with dl.no_grad():
        y = F.conv2d(x, w)
    assert not y.requires_grad and y.grad_fn is None


# ---------------------------------------------------------------------------- modules
def _module_parity(ours, theirs, xshape):
    check_module(ours, theirs, [xshape], atol=1e-4, rtol=1e-4, grad_atol=1e-3, grad_rtol=1e-3)


@pytest.mark.parametrize("args,kw,xshape", [
    ((3, 6, 3), {}, (2, 3, 9, 8)),
    ((4, 6, (3, 2)), {"stride": 2, "padding": 1, "groups": 2, "bias": False}, (2, 4, 7, 7)),
    ((3, 5, 3), {"padding": "same", "dilation": 2}, (1, 3, 6, 7)),
    ((2, 4, 3), {"padding": 2, "padding_mode": "reflect"}, (2, 2, 6, 5)),
    ((2, 4, 3), {"padding": 1, "padding_mode": "replicate", "stride": 2}, (2, 2, 6, 5)),
    ((2, 4, 3), {"padding": (1, 2), "padding_mode": "circular"}, (2, 2, 6, 5)),
])
def test_conv2d_module_matches_torch(args, kw, xshape):
    _module_parity(dl.nn.Conv2d(*args, **kw), torch.nn.Conv2d(*args, **kw), xshape)


def test_conv1d_module_matches_torch():
    _module_parity(dl.nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2), torch.nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2), (3, 4, 11))
    _module_parity(dl.nn.Conv1d(2, 3, 5, padding="same", padding_mode="reflect"),
                   torch.nn.Conv1d(2, 3, 5, padding="same", padding_mode="reflect"), (3, 2, 9))


def test_conv_transpose2d_module_matches_torch():
    kw = {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}
    _module_parity(dl.nn.ConvTranspose2d(4, 6, 3, **kw), torch.nn.ConvTranspose2d(4, 6, 3, **kw), (2, 4, 5, 4))
    ours, theirs = dl.nn.ConvTranspose2d(2, 3, 3, stride=2), torch.nn.ConvTranspose2d(2, 3, 3, stride=2)
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    want = theirs(torch.tensor(x), output_size=(10, 10)).detach().numpy()
    np.testing.assert_allclose(ours(dl.tensor(x), output_size=(10, 10)).array, want, atol=1e-5)


def test_conv_module_init_matches_torch_law():
    # Default init is kaiming_uniform(a=sqrt(5)): weights and bias within 1/sqrt(fan_in).
    dl.manual_seed(0)
    m = dl.nn.Conv2d(8, 16, 3, groups=2)
    assert m.weight.shape == (16, 4, 3, 3) and m.bias.shape == (16,)
    bound = 1 / np.sqrt(4 * 9)
    assert np.abs(m.weight.array).max() <= bound and np.abs(m.weight.array).max() > 0.9 * bound
    assert np.abs(m.bias.array).max() <= bound
    t = dl.nn.ConvTranspose2d(8, 6, 3, groups=2)
    assert t.weight.shape == (8, 3, 3, 3)
    assert np.abs(t.weight.array).max() <= 1 / np.sqrt(3 * 9)
    assert "stride=(1, 1)" in repr(m) or "kernel_size=(3, 3)" in repr(m)
