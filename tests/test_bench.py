"""The performance plumbing: thread control, the malloc knob, gradient adoption without copies,
and the benchmark suite's own checks (never timing assertions)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import deepling as dl

ROOT = Path(__file__).resolve().parents[1]


def test_set_num_threads_round_trip():
    pytest.importorskip("threadpoolctl")
    before = dl.get_num_threads()
    try:
        dl.set_num_threads(1)
        assert dl.get_num_threads() == 1
    finally:
        dl.set_num_threads(before)
    assert dl.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_set_num_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="set_num_threads"):
        dl.set_num_threads(bad)


def test_tune_malloc_reports_whether_it_applied():
    applied = dl.tune_malloc()
    assert isinstance(applied, bool)
    a = np.ones((1024, 1024), dtype=np.float32)  # allocation still works afterwards
    assert float(a.sum()) == 1024 * 1024


@pytest.mark.parametrize("env, expected", [(None, True), ("0", False)])
def test_import_tunes_malloc_by_default_unless_disabled(env, expected):
    import os
    import platform
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if k != "DEEPLING_TUNE_MALLOC"}
    if env is not None:
        environ["DEEPLING_TUNE_MALLOC"] = env
    out = subprocess.run([sys.executable, "-c", "import deepling.runtime as r; print(r.malloc_tuned_at_import)"],
                         capture_output=True, text=True, env=environ, timeout=120)
    assert out.returncode == 0, out.stderr
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert out.stdout.strip() == str(expected and glibc)


_SPIN_PROBE = """
import ctypes, numpy as np
import deepling.runtime as r
from deepling import threadpool
lib = threadpool.numpy_openblas()
fns = threadpool._blas_functions()
if lib is None or not fns:
    print("no-openblas")
else:
    lib.openblas_thread_timeout.restype = ctypes.c_int
    a = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096
    ok = np.allclose(a @ a, np.dot(a.astype(np.float64), a.astype(np.float64)), rtol=1e-5)
    import os
    print(r.blas_spin_shortened_at_import, lib.openblas_thread_timeout(), int(fns[0]()),
          os.environ.get("OPENBLAS_THREAD_TIMEOUT"), ok)
