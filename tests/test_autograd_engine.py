"""The engine: graph recording, grad modes, accumulation, retain_graph, deep graphs, in-place rules,
retain_grad/detach, gradcheck itself. Behaviour is compared with PyTorch where both can run."""

import numpy as np
import pytest
import torch

import deepling as dl
from deepling.autograd import Function, GradcheckError, gradcheck, unbroadcast
from oracle import check_grad


def _pair(data, requires_grad=True):
    a = np.asarray(data, dtype=np.float32)
    return torch.tensor(a, requires_grad=requires_grad), dl.tensor(a, requires_grad=requires_grad)


def _same(d, t):
    assert d is not None and t is not None
    np.testing.assert_allclose(d.array if isinstance(d, dl.Tensor) else d, t.detach().numpy(), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------- accumulation
def test_grad_accumulates_across_backward_calls():
    tx, dx = _pair([1.0, -2.0, 3.0])
    for x in (tx, dx):
        (x * x).sum().backward()
        (x * 3).sum().backward()
    _same(dx.grad, tx.grad)
    np.testing.assert_allclose(dx.grad.array, 2 * dx.array + 3)


def test_grad_accumulates_within_one_graph():
    # x reaches the output by three paths; the leaf receives the sum
    tx, dx = _pair([[0.5, -1.0], [2.0, 0.25]])
    for x in (tx, dx):
        y = x * x + x.exp() * x + x.sum(0)
        y.sum().backward()
    _same(dx.grad, tx.grad)


def test_zeroing_grad_between_steps():
    x = dl.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    x.grad = None
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [5.0, 5.0, 5.0])
    x.grad.zero_()
    (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [1.0, 1.0, 1.0])


def test_leaf_grad_is_not_aliased_to_intermediate_arrays():
    # add hands the same gradient array to both inputs; the leaves must get their own copies
    a = dl.ones(3, requires_grad=True)
    b = dl.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.array += 1
    np.testing.assert_array_equal(b.grad.array, [1.0, 1.0, 1.0])


def test_grad_dtype_and_shape_follow_the_leaf():
    x = dl.ones(3, 1, dtype=dl.float64, requires_grad=True)
    y = dl.ones(4, dtype=dl.float32)
    (x * y).sum().backward()  # float64 result, broadcast (3, 1) x (4,) -> (3, 4)
    assert x.grad.dtype == np.float64 and x.grad.shape == (3, 1)
    np.testing.assert_array_equal(x.grad.array, np.full((3, 1), 4.0))


# ---------------------------------------------------------------------------- grad modes
def test_no_graph_when_no_input_requires_grad():
    a, b = dl.randn(3), dl.randn(3)
    y = (a * b).exp().sum()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


@pytest.mark.parametrize("m", [torch, dl], ids=["torch", "deepling"])
def test_no_grad_context(m):
    x = m.ones(3, requires_grad=True)
    with m.no_grad():
        assert not m.is_grad_enabled()
        y = x * 2
        with m.enable_grad():
            assert m.is_grad_enabled()
            z = x * 2
        assert not m.is_grad_enabled()
    assert m.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


@pytest.mark.parametrize("m", [torch, dl], ids=["torch", "deepling"])
def test_no_grad_restores_mode_after_exception(m):
    with pytest.raises(KeyError):
        with m.no_grad():
            raise KeyError("x")
    assert m.is_grad_enabled()


@pytest.mark.parametrize("m", [torch, dl], ids=["torch", "deepling"])
def test_grad_mode_decorators(m):
    x = m.ones(2, requires_grad=True)

    @m.no_grad()
    def f(t):
        assert not m.is_grad_enabled()
        return t * 2

    @m.no_grad
    def f_bare(t):
        return t * 2

    @m.enable_grad()
    def g(t):
        return t * 2

    @m.set_grad_enabled(False)
    def h(t):
        return t * 2

    assert m.is_grad_enabled()
    assert not f(x).requires_grad and f.__name__ == "f"
    assert not f_bare(x).requires_grad
    assert not h(x).requires_grad
    assert m.is_grad_enabled()
    with m.no_grad():
        assert g(x).requires_grad
        assert not m.is_grad_enabled()


@pytest.mark.parametrize("m", [torch, dl], ids=["torch", "deepling"])
def test_set_grad_enabled(m):
    x = m.ones(2, requires_grad=True)
    with m.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert m.is_grad_enabled()
    m.set_grad_enabled(False)  # as a plain call it switches the mode until changed back
    try:
        assert not m.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        m.set_grad_enabled(True)
    assert (x * 2).requires_grad
    with m.no_grad():
        with m.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not m.is_grad_enabled()


