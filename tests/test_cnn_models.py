"""LeNet5, AlexNet and ResNet: torchvision's state_dict keys and shapes, parity with torch twins, and learning.

torchvision is not installed: the torch twins below are built from torch.nn following torchvision's
published layout (torchvision/models/resnet.py, alexnet.py), so loading their state_dicts checks
every key and shape, and comparing outputs checks the wiring.
"""

import numpy as np
import pytest
import torch
import torch.nn as tnn

import deepling as dl
from deepling.models.alexnet import AlexNet
from deepling.models.lenet import LeNet5
from deepling.models.resnet import BasicBlock, Bottleneck, CifarResNet, ResNet, resnet18, resnet20, resnet34, resnet50
from oracle import check_module


# ---------------------------------------------------------------------------- torch twins
class _TBasic(tnn.Module):
    expansion = 1

    def __init__(self, inp, planes, stride=1, down=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = down

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class _TBottle(tnn.Module):
    expansion = 4

    def __init__(self, inp, planes, stride=1, down=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU()
        self.downsample = down

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class _TResNet(tnn.Module):
    def __init__(self, block, layers, num_classes=1000, cifar=False):
        super().__init__()
        widths = (16, 32, 64) if cifar else (64, 128, 256, 512)
        self.inplanes = widths[0]
        if cifar:
            self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
        else:
            self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(widths[0])
        self.relu = tnn.ReLU()
        self.maxpool = tnn.Identity() if cifar else tnn.MaxPool2d(3, 2, 1)
        for i, (w, n) in enumerate(zip(widths, layers)):
            setattr(self, f"layer{i + 1}", self._layer(block, w, n, 1 if i == 0 else 2))
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(widths[-1] * block.expansion, num_classes)
        self.n = len(widths)

    def _layer(self, block, planes, n, stride):
        down = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            down = tnn.Sequential(tnn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                  tnn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, down)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, n)]
        return tnn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.n):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _t_alexnet(num_classes, small):
    k1, s1, p1, k2, p2, pk, ps, grid, hidden = (3, 2, 1, 3, 1, 2, 2, 2, 1024) if small else (11, 4, 2, 5, 2, 3, 2, 6, 4096)
    m = tnn.Module()
    m.features = tnn.Sequential(
        tnn.Conv2d(3, 64, k1, s1, p1), tnn.ReLU(), tnn.MaxPool2d(pk, ps),
        tnn.Conv2d(64, 192, k2, padding=p2), tnn.ReLU(), tnn.MaxPool2d(pk, ps),
        tnn.Conv2d(192, 384, 3, padding=1), tnn.ReLU(), tnn.Conv2d(384, 256, 3, padding=1), tnn.ReLU(),
        tnn.Conv2d(256, 256, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(pk, ps))
    m.avgpool = tnn.AdaptiveAvgPool2d((grid, grid))
    m.classifier = tnn.Sequential(tnn.Dropout(), tnn.Linear(256 * grid * grid, hidden), tnn.ReLU(), tnn.Dropout(),
                                  tnn.Linear(hidden, hidden), tnn.ReLU(), tnn.Linear(hidden, num_classes))
    m.forward = lambda x: m.classifier(torch.flatten(m.avgpool(m.features(x)), 1))
    return m


def _same_keys_and_shapes(ours, theirs):
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert tuple(a[k].shape) == tuple(b[k].shape), k


def _outputs_match(ours, theirs, xshape, train=False):
    """Compare with the twin on its weights, in train or eval mode (logits and all gradients)."""
    check_module(ours, theirs, [xshape], modes=("train" if train else "eval",), atol=1e-3, rtol=1e-3,
                 grad_atol=1e-3, grad_rtol=1e-2)


# ---------------------------------------------------------------------------- state_dict layouts
def _meta(build):
    """A torch twin on the meta device: parameter shapes without allocating or initializing them."""
    with torch.device("meta"):
        return build()


def test_resnet18_state_dict_matches_torchvision_layout():
    model = resnet18()
    sd = model.state_dict()
    # Keys and shapes from torchvision's resnet18: 62 parameters + 60 BatchNorm buffers.
    assert len(sd) == 122
    expected = {
        "conv1.weight": (64, 3, 7, 7), "bn1.weight": (64,), "bn1.running_var": (64,), "bn1.num_batches_tracked": (),
        "layer1.0.conv1.weight": (64, 64, 3, 3), "layer1.1.bn2.bias": (64,),
        "layer2.0.conv1.weight": (128, 64, 3, 3), "layer2.0.downsample.0.weight": (128, 64, 1, 1),
        "layer2.0.downsample.1.running_mean": (128,), "layer3.1.conv2.weight": (256, 256, 3, 3),
        "layer4.0.downsample.0.weight": (512, 256, 1, 1), "layer4.1.bn2.weight": (512,),
        "fc.weight": (1000, 512), "fc.bias": (1000,),
    }
    for k, shape in expected.items():
        assert tuple(sd[k].shape) == shape, k
    assert "layer1.0.downsample.0.weight" not in sd
    blocks = {k.split(".")[0] + "." + k.split(".")[1] for k in sd if k.startswith("layer")}
    assert blocks == {f"layer{i}.{j}" for i in range(1, 5) for j in range(2)}
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == 11_689_512  # torchvision's resnet18 parameter count
    _same_keys_and_shapes(model, _meta(lambda: _TResNet(_TBasic, [2, 2, 2, 2])))


def test_resnet34_and_50_layouts():
    _same_keys_and_shapes(resnet34(num_classes=7), _meta(lambda: _TResNet(_TBasic, [3, 4, 6, 3], 7)))
    m50 = resnet50()
    sd = m50.state_dict()
    assert tuple(sd["layer1.0.downsample.0.weight"].shape) == (256, 64, 1, 1)
    assert tuple(sd["layer4.2.conv3.weight"].shape) == (2048, 512, 1, 1)
    assert tuple(sd["fc.weight"].shape) == (1000, 2048)
    assert sum(p.numel() for p in m50.parameters()) == 25_557_032
    _same_keys_and_shapes(m50, _meta(lambda: _TResNet(_TBottle, [3, 4, 6, 3])))


def test_resnet_outputs_match_torch_twin():
    torch.manual_seed(0)
    _outputs_match(resnet18(num_classes=5), _TResNet(_TBasic, [2, 2, 2, 2], 5), (2, 3, 32, 32), train=False)
    # Train mode: BatchNorm over batch statistics, whose layer4 statistics cover only 16 values (batch
    # 4, 2x2 maps) and amplify rounding: torch's own float32 input gradient was measured 1.6e-3 off
    # its float64 value on one machine (deepling's 3e-7), so both run in float64, where the oracle is exact.
    x64 = np.random.default_rng(0).uniform(-2, 2, (4, 3, 64, 64))
    check_module(ResNet(Bottleneck, [1, 1, 1, 1], num_classes=3).double(),
                 _TResNet(_TBottle, [1, 1, 1, 1], 3).double(), [x64], modes=("train",), atol=1e-9, rtol=1e-7)


def test_resnet20_matches_torch_twin_in_train_and_eval():
    torch.manual_seed(0)
    ours, theirs = resnet20(), _TResNet(_TBasic, [3, 3, 3], 10, cifar=True)
    _same_keys_and_shapes(ours, theirs)
    assert sum(p.numel() for p in ours.parameters()) == 272_474  # He et al.: "0.27M"
    _outputs_match(ours, theirs, (4, 3, 32, 32), train=True)
    for k, v in theirs.state_dict().items():  # running statistics updated alike
        np.testing.assert_allclose(ours.state_dict()[k].array, v.numpy(), atol=1e-4, rtol=1e-3, err_msg=k)
    _outputs_match(ours, theirs, (4, 3, 32, 32), train=False)


def test_resnet_init_and_zero_init_residual():
    dl.manual_seed(0)
    m = resnet20(zero_init_residual=True)
    w = m.layer3[0].conv1.weight.array
    assert abs(w.std() - np.sqrt(2 / (64 * 9))) < 0.2 * np.sqrt(2 / (64 * 9))  # He normal, fan_out
    assert np.all(m.layer1[0].bn2.weight.array == 0) and np.all(m.layer1[0].bn1.weight.array == 1)
    assert isinstance(m.layer2[0], BasicBlock) and isinstance(m, CifarResNet)
    m.eval()
    x = dl.randn(2, 16, 8, 8).relu()
    # With the residual branch zeroed, a block without downsample is exactly relu(x) = x here.
    np.testing.assert_allclose(m.layer1[1](x).array, x.array, atol=1e-6)


def test_alexnet_layout_and_parity():
    full = AlexNet()
    sd = full.state_dict()
    assert list(sd) == [f"features.{i}.{p}" for i in (0, 3, 6, 8, 10) for p in ("weight", "bias")] + \
        [f"classifier.{i}.{p}" for i in (1, 4, 6) for p in ("weight", "bias")]
    assert tuple(sd["features.0.weight"].shape) == (64, 3, 11, 11)
    assert tuple(sd["classifier.1.weight"].shape) == (4096, 9216)
    assert sum(p.numel() for p in full.parameters()) == 61_100_840  # torchvision's alexnet
    _same_keys_and_shapes(full, _meta(lambda: _t_alexnet(1000, small=False)))
    full.eval()
    with dl.no_grad():
        assert full(dl.randn(1, 3, 224, 224)).shape == (1, 1000)
    torch.manual_seed(0)
    _outputs_match(AlexNet(num_classes=10, small=True), _t_alexnet(10, small=True), (2, 3, 32, 32))


def test_lenet5_shapes_and_parity():
    m = LeNet5()
    assert [tuple(v.shape) for v in m.state_dict().values()] == [
        (6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,), (10, 84), (10,)]
    assert sum(p.numel() for p in m.parameters()) == 61_706
    theirs = tnn.Module()
    theirs.features = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.Tanh(), tnn.AvgPool2d(2),
                                     tnn.Conv2d(6, 16, 5), tnn.Tanh(), tnn.AvgPool2d(2))
    theirs.classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(400, 120), tnn.Tanh(), tnn.Linear(120, 84),
                                       tnn.Tanh(), tnn.Linear(84, 10))
    theirs.forward = lambda x: theirs.classifier(theirs.features(x))
    _outputs_match(LeNet5(activation="tanh", pool="avg"), theirs, (3, 1, 28, 28), train=True)
    with pytest.raises(ValueError, match="unknown activation 'gelu6'"):
        LeNet5(activation="gelu6")
    with pytest.raises(ValueError, match="LeNet5: pool"):
        LeNet5(pool="median")


