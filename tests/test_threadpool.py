"""deepling.threadpool, the CPU device's intra-op pool: splits cover the range, errors and nesting
behave, set_num_threads(1) disables it, the BLAS runs one thread inside GEMM splits, and every op
that splits gives the same numbers split as unsplit (never a timing assertion)."""

import threading

import numpy as np
import pytest

import deepling as dl
import deepling.nn.functional as F
from deepling import threadpool


@pytest.fixture
def split_everything(monkeypatch):
    """Two pool threads and no size threshold: every op that can split does, even on tiny arrays."""
    before = threadpool.get_threads()
    monkeypatch.setattr(threadpool, "MIN_ELEMENTS", 1)
    monkeypatch.setattr(threadpool, "MIN_FLOPS", 1)
    threadpool.set_threads(2)
    yield
    threadpool.set_threads(before)


def _serial_and_split(fn, monkeypatch):
    """fn() with the pool at one thread, then split over two (thresholds off)."""
    before = threadpool.get_threads()
    try:
        threadpool.set_threads(1)
        ref = fn()
        monkeypatch.setattr(threadpool, "MIN_ELEMENTS", 1)
        monkeypatch.setattr(threadpool, "MIN_FLOPS", 1)
        threadpool.set_threads(2)
        got = fn()
    finally:
        threadpool.set_threads(before)
    return ref, got


def _assert_split_equals_serial(fn, monkeypatch):
    """fn() split over two threads gives exactly fn() serial; returns the serial result."""
    ref, got = _serial_and_split(fn, monkeypatch)
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(r, g)
    return ref


def test_parallel_for_covers_the_range_once_on_two_threads(split_everything):
    hits = np.zeros(101, dtype=int)
    names = set()

    def fn(lo, hi):
        names.add(threading.current_thread().name)
        hits[lo:hi] += 1

    threadpool.parallel_for(101, fn, elements=1e9)
    assert (hits == 1).all()
    assert len(names) == 2


def test_small_work_and_one_thread_run_in_the_caller(monkeypatch):
    calls = []
    threadpool.parallel_for(1000, lambda lo, hi: calls.append((lo, hi)), elements=10)  # below the threshold
    assert calls == [(0, 1000)]
    before = threadpool.get_threads()
    try:
        dl.set_num_threads(1)
        assert dl.get_num_threads() == 1
        calls.clear()
        monkeypatch.setattr(threadpool, "MIN_ELEMENTS", 1)
        threadpool.parallel_for(1000, lambda lo, hi: calls.append((lo, hi, threading.current_thread().name)), elements=1e9)
        assert calls == [(0, 1000, threading.current_thread().name)]
    finally:
        threadpool.set_threads(before)


def test_a_chunk_error_is_raised_after_all_chunks_and_the_pool_stays_usable(split_everything):
    done = []

    def fn(lo, hi):
        if lo > 0:
            raise KeyError("second chunk")
        done.append(lo)

    with pytest.raises(KeyError, match="second chunk"):
        threadpool.parallel_for(10, fn, elements=1e9)
    assert done == [0]
    out = np.zeros(10)
    threadpool.parallel_for(10, lambda lo, hi: out.__setitem__(slice(lo, hi), 1.0), elements=1e9)
    assert out.sum() == 10


def test_a_nested_split_runs_serially_inside_its_chunk(split_everything):
    inner = []

    def outer(lo, hi):
        threadpool.parallel_for(4, lambda a, b: inner.append((lo, a, b)), elements=1e9)

    threadpool.parallel_for(2, outer, elements=1e9)
    assert sorted(inner) == [(0, 0, 4), (1, 0, 4)]


def test_gemm_splits_run_the_blas_on_one_thread_and_restore_it(split_everything):
    fns = threadpool._blas_functions()
    if not fns:
        pytest.skip("needs NumPy's BLAS to be a pthreads OpenBLAS")
    get, put = fns
    before = int(get())
    put(2)
    try:
        seen = []
        threadpool.parallel_for(4, lambda lo, hi: seen.append(int(get())), flops=1e12)
        assert seen == [1, 1]
        assert int(get()) == 2
    finally:
        put(before)


