"""``deepling.distributed``: PyTorch's ``torch.distributed`` collectives, run by MPI through ``mpi4py``.

One process per rank, started by ``mpiexec -n N`` (or ``deepling run -n N -- python script.py``).
``init_process_group(backend="mpi")`` joins the MPI job; the collectives then work in place on
Tensors, passing their NumPy buffers straight to MPI (the uppercase, buffer API: no pickling)::

    import deepling.distributed as dist
    dist.init_process_group("mpi")
    t = deepling.ones(3) * dist.get_rank()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)     # every rank now holds 0 + 1 + ... + (N-1)

Failure never hangs the job: once the group is initialized, an exception that escapes on any rank
prints its traceback with the rank and aborts every rank (``MPI_Abort``); every collective is run
non-blocking and polled against the group's ``timeout``, past which it raises ``DistBackendError``
(and so aborts the job) naming the collective, rather than waiting forever for a rank that died.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
import traceback
from typing import Any, Sequence

import numpy as np

from deepling.tensor import Tensor

__all__ = [
    "ReduceOp", "Work", "DistBackendError", "DistError", "is_available", "is_mpi_available", "is_initialized",
    "init_process_group", "destroy_process_group", "get_rank", "get_world_size", "get_backend", "barrier",
    "broadcast", "all_reduce", "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor",
    "get_local_rank", "group",
]

_DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)  # PyTorch's default for init_process_group


class DistError(RuntimeError):
    """An error of the distributed package (PyTorch's ``torch.distributed.DistError``)."""


class DistBackendError(DistError):
    """A collective failed or timed out in the backend (PyTorch's ``DistBackendError``)."""


class ReduceOp:
    """How ``all_reduce`` and ``reduce_scatter`` combine the ranks' tensors."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


class group:  # noqa: N801  (PyTorch spells it dist.group.WORLD)
    """``group.WORLD``: the default group, the only one (collectives take ``group=None`` for it)."""

    WORLD = None


class _Group:
    """The default process group: a private duplicate of MPI's world communicator."""

    def __init__(self, comm: Any, timeout: float, local_rank: int) -> None:
        self.comm, self.timeout, self.local_rank = comm, timeout, local_rank
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self._ddp_comm: Any = None

    @property
    def ddp_comm(self) -> Any:
        """A second duplicate, shared by every DistributedDataParallel: their gradient all-reduces
        never interleave with the user's collectives (each communicator keeps its own order)."""
        if self._ddp_comm is None:
            self._ddp_comm = self.comm.Dup()
        return self._ddp_comm


_group: _Group | None = None
_MPI: Any = None  # the mpi4py.MPI module, imported when the group is initialized


def _import_mpi() -> Any:
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise RuntimeError(
                "deepling.distributed needs mpi4py and an MPI library: pip install 'deepling[distributed]' "
                f"(mpi4py and the mpich wheel) ({e})"
            ) from None
        _MPI = MPI
    return _MPI


def is_available() -> bool:
    """True when the MPI backend can be used (``mpi4py`` imports)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


is_mpi_available = is_available


def is_initialized() -> bool:
    return _group is not None


def _require(group: Any = None) -> _Group:
    if _group is None:
        raise ValueError("Default process group has not been initialized, please make sure to call init_process_group.")
    if group is not None:
        raise ValueError(f"deepling.distributed: only the default group (group=None) exists, got {group!r}")
    return _group


def _env_int(name: str) -> int | None:
    v = os.environ.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise ValueError(f"init_process_group: environment variable {name}={v!r} is not an integer") from None


def init_process_group(backend: str | None = "mpi", init_method: str | None = None,
                       timeout: datetime.timedelta | float | None = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None, device_id: Any = None) -> None:
    """Join the MPI job as this process's rank.

    ``backend`` is ``"mpi"`` (``"gloo"``, PyTorch's CPU backend, is accepted as a synonym: both run
    on MPI here). Rank and world size come from MPI; when given, as arguments or as the ``RANK`` and
    ``WORLD_SIZE`` variables that torchrun-style launchers set, they must agree with it.
    ``LOCAL_RANK`` (default: the rank among processes on this host) is kept for ``get_local_rank``.
    ``timeout`` bounds every collective (default 30 minutes, as PyTorch's).
    """
    global _group
    if _group is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    name = "mpi" if backend is None else str(backend).lower()
    if name not in ("mpi", "gloo"):
        raise ValueError(f"init_process_group: backend {backend!r} is not available in deepling; use 'mpi' "
                         "(or 'gloo', its CPU synonym): deepling runs on CPUs only")
    if init_method not in (None, "env://") and not str(init_method).startswith(("env://", "tcp://", "file://")):
        raise ValueError(f"init_process_group: unknown init_method {init_method!r}")
    MPI = _import_mpi()
    world = MPI.COMM_WORLD
    mpi_rank, mpi_size = world.Get_rank(), world.Get_size()
    for what, given in (("rank", rank if rank >= 0 else _env_int("RANK")),
                        ("world_size", world_size if world_size > 0 else _env_int("WORLD_SIZE"))):
        actual = mpi_rank if what == "rank" else mpi_size
        if given is not None and given != actual:
            raise ValueError(
                f"init_process_group: {what} {given} (from the arguments or the environment) disagrees with MPI's "
                f"{actual}: start the ranks with mpiexec -n N or `deepling run -n N --` (a torchrun-style launcher "
                "cannot start MPI ranks)"
            )
    if timeout is None:
        seconds = _DEFAULT_TIMEOUT.total_seconds()
    else:
        seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)
    if seconds <= 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout!r}")
    local = _env_int("LOCAL_RANK")
    if local is None:
        local = world.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
    _group = _Group(world.Dup(), seconds, local)
    _install_excepthook()


def destroy_process_group(group: Any = None) -> None:
    """Leave the group (its communicator is freed); the process can init again afterwards."""
    global _group
    g = _require()
    _group = None
    if g._ddp_comm is not None:
        g._ddp_comm.Free()
    g.comm.Free()
    if sys.excepthook is _excepthook:
        sys.excepthook = _previous_hook


def get_rank(group: Any = None) -> int:
    return _require(group).rank


def get_world_size(group: Any = None) -> int:
    return _require(group).size


def get_local_rank() -> int:
    """This process's rank among the ranks on its machine (``LOCAL_RANK``)."""
    return _require().local_rank


def get_backend(group: Any = None) -> str:
    _require(group)
    return "mpi"


# ------------------------------------------------------------------------ failure handling
_previous_hook = sys.excepthook


def _excepthook(exc_type: type, exc: BaseException, tb: Any) -> None:
    """An uncaught exception on one rank ends the whole job at once (the other ranks would
    otherwise wait in their next collective for a rank that is gone)."""
    g = _group
    if g is None or g.size == 1:
        _previous_hook(exc_type, exc, tb)
        return
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(f"[rank {g.rank}] {text}")
    sys.stderr.write(f"deepling.distributed: rank {g.rank} of {g.size} raised {exc_type.__name__}: {exc}; "
                     "aborting all ranks\n")
    sys.stderr.flush()
    # mpiexec forwards each rank's stderr through its proxy; aborting at once can tear the proxy
    # down before it has read the message, which then never reaches the user. Give it a moment.
    time.sleep(0.5)
    _MPI.COMM_WORLD.Abort(1)


def _install_excepthook() -> None:
    global _previous_hook
    if sys.excepthook is not _excepthook:
        _previous_hook = sys.excepthook
        sys.excepthook = _excepthook


def _wait(req: Any, what: str, g: _Group) -> None:
    """Poll a non-blocking MPI request until it completes or the group's timeout passes.

    MPICH advances a non-blocking collective only inside MPI calls, so the first 20 ms poll
    continuously, yielding the core between polls (``sched_yield``: the peer rank may need it);
    a longer wait means a slow peer, and sleeps between polls, backing off to 1 ms, so that it
    does not burn a core.
    """
    if req.Test():
        return
    start = time.perf_counter()
    deadline, spin_until = start + g.timeout, start + 0.02
    test, yield_ = req.Test, getattr(os, "sched_yield", lambda: None)
    polls = 0
    while not test():  # the spinning phase
        polls += 1
        yield_()
        if not polls & 63 and time.perf_counter() > spin_until:
            break
    else:
        return
    nap = 5e-5
    while not test():
        if time.perf_counter() > deadline:
            raise DistBackendError(
                f"{what} on rank {g.rank} of {g.size} timed out after {g.timeout:g} s: another rank never "
                "joined it (it died, hangs, or called a different collective)")
        time.sleep(nap)
        nap = min(nap * 2, 1e-3)


class Work:
    """The handle of a collective started with ``async_op=True``: ``wait()`` finishes it."""

    def __init__(self, req: Any, what: str, g: _Group, finish: Any = None) -> None:
        self._req, self._what, self._g, self._finish, self._done = req, what, g, finish, False

    def is_completed(self) -> bool:
        if not self._done and self._req.Test():
            self._complete()
        return self._done

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            self._finish()

    def wait(self, timeout: Any = None) -> bool:
        if not self._done:
            _wait(self._req, self._what, self._g)
            self._complete()
        return True


def _run(req: Any, what: str, g: _Group, async_op: bool, finish: Any = None) -> Work | None:
    work = Work(req, what, g, finish)
    if async_op:
        return work
    work.wait()
    return None


# --------------------------------------------------------------------------- collectives
def _check_tensor(what: str, t: Any) -> np.ndarray:
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: expected a Tensor, got {type(t).__name__}")
    return t.array


def _buffer(what: str, t: Tensor) -> tuple[np.ndarray, Any]:
    """A C-contiguous array MPI can read and write, and what copies it back into ``t`` afterwards."""
    a = _check_tensor(what, t)
    if a.flags.c_contiguous and a.flags.writeable:
        return a, None
    if not a.flags.writeable:
        raise ValueError(f"{what}: the tensor is read-only; collectives work in place")
    buf = np.ascontiguousarray(a)
    return buf, lambda: np.copyto(a, buf)


_OPS: dict[str, str] = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD",
                        ReduceOp.MIN: "MIN", ReduceOp.MAX: "MAX"}


def _mpi_op(what: str, op: Any, dtype: np.dtype) -> Any:
    name = _OPS.get(op)
    if name is None:
        raise ValueError(f"{what}: unknown op {op!r}; use ReduceOp.SUM, AVG, PRODUCT, MIN or MAX")
    if op == ReduceOp.AVG and dtype.kind not in "fc":
        raise TypeError(f"{what}: ReduceOp.AVG needs a floating point tensor, got {dtype}")
    return getattr(_MPI, name)


def _then(*steps: Any) -> Any:
    steps = [s for s in steps if s is not None]
    if not steps:
        return None

    def run() -> None:
        for s in steps:
            s()
    return run


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Wait until every rank has reached this call."""
    g = _require(group)
    return _run(g.comm.Ibarrier(), "barrier", g, async_op)


def broadcast(tensor: Tensor, src: int = 0, group: Any = None, async_op: bool = False) -> Work | None:
    """Overwrite ``tensor`` on every rank with rank ``src``'s (same shape and dtype on all ranks)."""
    g = _require(group)
    if not 0 <= src < g.size:
        raise ValueError(f"broadcast: src {src} is not a rank of a group of size {g.size}")
    buf, back = _buffer("broadcast", tensor)
    return _run(g.comm.Ibcast(buf, root=src), "broadcast", g, async_op, back)


def all_reduce(tensor: Tensor, op: Any = ReduceOp.SUM, group: Any = None, async_op: bool = False) -> Work | None:
    """Replace ``tensor`` on every rank with the reduction (``op``) of all ranks' tensors."""
    g = _require(group)
    buf, back = _buffer("all_reduce", tensor)
    mop = _mpi_op("all_reduce", op, buf.dtype)
    req = g.comm.Iallreduce(_MPI.IN_PLACE, buf, op=mop)

    def finish() -> None:
        if op == ReduceOp.AVG:
            buf[...] /= g.size
        if back is not None:
            back()
    if async_op:
        return Work(req, "all_reduce", g, finish)
    _wait(req, "all_reduce", g)  # the common, blocking case without the Work object
    finish()
    return None


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group: Any = None,
                           async_op: bool = False) -> Work | None:
    """``output_tensor`` (world_size * n elements) receives every rank's ``input_tensor`` in rank order."""
    g = _require(group)
    inp = np.ascontiguousarray(_check_tensor("all_gather_into_tensor", input_tensor))
    out, back = _buffer("all_gather_into_tensor", output_tensor)
    if out.size != inp.size * g.size or out.dtype != inp.dtype:
        raise ValueError(f"all_gather_into_tensor: output has {out.size} elements of {out.dtype}, expected "
                         f"world_size * input = {g.size} * {inp.size} of {inp.dtype}")
    return _run(g.comm.Iallgather(inp, out), "all_gather_into_tensor", g, async_op, back)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: Any = None, async_op: bool = False) -> Work | None:
    """``tensor_list[r]`` receives rank r's ``tensor`` (every list entry has its shape and dtype)."""
    g = _require(group)
    inp = np.ascontiguousarray(_check_tensor("all_gather", tensor))
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != g.size:
        raise ValueError(f"all_gather: tensor_list must be a list of world_size = {g.size} tensors")
    for t in tensor_list:
        a = _check_tensor("all_gather", t)
        if a.shape != inp.shape or a.dtype != inp.dtype:
            raise ValueError(f"all_gather: output tensors must have the input's shape {inp.shape} and dtype "
                             f"{inp.dtype}, got {a.shape} {a.dtype}")
    flat = np.empty((g.size,) + inp.shape, inp.dtype)

    def scatter_back() -> None:
        for t, part in zip(tensor_list, flat):
            np.copyto(t.array, part)
    return _run(g.comm.Iallgather(inp, flat), "all_gather", g, async_op, scatter_back)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: Any = ReduceOp.SUM, group: Any = None,
                          async_op: bool = False) -> Work | None:
    """``input`` (world_size * n elements) is reduced across ranks; rank r keeps the r-th block of n."""
    g = _require(group)
    inp = np.ascontiguousarray(_check_tensor("reduce_scatter_tensor", input))
    out, back = _buffer("reduce_scatter_tensor", output)
    if inp.size != out.size * g.size or out.dtype != inp.dtype:
        raise ValueError(f"reduce_scatter_tensor: input has {inp.size} elements of {inp.dtype}, expected "
                         f"world_size * output = {g.size} * {out.size} of {out.dtype}")
    mop = _mpi_op("reduce_scatter_tensor", op, out.dtype)
    scale = None
    if op == ReduceOp.AVG:
        def scale() -> None:
            out[...] /= g.size
    req = g.comm.Ireduce_scatter_block(inp, out, op=mop)
    return _run(req, "reduce_scatter_tensor", g, async_op, _then(scale, back))


def reduce_scatter(output: Tensor, input_list: Sequence[Tensor], op: Any = ReduceOp.SUM, group: Any = None,
                   async_op: bool = False) -> Work | None:
    """``output`` on rank r receives the reduction over ranks of their ``input_list[r]``."""
    g = _require(group)
    if not isinstance(input_list, (list, tuple)) or len(input_list) != g.size:
        raise ValueError(f"reduce_scatter: input_list must be a list of world_size = {g.size} tensors")
    out = _check_tensor("reduce_scatter", output)
    for t in input_list:
        a = _check_tensor("reduce_scatter", t)
        if a.shape != out.shape or a.dtype != out.dtype:
            raise ValueError(f"reduce_scatter: input tensors must have the output's shape {out.shape} and dtype "
                             f"{out.dtype}, got {a.shape} {a.dtype}")
    stacked = Tensor._wrap(np.stack([t.array for t in input_list]))
    return reduce_scatter_tensor(output, stacked, op, group, async_op)