# ---------------------------------------------------------------------------- learning
def _stripes(n, rng):
    """28x28 noisy images of horizontal (0), vertical (1) or diagonal (2) stripes with random phase and period."""
    y = rng.integers(0, 3, n)
    period = rng.integers(3, 7, n)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, n)[:, None, None]
    r, c = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    coord = np.where(y[:, None, None] == 0, r, np.where(y[:, None, None] == 1, c, r + c))
    img = np.sin(2 * np.pi * coord / period + phase) + 0.5 * rng.standard_normal((n, 28, 28))
    return img[:, None].astype(np.float32), y


def test_lenet_learns_stripe_orientation():
    dl.manual_seed(0)
    rng = np.random.default_rng(0)
    xtr, ytr = _stripes(512, rng)
    xte, yte = _stripes(256, rng)
    model = LeNet5(num_classes=3)
    opt = dl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(60):  # 60 steps, batch 32
        idx = rng.integers(0, len(xtr), 32)
        loss = dl.nn.functional.cross_entropy(model(dl.tensor(xtr[idx])), dl.tensor(ytr[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with dl.no_grad():
        acc = (model(dl.tensor(xte)).array.argmax(1) == yte).mean()
    assert acc >= 0.95, f"LeNet5 reached only {acc:.3f} test accuracy on stripe orientation"


def test_cli_registry_builds_cnn_models_for_input_shapes():
    from deepling.models import MODELS

    cases = [("lenet", (1, 28, 28)), ("lenet", (3, 32, 32)), ("alexnet", (3, 32, 32)), ("alexnet", (1, 28, 28)),
             ("resnet20", (3, 32, 32)), ("resnet20", (1, 28, 28))]
    for name, shape in cases:
        model = MODELS[name](shape, 7).eval()
        with dl.no_grad():
            assert model(dl.randn(2, *shape)).shape == (2, 7), (name, shape)
    with pytest.raises(ValueError, match="lenet: expects 28x28 or 32x32"):
        MODELS["lenet"]((1, 8, 8), 10)
