"""Process-wide performance knobs: BLAS threads and glibc's allocator thresholds.

``set_num_threads(n)`` / ``get_num_threads()`` mirror ``torch.set_num_threads``: they limit the BLAS
that NumPy calls (OpenBLAS, MKL, BLIS) through ``threadpoolctl``, an optional dependency (the
``bench`` and ``dev`` extras install it). Without it, ``set_num_threads`` raises ImportError and
``get_num_threads`` falls back to ``os.cpu_count()``.

``tune_malloc()`` runs once when deepling is imported (speed is the default: see its docstring for
the measured effect and the memory trade-off); set the environment variable ``DEEPLING_TUNE_MALLOC=0``
before the import to keep glibc's own thresholds.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform
from typing import Any, Iterator

__all__ = ["set_num_threads", "get_num_threads", "tune_malloc"]

_limiter: Any = None  # the active threadpoolctl limit (kept so it can be inspected or restored)


def _threadpoolctl() -> Any:
    try:
        import threadpoolctl
    except ImportError as e:  # an optional dependency
        raise ImportError("deepling.set_num_threads needs threadpoolctl (pip install threadpoolctl)") from e
    return threadpoolctl


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the BLAS behind NumPy (matmul, conv GEMMs) for the rest of the process."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    global _limiter, _threads
    _limiter = _threadpoolctl().threadpool_limits(limits=n, user_api="blas")
    _threads = n


def get_num_threads() -> int:
    """Threads the BLAS behind NumPy uses (``os.cpu_count()`` when threadpoolctl is missing)."""
    try:
        info = _threadpoolctl().threadpool_info()
    except ImportError:
        return os.cpu_count() or 1
    blas = [i for i in info if i.get("user_api") == "blas"]
    numpy_blas = [i for i in blas if "numpy" in i.get("filepath", "")]
    chosen = numpy_blas or blas
    return int(chosen[0]["num_threads"]) if chosen else 1


_threads: int | None = None  # what set_num_threads asked for (or the BLAS default, read once)
_blas_libs: list[Any] | None = None


def cached_num_threads() -> int:
    """Threads deepling's own kernels may split work over: ``set_num_threads``'s value, else the BLAS
    default read once. 1 without threadpoolctl: deepling could not keep BLAS to one thread per
    worker, and would oversubscribe the cores."""
    global _threads
    if _threads is None:
        try:
            _threadpoolctl()
        except ImportError:
            _threads = 1
        else:
            _threads = get_num_threads()
    return _threads


@contextlib.contextmanager
def blas_single_thread() -> Iterator[None]:
    """BLAS on one thread inside the block (deepling's workers each run their own GEMMs meanwhile)."""
    global _blas_libs
    if _blas_libs is None:
        tc = _threadpoolctl()
        _blas_libs = [lib for lib in tc.ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    before = [lib.get_num_threads() for lib in _blas_libs]
    for lib in _blas_libs:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(_blas_libs, before):
            lib.set_num_threads(n)


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
