"""The CPU device's intra-op thread pool: big kernels split over the cores outside BLAS.

NumPy releases the GIL inside its ufunc loops, copies, reductions and BLAS calls, so a kernel over a
large array runs on several cores when its range is cut into contiguous chunks and each chunk is
handed to a thread (writing into its own ``out=`` slice). ``parallel_for(n, fn, ...)`` does that:
it calls ``fn(lo, hi)`` on ``k`` chunks of ``range(n)``, the calling thread taking the first one,
and returns when all are done. ``k`` is at most the thread count and at most the number of chunks
that carry enough work to pay for a dispatch (tens of microseconds); below that, ``fn(0, n)`` runs
directly, so small arrays never touch the pool.

``deepling.set_num_threads(n)`` sets the pool to ``n`` threads (``n - 1`` workers plus the caller)
and the BLAS to ``n`` threads. By default the pool has as many threads as NumPy's BLAS had when the
pool was first used (so ``OPENBLAS_NUM_THREADS=1`` / ``OMP_NUM_THREADS=1`` give a serial pool).

Never oversubscribe: a split that runs GEMMs in its chunks (``flops=``) first sets the BLAS to one
thread and restores it afterwards (OpenBLAS's thread count is process-wide; its setter is a
microsecond call, found in NumPy's OpenBLAS through ctypes). When the BLAS cannot be limited that
way (a BLAS other than pthreads OpenBLAS) and it runs more than one thread, GEMM splits run
serially and the BLAS keeps the cores.

One split runs at a time: a nested call (a chunk that splits again) or a call from another thread
while a split is running runs serially in its caller. After ``fork`` the child starts a new pool on
first use. Results do not depend on the split: each chunk does exactly the computation the serial
call would do on its rows.
"""

from __future__ import annotations

import ctypes
import os
import queue
import threading
from typing import Any, Callable

__all__ = ["get_threads", "set_threads", "parallel_for", "elementwise", "chunks", "MIN_ELEMENTS", "MIN_FLOPS"]

# A chunk must carry at least this much work to be worth a dispatch (~40 us on a 2-core VM to wake a
# worker and collect its result): an elementwise pass over MIN_ELEMENTS float32 values, or MIN_FLOPS
# of GEMM. Measured (benchmarks/README.md, issue 18, lever 11): a product of two float32 arrays split
# in two right after a GEMM, OpenBLAS's spin cut to 2^16 cycles, is 0.95x of serial at 1.6M values
# touched, 1.44x at 3.1M, 1.69x at 6.3M.
MIN_ELEMENTS = 1 << 20
MIN_FLOPS = 4_000_000

_threads: int | None = None  # None: not decided yet (the BLAS's count on first use)
_workers: list[queue.SimpleQueue] = []
_done: queue.SimpleQueue = queue.SimpleQueue()
_busy = threading.Lock()  # held by the thread whose split is running
_blas: Any = None  # (get, set) ctypes functions of NumPy's OpenBLAS, () when unavailable
_openblas: Any = None  # NumPy's OpenBLAS (ctypes.CDLL), False when there is none


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _symbol(lib: Any, name: str) -> Any:
    """``lib``'s function ``name`` under any of OpenBLAS's build prefixes/suffixes, or None."""
    for pre in ("", "scipy_"):
        for suf in ("", "64_", "_64"):
            fn = getattr(lib, f"{pre}{name}{suf}", None)
            if fn is not None:
                return fn
    return None


def _mapped_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process, NumPy's own first (Linux only)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(None, 5)[-1].strip() for line in f if "openblas" in line.lower()}
    except OSError:
        return []
    paths = {p for p in paths if p.startswith("/") and ".so" in os.path.basename(p)}
    return sorted(paths, key=lambda p: "numpy" not in p)


def numpy_openblas() -> Any:
    """NumPy's OpenBLAS as a ``ctypes.CDLL`` (found in the process's mappings, else through
    threadpoolctl), or None when NumPy's BLAS is not OpenBLAS or cannot be loaded."""
    global _openblas
    if _openblas is None:
        _openblas = False
        import numpy  # noqa: F401  (maps NumPy's BLAS)

        paths = _mapped_openblas()
        if not paths:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                return None
            ctls = [c for c in ThreadpoolController().lib_controllers if c.internal_api == "openblas"]
            paths = sorted((c.filepath for c in ctls), key=lambda p: "numpy" not in p)
        for path in paths[:1]:
            try:
                _openblas = ctypes.CDLL(path)  # already loaded: the same handle, nothing re-initialized
            except OSError:
                pass
    return _openblas or None


def _blas_functions() -> Any:
    """``(get_num_threads, set_num_threads)`` of NumPy's pthreads OpenBLAS, or () if not found."""
    global _blas
    if _blas is None:
        _blas = ()
        lib = numpy_openblas()
        if lib is None:
            return _blas
        parallel = _symbol(lib, "openblas_get_parallel")
        get = _symbol(lib, "openblas_get_num_threads")
        put = _symbol(lib, "openblas_set_num_threads")
        # 1 = pthreads; an OpenMP OpenBLAS (2) limits per thread through omp_*: not handled here.
        if parallel is not None and get is not None and put is not None:
            parallel.restype = get.restype = ctypes.c_int
            if int(parallel()) == 1:
                _blas = (get, put)
    return _blas