"""


@pytest.mark.parametrize("timeout", [None, "24"])
def test_import_shortens_openblas_spin_unless_the_user_set_it(timeout):
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    environ["OPENBLAS_NUM_THREADS"] = "2"
    if timeout is not None:
        environ["OPENBLAS_THREAD_TIMEOUT"] = timeout
    out = subprocess.run([sys.executable, "-c", _SPIN_PROBE], capture_output=True, text=True, env=environ,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    if out.stdout.strip() == "no-openblas":
        pytest.skip("NumPy's BLAS is not a pthreads OpenBLAS")
    applied, seen, threads, env_after, gemm_ok = out.stdout.split()
    # Applied at import: OpenBLAS reads 20, keeps its 2 threads, and the variable is not left set.
    # Set by the user: OpenBLAS's own reading of it stands and deepling changes nothing.
    assert (applied, seen, threads, env_after) == (("True", "20", "2", "None") if timeout is None
                                                   else ("False", timeout, "2", timeout))
    assert gemm_ok == "True"


def test_shorten_blas_spin_keeps_the_thread_count_and_results():
    from deepling import runtime, threadpool

    fns = threadpool._blas_functions()
    if not fns:
        pytest.skip("NumPy's BLAS is not a pthreads OpenBLAS")
    get, put = fns
    before = int(get())
    a = np.random.default_rng(0).standard_normal((200, 300), dtype=np.float32)
    want = a @ a.T
    try:
        for n in (1, 2):
            put(n)
            assert runtime.shorten_blas_spin() is True
            assert int(get()) == n
            np.testing.assert_allclose(a @ a.T, want, rtol=1e-5, atol=1e-4)
    finally:
        put(before)


def test_leaf_grads_never_alias_each_other_or_the_seed():
    # Add hands the same array to both inputs; each leaf must end up with its own gradient.
    a = dl.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = dl.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    seed = np.full(3, 2.0, dtype=np.float32)
    (a + b).backward(seed)
    assert a.grad.array is not b.grad.array and not np.shares_memory(a.grad.array, b.grad.array)
    assert not np.shares_memory(a.grad.array, seed)
    a.grad.array *= 10  # an in-place change (what clip_grad_norm_ does) must not leak
    np.testing.assert_array_equal(b.grad.array, seed)
    np.testing.assert_array_equal(seed, np.full(3, 2.0, dtype=np.float32))


def test_leaf_grad_with_retained_graph_is_not_a_saved_array():
    x = dl.tensor(np.arange(4, dtype=np.float32), requires_grad=True)
    w = dl.tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    y = (x * w).sum()
    y.backward(retain_graph=True)
    first = x.grad.array.copy()
    x.grad.array *= 0  # must not corrupt what the retained graph saved
    y.backward()
    np.testing.assert_array_equal(x.grad.array, first)
    np.testing.assert_array_equal(w.grad.array, 2 * np.arange(4, dtype=np.float32))


def test_matmul_weight_grad_is_adopted_and_correct():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((5, 4), dtype=np.float32), rng.standard_normal((3, 4), dtype=np.float32)
    wd = dl.tensor(w, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    dl.nn.functional.linear(dl.tensor(x), wd).relu().sum().backward()
    torch.nn.functional.linear(torch.tensor(x), wt).relu().sum().backward()
    np.testing.assert_allclose(wd.grad.array, wt.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert wd.grad.array.dtype == np.float32 and wd.grad.array.flags.writeable


@pytest.fixture
def suite():
    torch = pytest.importorskip("torch")
    pytest.importorskip("threadpoolctl")
    threads, torch_threads = dl.get_num_threads(), torch.get_num_threads()
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import suite as s
        yield s
    finally:
        sys.path.remove(str(ROOT))
        dl.set_num_threads(threads)  # the suite sets both frameworks' threads
        torch.set_num_threads(torch_threads)


def test_suite_runs_small_workloads_and_writes_json(suite, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert suite.main(["--workloads", "mlp_infer_b1,mlp", "--repeat", "1", "--no-rss", "--threads", "1",
                       "--json", str(out), "--profile", "--fresh", "no"]) == 0
    res = json.loads(out.read_text())
    assert res["machine"]["threads"] == 1 and res["machine"]["sgemm_gflops"] > 0
    rows = {r["workload"]: r for r in res["results"]}
    assert set(rows) == {"mlp_infer_b1", "mlp"}
    mlp = rows["mlp"]
    assert set(mlp["ms"]) == {"deepling", "torch", "numpy"}
    assert mlp["ratio"] == pytest.approx(mlp["ms"]["deepling"] / mlp["ms"]["torch"])
    assert 0 < mlp["fraction_of_sgemm"]["deepling"]
    assert mlp["profile"]["parts_ms"]  # the profiler saw the ops
    assert any(k.startswith("matmul|") for k in mlp["profile"]["parts_ms"])
    assert "| mlp | 128 |" in capsys.readouterr().out


def test_suite_fresh_mode_times_each_framework_in_its_own_process(suite, tmp_path, capsys):
    out = tmp_path / "fresh.json"
    assert suite.main(["--workloads", "mlp_infer_b1", "--repeat", "1", "--threads", "1", "--fresh", "only",
                       "--fresh-rounds", "1", "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["fresh"]
    assert row["workload"] == "mlp_infer_b1" and set(row["ms"]) == {"deepling", "torch"}
    assert row["ratio"] == pytest.approx(row["ms"]["deepling"] / row["ms"]["torch"])
    assert row["peak_mb"]["deepling"] > 0 and row["peak_mb"]["torch"] > 0
    assert "| mlp_infer_b1 | 1 |" in capsys.readouterr().out


def test_fresh_child_reports_samples_and_peak(suite):
    r = suite.fresh_child("mlp_infer_b1", "deepling", 1, repeat=2)
    assert len(r["samples_ms"]) == 2 and all(v > 0 for v in r["samples_ms"]) and r["peak_mb"] > 0


def test_suite_builds_identical_twins(suite):
    # _build_pair raises when the first step's losses differ: same weights, same data, same math.
    for name in ("autoencoder", "lenet", "lstm"):
        steppers, models = suite._build_pair(suite.WORKLOADS[name])
        assert set(steppers) == {"deepling", "torch"}


def test_suite_rejects_unknown_workloads(suite):
    with pytest.raises(SystemExit):
        suite.main(["--workloads", "nope", "--no-rss"])


def test_rss_child_reports_peak_memory(suite):
    r = suite.rss_child("mlp_infer_b1", "deepling", 1, malloc=False, steps=2)
    assert r["peak_mb"] >= r["before_steps_mb"] > 0


def test_dense_flops_counts_forward_and_backward_gemms(suite):
    # one layer 4->3, batch 2: forward 2*2*4*3 = 48; training adds dW (48) but no dX for the input
    assert suite._dense_flops([4, 3], 2, train=False) == 48
    assert suite._dense_flops([4, 3], 2, train=True) == 96
    assert suite._dense_flops([4, 3, 5], 2, train=True) == 2 * (48 + 60) + 60


def test_gemm_flops_from_shapes(suite):
    from benchmarks.opprofile import gemm_flops

    a, b = np.ones((3, 4, 5)), np.ones((5, 6))
    assert gemm_flops("matmul", (a, b), {}) == 2 * 3 * 4 * 5 * 6
    assert gemm_flops("matmul", (np.ones(5), b), {}) == 2 * 5 * 6  # 1-D operand: a row
    assert gemm_flops("dot", (np.ones((4, 5)), b), {}) == 2 * 4 * 5 * 6
    assert gemm_flops("tensordot", (a, np.ones((4, 5, 7))), {"axes": 2}) == 2 * 3 * 4 * 5 * 7
    assert gemm_flops("tensordot", (a, np.ones((5, 7)), ([2], [0])), {}) == 2 * 3 * 4 * 5 * 7


@pytest.mark.parametrize("stride", [1, 2])
def test_counted_conv_flops_match_the_formula(suite, stride):
    # One conv2d training step where the input needs a gradient: forward, dW and dX are each
    # 2*N*O*C*kh*kw*Ho*Wo multiply-adds, whichever GEMM layout the op uses.
    from benchmarks.opprofile import count_gemm_flops

    n, c, o, h = 2, 5, 4, 9
    x = dl.tensor(np.random.default_rng(0).standard_normal((n, c, h, h), dtype=np.float32), requires_grad=True)
    w = dl.tensor(np.random.default_rng(1).standard_normal((o, c, 3, 3), dtype=np.float32), requires_grad=True)

    def step():
        dl.nn.functional.conv2d(x, w, stride=stride, padding=1).sum().backward()

    ho = (h + 2 - 3) // stride + 1
    assert count_gemm_flops(step) == 3 * 2 * n * o * c * 9 * ho * ho


def test_counted_dense_flops_match_the_analytic_count(suite):
    from benchmarks.opprofile import count_gemm_flops

    w = suite.WORKLOADS["mlp"]
    steppers, _ = suite._build_pair(w)
    assert count_gemm_flops(steppers["deepling"]) == w.flops


def test_profile_charges_plain_einsum_to_its_op_not_blas(suite):
    # LayerNorm's row sums are plain np.einsum calls (NumPy's own loop, no BLAS): the profile must count
    # them in the norm op's forward/backward time, and show no BLAS time for a step made of LayerNorm only.
    from benchmarks.opprofile import profile_steps

    x = dl.tensor(np.random.default_rng(0).standard_normal((64, 32), dtype=np.float32), requires_grad=True)

    def step():
        dl.nn.functional.layer_norm(x, (32,)).sum().backward()

    p = profile_steps(step, 3, 0.0)
    assert "norm|forward" in p["parts_ms"] and "norm|backward" in p["parts_ms"]
    assert not any(key.endswith("|blas") for key in p["parts_ms"])


def test_ab_refuses_a_directory_that_is_not_a_checkout(tmp_path, capsys):
    from benchmarks import ab

    with pytest.raises(SystemExit) as e:
        ab.main([str(tmp_path), "--workloads", "mlp"])
    assert e.value.code == 2
    assert "is not a deepling checkout" in capsys.readouterr().err
