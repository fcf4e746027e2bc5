"""The device model: deepling.device parses and prints like torch.device; only the CPU exists."""

import numpy as np
import pytest
import torch

import deepling as dl
from deepling.devices import DeviceError


@pytest.mark.parametrize("spec", ["cpu", "cuda", "cuda:0", "cuda:3", "mps", "meta", "cpu:0"])
def test_device_parses_prints_and_compares_as_torch(spec):
    d, t = dl.device(spec), torch.device(spec)
    assert repr(d) == repr(t) and str(d) == str(t)
    assert (d.type, d.index) == (t.type, t.index)
    assert d == dl.device(spec) and hash(d) == hash(dl.device(spec))
    assert (d == spec) == (t == spec)  # a device never equals a string


def test_device_with_index_and_copy():
    assert repr(dl.device("cuda", 1)) == repr(torch.device("cuda", 1))
    assert dl.device(dl.device("cuda:2")) == dl.device("cuda:2")
    assert dl.device("cpu") != dl.device("cpu:0")


@pytest.mark.parametrize("bad", ["gpu", "CPU", "cuda:x", "cpu:0:1", "cuda:-1", "cuda:01"])
def test_bad_device_strings_raise_like_torch(bad):
    with pytest.raises(RuntimeError):
        torch.device(bad)
    with pytest.raises(RuntimeError):
        dl.device(bad)


def test_tensor_device_and_to():
    x = dl.zeros(2, 3)
    assert x.device == dl.device("cpu") and repr(x.device) == "device(type='cpu')"
    assert not x.is_cuda and x.get_device() == -1
    assert x.to("cpu") is x and x.to(dl.device("cpu")) is x and x.to(dl.float32) is x
    assert x.to("cpu", dl.float64).dtype == dl.float64
    assert x.to(device="cpu", dtype=dl.float64, non_blocking=True).dtype == dl.float64
    assert x.to(dl.zeros(1, dtype=dl.int64)).dtype == dl.int64
    y = x.to("cpu", copy=True)
    assert y is not x and np.shares_memory(y.array, x.array) is False
    assert x.cpu() is x


def test_to_copy_is_differentiable():
    x = dl.ones(3, requires_grad=True)
    (x.to("cpu", copy=True) * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [2, 2, 2])


@pytest.mark.parametrize("dev", ["cuda", "cuda:0", dl.device("cuda", 1), "mps"])
def test_unavailable_device_raises_a_clear_error(dev):
    x = dl.zeros(2)
    with pytest.raises(DeviceError, match="CPU only"):
        x.to(dev)
    with pytest.raises(DeviceError, match="CPU only"):
        dl.zeros(2, device=dev)
    with pytest.raises(DeviceError, match="CPU only"):
        dl.nn.Linear(2, 2).to(dev)


def test_cuda_method_raises():
    with pytest.raises(DeviceError, match="no CUDA"):
        dl.zeros(2).cuda()
    with pytest.raises(DeviceError, match="no CUDA"):
        dl.nn.Linear(2, 2).cuda()


def test_creation_functions_accept_the_cpu_device():
    cpu = dl.device("cpu")
    for make in (
        lambda: dl.zeros(2, device=cpu), lambda: dl.ones(2, device="cpu"), lambda: dl.randn(2, device=cpu),
        lambda: dl.arange(3, device=cpu), lambda: dl.tensor([1.0], device=cpu), lambda: dl.randint(0, 3, (2,), device=cpu),
        lambda: dl.zeros_like(dl.ones(2), device=cpu), lambda: dl.eye(2, device=cpu), lambda: dl.full((2,), 1.0, device=cpu),
        lambda: dl.as_tensor([1, 2], device=cpu), lambda: dl.randperm(3, device=cpu),
    ):
        assert make().device == cpu


def test_module_to_device_and_dtype():
    m = dl.nn.Linear(2, 3)
    assert m.to(dl.device("cpu")) is m
    m.to("cpu", dl.float64)
    assert m.weight.dtype == dl.float64


def test_cuda_accelerator_backends_as_torch_without_cuda():
    assert dl.cuda.is_available() is torch.cuda.is_available() is False
    assert dl.cuda.device_count() == torch.cuda.device_count() == 0
    for f in ("manual_seed", "manual_seed_all"):
        assert getattr(dl.cuda, f)(1) is None
    dl.cuda.empty_cache()
    with pytest.raises(DeviceError):
        dl.cuda.current_device()
    assert dl.accelerator.is_available() is torch.accelerator.is_available()
    assert dl.accelerator.current_accelerator() is torch.accelerator.current_accelerator() is None
    assert dl.backends.cudnn.is_available() == torch.backends.cudnn.is_available()
    assert dl.backends.mps.is_available() == torch.backends.mps.is_available()
    assert dl.backends.mps.is_built() == torch.backends.mps.is_built()
    import deepling.backends.cudnn as cudnn

    cudnn.benchmark = True  # accepted and ignored
    cudnn.benchmark = False


def test_the_usual_device_selection_idiom_runs():
    use_accel = dl.accelerator.is_available()
    device = dl.accelerator.current_accelerator() if use_accel else dl.device("cpu")
    device2 = dl.device("cuda" if dl.cuda.is_available() else "cpu")
    model = dl.nn.Linear(4, 2).to(device)
    x = dl.randn(3, 4).to(device2)
    assert model(x).device == device
    with dl.device("cpu"):
        assert dl.zeros(1).device == device


def test_xpu_and_layer_device_arguments():
    assert dl.xpu.is_available() is torch.xpu.is_available() is False
    layer = dl.nn.Linear(2, 3, True, "cpu", dl.float64)  # PyTorch's positional order: bias, device, dtype
    assert layer.weight.dtype == dl.float64 and layer.weight.device == dl.device("cpu")
    with pytest.raises(DeviceError):
        dl.nn.Linear(2, 3, device="cuda")


def test_default_device_size_and_variable():
    assert dl.get_default_device() == dl.device("cpu") and str(torch.get_default_device()) == "cpu"
    dl.set_default_device("cpu")
    with pytest.raises(DeviceError):
        dl.set_default_device("cuda")
    assert dl.Size([2, 3]) == (2, 3) == torch.Size([2, 3]) and dl.Size([2, 3]).numel() == 6
    assert dl.zeros(2, 3).shape == dl.Size([2, 3]) and repr(dl.Size([2, 3])) == "deepling.Size([2, 3])"
    from deepling.autograd import Variable

    x = dl.ones(2)
    assert Variable(x) is x and Variable(x, requires_grad=True).requires_grad