def _blas_threads() -> int | None:
    """Threads NumPy's BLAS uses now, or None when that cannot be known."""
    fns = _blas_functions()
    if fns:
        return int(fns[0]())
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    blas.sort(key=lambda i: "numpy" not in i.get("filepath", ""))
    return int(blas[0]["num_threads"]) if blas else None


def get_threads() -> int:
    """Threads the pool splits work over (1: every kernel runs serially in its caller)."""
    global _threads
    if _threads is None:
        _threads = _blas_threads() or _cpu_count()
    return _threads


def set_threads(n: int) -> None:
    """Use ``n`` threads (the caller plus ``n - 1`` workers, started on first use)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_threads: expected a positive int, got {n!r}")
    global _threads
    with _busy:  # never resize under a running split
        _threads = n
        while len(_workers) > n - 1:
            _workers.pop().put(None)  # the worker exits


def _worker(inbox: queue.SimpleQueue) -> None:
    while True:
        task = inbox.get()
        if task is None:
            return
        fn, lo, hi = task
        try:
            fn(lo, hi)
        except BaseException as e:  # noqa: BLE001  (handed to the caller, which re-raises it)
            _done.put(e)
        else:
            _done.put(None)


def _ensure_workers(k: int) -> None:
    while len(_workers) < k:
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=_worker, args=(inbox,), name=f"deepling-pool-{len(_workers) + 1}", daemon=True).start()
        _workers.append(inbox)


def chunks(n: int, *, elements: float = 0, flops: float = 0) -> int:
    """How many chunks ``parallel_for`` would cut ``range(n)`` into for this much work."""
    t = get_threads()
    if t <= 1 or n <= 1:
        return 1
    k = min(t, n, int(max(elements / MIN_ELEMENTS, flops / MIN_FLOPS)))
    return max(k, 1)


def parallel_for(n: int, fn: Callable[[int, int], None], *, elements: float = 0, flops: float = 0) -> None:
    """Run ``fn(lo, hi)`` over contiguous chunks of ``range(n)`` that together cover it, in parallel.

    ``elements`` (array elements the whole call reads and writes) or ``flops`` (GEMM FLOPs of the
    whole call) size the split: each chunk gets at least ``MIN_ELEMENTS`` / ``MIN_FLOPS`` of it.
    With ``flops`` the chunks call BLAS, so the BLAS runs one thread while they do. ``fn`` must
    write only its own rows' outputs. The first exception of any chunk is raised once all finish.
    """
    k = chunks(n, elements=elements, flops=flops)
    if k <= 1 or not _busy.acquire(blocking=False):
        fn(0, n)
        return
    blas, restore = None, None
    try:
        if flops:
            fns = _blas_functions()
            blas = int(fns[0]()) if fns else _blas_threads()
            if blas is None or (blas > 1 and not fns):
                fn(0, n)  # cannot keep the BLAS off the other cores: let it have them
                return
            if blas > 1:
                restore = fns[1]
                restore(1)
        _ensure_workers(k - 1)
        bounds = [n * i // k for i in range(k + 1)]
        for inbox, lo, hi in zip(_workers, bounds[1:-1], bounds[2:]):
            inbox.put((fn, lo, hi))
        err: BaseException | None = None
        try:
            fn(bounds[0], bounds[1])
        except BaseException as e:  # noqa: BLE001  (raised below, once the workers are done)
            err = e
        for _ in range(k - 1):
            e = _done.get()
            err = err or e
        if err is not None:
            raise err
    finally:
        if restore is not None:
            restore(blas)
        _busy.release()


def _after_fork_in_child() -> None:
    """The parent's workers do not exist in a forked child: start afresh on first use."""
    global _busy, _done
    _workers.clear()
    _done = queue.SimpleQueue()
    _busy = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def elementwise(fn: Callable[..., Any], out: Any, *arrays: Any, passes: int = 1) -> Any:
    """``fn(out, *arrays)`` for an elementwise ``fn`` that writes ``out``, split over the pool by
    contiguous flat chunks when ``out`` and every array are C-contiguous and of ``out``'s shape
    (otherwise one call). ``passes`` is how many times ``fn`` sweeps its operands. Returns ``out``."""
    n = out.size
    same = out.flags.c_contiguous and all(a.shape == out.shape and a.flags.c_contiguous for a in arrays)
    if not same or chunks(n, elements=n * (len(arrays) + 1) * passes) <= 1:
        fn(out, *arrays)
        return out
    flat = [a.reshape(-1) for a in (out, *arrays)]
    parallel_for(n, lambda lo, hi: fn(*(f[lo:hi] for f in flat)), elements=n * len(flat) * passes)
    return out