# ---------------------------------------------------------------------------- retain_graph / freeing
def test_second_backward_raises_without_retain_graph():
    for x in _pair([1.0, 2.0]):
        y = (x.exp() * x).sum()
        y.backward()
        with pytest.raises(RuntimeError, match="second time"):
            y.backward()


def test_retain_graph_allows_a_second_backward():
    tx, dx = _pair([1.0, 2.0, -0.5])
    for x in (tx, dx):
        y = (x.sigmoid() * x).sum()
        y.backward(retain_graph=True)
        y.backward(retain_graph=True)
        y.backward()
    _same(dx.grad, tx.grad)


def test_saved_arrays_are_freed_after_backward():
    x = dl.randn(5, requires_grad=True)
    y = x.exp()
    node = y.grad_fn
    assert hasattr(node, "out")
    y.sum().backward()
    assert not hasattr(node, "out")


def test_backward_through_a_shared_freed_subgraph_raises():
    x = dl.ones(2, requires_grad=True)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        (h * 2).sum().backward()


# ---------------------------------------------------------------------------- deep graphs
def test_deep_chain_backprops_without_recursion_error():
    x = dl.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(100_001):  # 100,001 nodes; negation keeps the test fast
        y = -y
    y.sum().backward()
    np.testing.assert_array_equal(y.array, [-0.5])
    np.testing.assert_array_equal(x.grad.array, [-1.0])


def test_wide_graph_with_shared_nodes():
    # a diamond lattice: gradient counts the 2**20 paths without walking them
    x = dl.tensor(1.0, dtype=dl.float64, requires_grad=True)
    y = x
    for _ in range(20):
        y = y + y
    y.backward()
    assert x.grad.item() == 2.0**20


# ---------------------------------------------------------------------------- backward arguments
@pytest.mark.parametrize("m", [torch, dl], ids=["torch", "deepling"])
def test_backward_on_non_scalar_without_gradient_raises(m):
    x = m.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()


@pytest.mark.parametrize("m", [torch, dl], ids=["torch", "deepling"])
def test_backward_on_tensor_without_grad_raises(m):
    with pytest.raises(RuntimeError, match="does not require grad"):
        m.ones(3).sum().backward()


def test_backward_with_explicit_gradient():
    tx, dx = _pair([[1.0, 2.0], [3.0, 4.0]])
    g = np.array([[1.0, -1.0], [0.5, 2.0]], dtype=np.float32)
    for m, x in ((torch, tx), (dl, dx)):
        (x * x).backward(gradient=m.tensor(g))
    _same(dx.grad, tx.grad)
    with pytest.raises(RuntimeError):
        (dx * 2).backward(gradient=dl.ones(3))


def test_backward_on_one_element_non_scalar():
    tx, dx = _pair([[2.0]])
    for x in (tx, dx):
        (x * 3).backward()
    _same(dx.grad, tx.grad)


# ---------------------------------------------------------------------------- leaves, retain_grad, detach
def test_is_leaf_like_torch():
    for m in (torch, dl):
        a = m.ones(2, requires_grad=True)
        b = m.ones(2)
        assert a.is_leaf and b.is_leaf
        assert not (a * 2).is_leaf
        assert (b * 2).is_leaf
        with m.no_grad():
            assert (a * 2).is_leaf
        assert a.detach().is_leaf and not a.detach().requires_grad


def test_retain_grad():
    tx, dx = _pair([1.0, -2.0, 0.5])
    out = {}
    for key, x in (("t", tx), ("d", dx)):
        y = x * 2
        y.retain_grad()
        z = y.tanh()
        (z * z).sum().backward()
        out[key] = (y, z)
    _same(out["d"][0].grad, out["t"][0].grad)
    assert out["d"][1].grad is None
    _same(dx.grad, tx.grad)


def test_retain_grad_on_leaf_is_harmless():
    x = dl.ones(2, requires_grad=True)
    x.retain_grad()
    (x * 4).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [4.0, 4.0])