_NO_THREADPOOLCTL = """
import sys
sys.modules["threadpoolctl"] = None  # as on a core install (make train): the import fails
from deepling import threadpool
fns = threadpool._blas_functions()
if not fns:
    print("not-found")
else:
    get, put = fns
    put(2)
    threadpool.MIN_FLOPS = 1
    threadpool.set_threads(2)
    seen = []
    threadpool.parallel_for(4, lambda lo, hi: seen.append(int(get())), flops=1e12)
    print(seen, int(get()))
"""


def test_gemm_splits_find_the_blas_without_threadpoolctl():
    import subprocess
    import sys

    threadpoolctl = pytest.importorskip("threadpoolctl")  # here only to know what NumPy's BLAS is
    blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas" and "numpy" in i["filepath"]]
    if not blas or blas[0]["internal_api"] != "openblas" or blas[0].get("threading_layer") != "pthreads":
        pytest.skip("needs NumPy's BLAS to be a pthreads OpenBLAS")
    out = subprocess.run([sys.executable, "-c", _NO_THREADPOOLCTL], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # Found without threadpoolctl; both chunks ran with the BLAS on one thread (a split, not the
    # serial fallback), and the BLAS is back at 2 threads after.
    assert out.stdout.split() == ["[1,", "1]", "2"]


def test_conv2d_forward_and_gradients_equal_split_and_unsplit(monkeypatch):
    rng = np.random.default_rng(0)
    cases = [  # (C, O, k, stride, padding, dilation, H)
        (3, 8, 3, 1, 1, 1, 9), (4, 6, 3, 2, 1, 1, 10), (4, 5, 1, 1, 0, 1, 7), (3, 4, 3, 1, 2, 2, 8), (6, 4, 3, 1, 1, 1, 6),
    ]
    for c, o, k, s, p, d, h in cases:
        xa = rng.standard_normal((5, c, h, h), dtype=np.float32)
        wa = rng.standard_normal((o, c, k, k), dtype=np.float32)
        ba = rng.standard_normal(o, dtype=np.float32)

        def run(xa=xa, wa=wa, ba=ba, s=s, p=p, d=d):
            x, w, b = (dl.tensor(a, requires_grad=True) for a in (xa, wa, ba))
            y = F.conv2d(x, w, b, stride=s, padding=p, dilation=d)
            (y * y).sum().backward()
            return y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()

        _assert_split_equals_serial(run, monkeypatch)


@pytest.mark.parametrize("h, w, pad", [(8, 8, 1), (9, 8, 1), (11, 10, 0)])
def test_winograd_conv2d_equals_split_and_unsplit(h, w, pad, monkeypatch):
    from deepling.ops import winograd

    rng = np.random.default_rng(3)
    xa = rng.standard_normal((40, 32, h, w), dtype=np.float32)  # 32+ channels, 2048+ pixels: Winograd
    wa = rng.standard_normal((32, 32, 3, 3), dtype=np.float32)
    assert winograd.applies(xa.shape, wa.shape, (1, 1), (1, 1), 1)

    def run():
        x, wt = dl.tensor(xa, requires_grad=True), dl.tensor(wa, requires_grad=True)
        y = F.conv2d(x, wt, padding=pad)
        (y * y).sum().backward()
        return y.detach().numpy(), x.grad.numpy(), wt.grad.numpy()

    _assert_split_equals_serial(run, monkeypatch)


def test_gpt_mlp_gelu_equals_split_and_unsplit(monkeypatch):
    from deepling.models.gpt import _GeluMLP

    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s, dtype=np.float32) for s in ((3, 7, 16), (64, 16), (64,), (16, 64), (16,))]

    def run():
        ts = [dl.tensor(a, requires_grad=True) for a in arrays]
        y = _GeluMLP.apply(*ts)
        (y * y).sum().backward()
        return (y.detach().numpy(),) + tuple(t.grad.numpy() for t in ts)

    _assert_split_equals_serial(run, monkeypatch)


