"""Process-wide performance knobs: BLAS threads and glibc's allocator thresholds.

``set_num_threads(n)`` / ``get_num_threads()`` mirror ``torch.set_num_threads``: they size the CPU
device's intra-op thread pool (``deepling.threadpool``, which splits large elementwise, normalization,
pooling and batched-GEMM kernels over the cores) and limit the BLAS that NumPy calls (OpenBLAS, MKL,
BLIS) through ``threadpoolctl``, an optional dependency (the ``bench`` and ``dev`` extras install it).
Without it, ``set_num_threads`` raises ImportError; ``get_num_threads`` reports the pool's size.

``tune_malloc()`` runs once when deepling is imported (speed is the default: see its docstring for
the measured effect and the memory trade-off); set the environment variable ``DEEPLING_TUNE_MALLOC=0``
before the import to keep glibc's own thresholds. ``shorten_blas_spin()`` also runs at import unless
``OPENBLAS_THREAD_TIMEOUT`` is set (then OpenBLAS's own reading of it stands).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from typing import Any

from deepling import threadpool

__all__ = ["set_num_threads", "get_num_threads", "tune_malloc", "shorten_blas_spin"]

_limiter: Any = None  # the active threadpoolctl limit (kept so it can be inspected or restored)


def _threadpoolctl() -> Any:
    try:
        import threadpoolctl
    except ImportError as e:  # an optional dependency
        raise ImportError("deepling.set_num_threads needs threadpoolctl (pip install threadpoolctl)") from e
    return threadpoolctl


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for the rest of the process: in deepling's intra-op pool and in the BLAS
    behind NumPy (matmul, conv GEMMs). ``n = 1`` makes every kernel run serially in its caller."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    global _limiter
    _limiter = _threadpoolctl().threadpool_limits(limits=n, user_api="blas")
    threadpool.set_threads(n)


def get_num_threads() -> int:
    """Threads deepling computes with: the intra-op pool's size (by default the BLAS's thread count
    when first asked, else the number of usable CPUs)."""
    return threadpool.get_threads()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers from glibc's malloc.h


def tune_malloc(mmap_threshold: int = 256 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Keep freed large arrays in the heap for reuse instead of returning them to the OS (glibc only).

    By default glibc serves blocks above a (dynamic, at most 32 MiB) threshold with ``mmap`` and
    unmaps them on ``free``; a training step that allocates the same large temporaries every time
    then page-faults all of them back in (zero-filled by the kernel) on every step. Raising the mmap
    threshold to ``mmap_threshold`` bytes and the trim threshold to ``trim_threshold`` bytes makes
    those blocks come from the heap and stay there. Trade-off: the process keeps up to about
    ``trim_threshold`` bytes of freed memory mapped (its RSS does not shrink after a big step).
    ``import deepling`` calls it once unless ``DEEPLING_TUNE_MALLOC=0`` is set
    (measured in fresh processes, one thread, CPU time: LeNet-5 step 22.7 -> 14.0 ms,
    cnn_bn 479 -> 362 ms, peak RSS within 3%).
    Returns True when applied, False on a non-glibc platform (or if glibc refused).
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
        return libc.mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1 and ok
    except (OSError, AttributeError):  # no loadable libc or no mallopt in it: leave malloc alone
        return False


def _tune_malloc_at_import() -> bool:
    """What ``import deepling`` does: ``tune_malloc()`` unless ``DEEPLING_TUNE_MALLOC=0``."""
    if os.environ.get("DEEPLING_TUNE_MALLOC", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return tune_malloc()


malloc_tuned_at_import: bool = _tune_malloc_at_import()


def shorten_blas_spin(log2_cycles: int = 20) -> bool:
    """Let OpenBLAS's idle worker threads sleep after ``2**log2_cycles`` cycles of spinning.

    After each multi-threaded call OpenBLAS's workers spin for ``2**28`` cycles (about 0.1 s) waiting
    for the next one. On a machine with as many cores as threads the spinning worker holds a core,
    so the intra-op pool's next split, which runs outside BLAS, gets half a core per thread. ``2**20``
    cycles (0.4 ms at 2.6 GHz) is long enough to bridge the gaps between an LSTM's per-step GEMMs,
    short enough to free the core for a convnet's splits. Measured on 2 cores, 2 threads, fresh
    processes (benchmarks/README.md, issue 18, lever 11): cnn_bn 233 -> 198 ms, resnet20 271 -> 231,
    lenet 10.7 -> 9.2, lstm 67.2 -> 67.7 (``2**16``: 83.9, presumably a sleeping worker woken per GEMM).
    This is OpenBLAS's ``OPENBLAS_THREAD_TIMEOUT`` (clamped by OpenBLAS to 4..30), applied to NumPy's
    already loaded OpenBLAS: its environment is read again and its threads restarted. Returns True
    when applied; False for another BLAS, a non-pthreads OpenBLAS or one without those entry points
    (then nothing changes).
    """
    lib = threadpool.numpy_openblas()
    if lib is None or not threadpool._blas_functions():
        return False
    read_env = getattr(lib, "openblas_read_env", None)
    shutdown = getattr(lib, "blas_thread_shutdown_", None)
    if read_env is None or shutdown is None:
        return False
    before = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(int(log2_cycles))
    try:
        read_env()  # OpenBLAS keeps what it read; the variable itself is not left behind
    finally:
        if before is None:
            del os.environ["OPENBLAS_THREAD_TIMEOUT"]
        else:
            os.environ["OPENBLAS_THREAD_TIMEOUT"] = before
    shutdown()  # the next BLAS call starts the workers again, with the new timeout
    return True


def _shorten_blas_spin_at_import() -> bool:
    """What ``import deepling`` does: ``shorten_blas_spin()`` unless the user set the timeout."""
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return False
    return shorten_blas_spin()


blas_spin_shortened_at_import: bool = _shorten_blas_spin_at_import()
