"""pad and interpolate (and their layers) against PyTorch, plus float64 gradchecks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepling as dl
import deepling.nn.functional as F
from oracle import check_grad, check_op

PADS = [
    ((2, 3, 5, 6), (1, 2), "constant"),
    ((2, 3, 5, 6), (1, 2, 3, 0), "constant"),
    ((2, 3, 5, 6), (-1, 2, 0, -2), "constant"),
    ((2, 3, 4), (1, 1, 2, 0, 0, 1), "constant"),
    ((2, 3, 5, 6), (2, 3, 1, 4), "reflect"),
    ((2, 3, 7), (3, 2), "reflect"),
    ((2, 3, 5, 6), (2, 3, 1, 4), "replicate"),
    ((1, 2, 3, 4, 5), (1, 2, 2, 1, 1, 1), "replicate"),
    ((2, 3, 5, 6), (2, 3, 1, 4), "circular"),
    ((2, 3, 7), (3, 2), "circular"),
]


@pytest.mark.parametrize("shape,pad,mode", PADS)
def test_pad_matches_torch(shape, pad, mode):
    check_op(lambda x: TF.pad(x, pad, mode=mode), [shape], lambda x: F.pad(x, pad, mode=mode))
    check_grad(lambda x: F.pad(x, pad, mode=mode), [(1,) + shape[1:]])


def test_pad_constant_value():
    check_op(lambda x: TF.pad(x, (1, 1, 2, 2), value=-3.5), [(2, 3, 4)], lambda x: F.pad(x, (1, 1, 2, 2), value=-3.5))


def test_pad_errors():
    x = dl.randn(1, 2, 3, 3)
    with pytest.raises(ValueError, match="pad: reflect padding"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: padding length"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match="pad: unknown mode"):
        F.pad(x, (1, 1), mode="mirror")


INTERP = [
    ((2, 3, 5, 6), {"scale_factor": 2, "mode": "nearest"}),
    ((2, 3, 5, 6), {"size": (7, 4), "mode": "nearest"}),
    ((2, 3, 5, 6), {"scale_factor": 1.7, "mode": "nearest"}),
    ((2, 3, 5, 6), {"size": (9, 11), "mode": "nearest-exact"}),
    ((2, 3, 5, 6), {"scale_factor": 2, "mode": "bilinear"}),
    ((2, 3, 5, 6), {"size": (8, 3), "mode": "bilinear", "align_corners": False}),
    ((2, 3, 5, 6), {"size": (8, 13), "mode": "bilinear", "align_corners": True}),
    ((2, 3, 5, 6), {"scale_factor": (1.5, 0.6), "mode": "bilinear"}),
    ((2, 3, 5, 6), {"scale_factor": 1.5, "mode": "bilinear", "recompute_scale_factor": True}),
    ((2, 3, 7), {"scale_factor": 2.5, "mode": "linear"}),
    ((2, 3, 7), {"size": 4, "mode": "linear", "align_corners": True}),
    ((2, 3, 7), {"size": 12, "mode": "nearest"}),
]


@pytest.mark.parametrize("shape,kw", INTERP)
def test_interpolate_matches_torch(shape, kw):
    check_op(lambda x: TF.interpolate(x, **kw), [shape], lambda x: F.interpolate(x, **kw))
    check_grad(lambda x: F.interpolate(x, **kw), [(1, 1) + shape[2:]])


def test_interpolate_errors():
    x = dl.randn(1, 2, 3, 3)
    with pytest.raises(ValueError, match="interpolate: exactly one"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="interpolate: mode 'linear' expects a 3-D input"):
        F.interpolate(x, scale_factor=2, mode="linear")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)


def _parity(ours, theirs, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    tx, dx = torch.tensor(x, requires_grad=True), dl.tensor(x, requires_grad=True)
    ty, dy = theirs(tx), ours(dx)
    np.testing.assert_allclose(dy.array, ty.detach().numpy(), atol=1e-5)
    w = np.random.default_rng(1).standard_normal(ty.shape).astype(np.float32)
    (ty * torch.tensor(w)).sum().backward()
    (dy * dl.tensor(w)).sum().backward()
    np.testing.assert_allclose(dx.grad.array, tx.grad.numpy(), atol=1e-5)


def test_upsample_and_padding_modules_match_torch():
    nn, tnn = dl.nn, torch.nn
    _parity(nn.Upsample(scale_factor=2), tnn.Upsample(scale_factor=2), (2, 3, 4, 5))
    _parity(nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True),
            tnn.Upsample(size=(7, 9), mode="bilinear", align_corners=True), (2, 3, 4, 5))
    _parity(nn.UpsamplingBilinear2d(scale_factor=3), tnn.UpsamplingBilinear2d(scale_factor=3), (1, 2, 3, 4))
    _parity(nn.UpsamplingNearest2d(size=5), tnn.UpsamplingNearest2d(size=5), (1, 2, 3, 4))
    _parity(nn.ZeroPad2d((1, 2, 0, 3)), tnn.ZeroPad2d((1, 2, 0, 3)), (2, 3, 4, 5))
    _parity(nn.ConstantPad1d(2, 1.5), tnn.ConstantPad1d(2, 1.5), (2, 3, 4))
    _parity(nn.ReflectionPad2d(2), tnn.ReflectionPad2d(2), (2, 3, 4, 5))
    _parity(nn.ReflectionPad1d((1, 3)), tnn.ReflectionPad1d((1, 3)), (2, 3, 5))
    _parity(nn.ReplicationPad2d((3, 0, 1, 2)), tnn.ReplicationPad2d((3, 0, 1, 2)), (2, 3, 4, 5))
    _parity(nn.CircularPad2d(1), tnn.CircularPad2d(1), (2, 3, 4, 5))