def test_conv1d_and_no_grad_conv_equal_split_and_unsplit(monkeypatch):
    rng = np.random.default_rng(1)
    xa, wa = rng.standard_normal((4, 3, 20), dtype=np.float32), rng.standard_normal((5, 3, 3), dtype=np.float32)

    def run():
        x, w = dl.tensor(xa, requires_grad=True), dl.tensor(wa, requires_grad=True)
        y = F.conv1d(x, w, padding=1)
        y.sum().backward()
        with dl.no_grad():
            z = F.conv2d(dl.tensor(xa[:, :, None]), dl.tensor(wa[:, :, None]))
        return y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), z.numpy()

    _assert_split_equals_serial(run, monkeypatch)


@pytest.mark.parametrize("sa, sb", [((6, 4, 5), (6, 5, 3)), ((3, 2, 4, 5), (3, 2, 5, 4)), ((1, 4, 5), (6, 5, 3)),
                                    ((6, 4, 5), (5, 3)), ((4, 5), (6, 5, 3)), ((2, 1, 4, 5), (3, 5, 2))])
def test_batched_matmul_equals_split_and_unsplit(sa, sb, monkeypatch):
    rng = np.random.default_rng(2)
    aa, ba = rng.standard_normal(sa, dtype=np.float32), rng.standard_normal(sb, dtype=np.float32)

    def run():
        a, b = dl.tensor(aa, requires_grad=True), dl.tensor(ba, requires_grad=True)
        y = dl.matmul(a, b)
        (y * y).sum().backward()
        return y.detach().numpy(), a.grad.numpy(), b.grad.numpy()

    ref = _assert_split_equals_serial(run, monkeypatch)
    np.testing.assert_allclose(ref[0], np.matmul(aa, ba), rtol=1e-5, atol=1e-5)


def test_attention_equals_split_and_unsplit(monkeypatch):
    rng = np.random.default_rng(3)
    qa, ka, va = (rng.standard_normal((3, 2, 6, 4), dtype=np.float32) for _ in range(3))

    def run():
        q, k, v = (dl.tensor(a, requires_grad=True) for a in (qa, ka, va))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        (y * y).sum().backward()
        return y.detach().numpy(), q.grad.numpy(), k.grad.numpy(), v.grad.numpy()

    _assert_split_equals_serial(run, monkeypatch)


@pytest.mark.parametrize("opts", [{}, {"is_causal": True, "dropout_p": 0.3}])
def test_packed_attention_equals_split_and_unsplit(monkeypatch, opts):
    # The whole attention op (GEMMs and softmax passes) runs on slices of the batch in the pool.
    from deepling.ops.attention import packed_self_attention

    xa = np.random.default_rng(5).standard_normal((5, 6, 12), dtype=np.float32)

    def run():
        dl.manual_seed(2)
        x = dl.tensor(xa, requires_grad=True)
        y = packed_self_attention(x, 2, **opts)
        (y * y).sum().backward()
        return y.detach().numpy(), x.grad.numpy()

    _assert_split_equals_serial(run, monkeypatch)


def test_relu_batch_norm_and_max_pool_equal_split_and_unsplit(monkeypatch):
    rng = np.random.default_rng(4)
    xa, za = (rng.standard_normal((6, 5, 8, 8), dtype=np.float32) for _ in range(2))
    za[0, 0, 0, :3] = [np.nan, 0.0, -0.0]  # NaN passes ReLU's gradient; zeros do not
    wa, ba = rng.standard_normal(5, dtype=np.float32), rng.standard_normal(5, dtype=np.float32)

    def run():
        x, z = dl.tensor(xa, requires_grad=True), dl.tensor(za, requires_grad=True)
        w, b = dl.tensor(wa, requires_grad=True), dl.tensor(ba, requires_grad=True)
        rm, rv = dl.zeros(5), dl.ones(5)
        h = F.batch_norm(x, rm, rv, w, b, training=True)
        y = F.max_pool2d(F.relu(h), 2)
        y2 = F.max_pool2d(F.relu(z), 3, stride=2, padding=1)
        ((y * y).sum() + (y2 * y2).sum()).backward()
        return (y.detach().numpy(), y2.detach().numpy(), x.grad.numpy(), z.grad.numpy(), w.grad.numpy(),
                b.grad.numpy(), rm.numpy(), rv.numpy())

    _assert_split_equals_serial(run, monkeypatch)