def test_detach_shares_data_and_stops_gradient():
    tx, dx = _pair([1.0, 2.0])
    for x in (tx, dx):
        d = x.detach()
        assert not d.requires_grad and d.grad_fn is None
        (x * d).sum().backward()
    _same(dx.grad, tx.grad)  # only one path: grad == d
    d = dx.detach()
    with dl.no_grad():
        d[0] = 7.0
    assert dx.array[0] == 7.0


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        dl.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2]).requires_grad_()
    x = dl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError):
        (x * 2).requires_grad_(False)
    assert dl.ones(2).requires_grad_().requires_grad


# ---------------------------------------------------------------------------- in-place ops
LEAF_ERROR = "a leaf Variable that requires grad is being used in an in-place operation."


def _setitem(x, m):
    x[0] = 5.0
    return x


def _iadd(x, m):
    x += 1.5
    return x


INPLACE = {
    "copy_": lambda x, m: x.copy_(m.tensor([3.0, -1.0, 2.0])),
    "copy_broadcast": lambda x, m: x.copy_(m.tensor(4.0)),
    "zero_": lambda x, m: x.zero_(),
    "fill_": lambda x, m: x.fill_(2.5),
    "add_": lambda x, m: x.add_(m.tensor([1.0, 2.0, 3.0])),
    "add_alpha": lambda x, m: x.add_(m.tensor([1.0, 2.0, 3.0]), alpha=-2),
    "sub_": lambda x, m: x.sub_(0.5),
    "mul_": lambda x, m: x.mul_(3.0),
    "div_": lambda x, m: x.div_(m.tensor([2.0, 4.0, 8.0])),
    "clamp_": lambda x, m: x.clamp_(-0.5, 0.5),
    "masked_fill_": lambda x, m: x.masked_fill_(m.tensor([True, False, True]), 9.0),
    "setitem": _setitem,
    "iadd": _iadd,
    "uniform_": lambda x, m: x.uniform_(-1, 1),
    "normal_": lambda x, m: x.normal_(0, 1),
}
RANDOM_INPLACE = {"uniform_", "normal_"}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_on_leaf_under_no_grad(name):
    tx, dx = _pair([0.25, -1.0, 2.0])
    for m, x in ((torch, tx), (dl, dx)):
        data_before = x.array if m is dl else None
        with m.no_grad():
            out = INPLACE[name](x, m)
        assert out is x and x.is_leaf and x.requires_grad and x.grad_fn is None
        if m is dl:
            assert x.array is data_before  # written in place: optimizers keep their references
    if name not in RANDOM_INPLACE:
        _same(dx, tx)
    else:
        assert not np.allclose(dx.array, [0.25, -1.0, 2.0])


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_on_leaf_requiring_grad_is_rejected(name):
    for m, x in zip((torch, dl), _pair([0.25, -1.0, 2.0])):
        with pytest.raises(RuntimeError, match=LEAF_ERROR):
            INPLACE[name](x, m)
    _, dx = _pair([0.25, -1.0, 2.0])
    before = dx.array.copy()
    with pytest.raises(RuntimeError):
        INPLACE[name](dx, dl)
    np.testing.assert_array_equal(dx.array, before)  # nothing was written


@pytest.mark.parametrize("name", [n for n in INPLACE if n not in RANDOM_INPLACE])
def test_inplace_on_non_leaf_is_differentiable(name):
    # y = x * 2 then an in-place op on y: gradients match torch (the earlier graph is kept)
    tx, dx = _pair([0.25, -1.0, 2.0])
    res = {}
    for m, x in ((torch, tx), (dl, dx)):
        y = x * 2
        y = INPLACE[name](y, m)
        (y * y.detach().abs().add(1)).sum().backward()
        res[m] = y
    _same(res[dl], res[torch])
    _same(dx.grad, tx.grad)


@pytest.mark.parametrize("name", [n for n in INPLACE if n not in RANDOM_INPLACE])
def test_inplace_on_non_leaf_gradcheck(name):
    def fn(x):
        y = INPLACE[name](x * 2, dl)
        return y * x

    check_grad(fn, None, arrays=[np.array([0.3, -0.8, 1.1])])


@pytest.mark.parametrize("name", sorted(RANDOM_INPLACE))
def test_random_inplace_on_non_leaf_cuts_the_gradient(name):
    tx, dx = _pair([0.25, -1.0, 2.0])
    for m, x in ((torch, tx), (dl, dx)):
        y = INPLACE[name](x * 2, m)
        assert y.requires_grad
        y.sum().backward()
    _same(dx.grad, tx.grad)  # zeros: the old value was overwritten


@pytest.mark.parametrize(
    "fn", [lambda m: m.tensor([1, 2]).add_(0.5), lambda m: m.tensor([1, 2]).div_(2), lambda m: m.tensor([True]).add_(1),
           lambda m: m.tensor([1, 2]).mul_(m.tensor([1.5, 2.0]))],
    ids=["int_add_float", "int_div", "bool_add_int", "int_mul_float_tensor"],
)
def test_inplace_cannot_change_dtype_kind(fn):
    for m in (torch, dl):
        with pytest.raises(RuntimeError, match="can't be cast"):
            fn(m)


def test_inplace_keeps_dtype_when_allowed():
    for m in (torch, dl):
        x = m.ones(2)
        x.add_(m.ones(2, dtype=m.float64))
        x.mul_(3)
        assert x.dtype == m.float32 and x.tolist() == [6.0, 6.0]


def test_inplace_shape_mismatch_raises():
    for m in (torch, dl):
        with pytest.raises(RuntimeError):
            m.ones(3).add_(m.ones(2, 3))


def test_inplace_with_value_requiring_grad():
    tx, dx = _pair([0.5, 1.5])
    tw, dw = _pair([[1.0, 2.0], [3.0, -4.0]])
    for m, x, w in ((torch, tx, tw), (dl, dx, dw)):
        y = m.zeros(3, 2)
        y[1:] = w * x  # value needs grad, base does not
        y[0] = x.exp()
        y.add_(x)
        y.mul_(w.sum(0))
        (y * y).sum().backward()
    _same(dx.grad, tx.grad)
    _same(dw.grad, tw.grad)


def test_setitem_advanced_index_with_grad():
    tx, dx = _pair(np.arange(12.0).reshape(3, 4) / 10)
    tv, dv = _pair([1.0, 2.0, 3.0])
    for m, x, v in ((torch, tx, tv), (dl, dx, dv)):
        y = x.clone()
        y[m.tensor([0, 2, 1]), m.tensor([3, 0, 0])] = v * v
        y[y > 0.8] = -v.sum()
        y.sum().backward()
    _same(dx.grad, tx.grad)
    _same(dv.grad, tv.grad)


def test_inplace_add_itself():
    tx, dx = _pair([0.5, -1.5])
    for x in (tx, dx):
        y = x * x
        y.add_(y)
        y.sum().backward()
    _same(dx.grad, tx.grad)


# ---------------------------------------------------------------------------- custom Function, gradcheck
class _Cube(Function):
    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, g):
        return g * 3 * self.x**2


class _WrongCube(_Cube):
    def backward(self, g):
        return g * 2 * self.x**2


def test_custom_function_and_needs_input_grad():
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    y = _Cube.apply(x)
    assert y.grad_fn.needs_input_grad == (True,)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, [3.0, 12.0])
    assert gradcheck(_Cube.apply, [dl.tensor([0.3, -1.2], dtype=dl.float64, requires_grad=True)])


def test_gradcheck_reports_input_and_index():
    xs = [dl.tensor([0.5], dtype=dl.float64, requires_grad=True),
          dl.tensor([[0.3, -1.2], [0.7, 2.0]], dtype=dl.float64, requires_grad=True)]
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2, 2\)\).*index \(\d, \d\)"):
        gradcheck(lambda a, b: a * _WrongCube.apply(b), xs)
    assert gradcheck(lambda a, b: a * _WrongCube.apply(b), xs, raise_exception=False) is False


def test_gradcheck_on_non_contiguous_input():
    # a transposed (Fortran-ordered) array: perturbations must reach the tensor's own data
    x = dl.from_numpy(np.random.default_rng(0).standard_normal((3, 2)).T)
    x.requires_grad_()
    assert not x.array.flags.c_contiguous
    assert gradcheck(lambda t: (t * t).sum(0), [x])
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: _WrongCube.apply(t), [x])


def test_gradcheck_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda x: x * 2, [dl.ones(2, requires_grad=True)])


@pytest.mark.parametrize("shape,grad_shape", [((3,), (2, 3)), ((2, 1), (2, 5)), ((1, 1), (4, 2, 3)), ((), (3, 2)),
                                              ((2, 3), (2, 3))])
def test_unbroadcast_matches_sum(shape, grad_shape):
    g = np.random.default_rng(0).standard_normal(grad_shape)
    got = unbroadcast(g, shape)
    t = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    t.expand(grad_shape).backward(torch.tensor(g))
    np.testing.assert_allclose(got, t.grad.numpy())
