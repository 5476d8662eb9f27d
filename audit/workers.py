"""Per-customer work on every core: a bounded, ordered process pool that brings its logs home.

The night is CPU-bound after collection (parse, hash, normalise, evaluate, lay out PDFs), and one
Python process uses one core. `WorkerPool` runs a picklable function per customer in one process per
core, with a bounded number of tasks in flight (memory stays flat whatever the estate's size), and
hands the results back in submission order, so what the main process builds from them (the portfolio,
summary.json) does not depend on which worker finished first.

Workers are forkserver children (the main process may run threads — the emulator, MSAL — that fork
would copy mid-lock) that end with the main process however it ends (audit.render._lifeline). A
worker has no log handler of its own: what a task logs is captured, made picklable (message
formatted, exception as text) and re-emitted by the main process through its handlers, so a night's
log lines are the same whether a customer was evaluated here or in a worker.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from audit.logs import NOISY
from audit.render._lifeline import watch_main

T = TypeVar("T")
log = logging.getLogger("audit.workers")


CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1 = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def worker_count(requested: int | None = None) -> int:
    """Workers for this machine: the cores this process may run on, or what the caller asked for.

    Both limits count: the CPU affinity (taskset, cpuset) and a container's CPU quota. A pod limited
    to 2 CPUs on a 64-core node sees all 64 in its affinity; 64 workers of ~250 MB each would take
    its memory limit, not its time."""
    if requested:
        return requested
    try:
        cores = len(os.sched_getaffinity(0)) or 1
    except AttributeError:          # not Linux
        cores = os.cpu_count() or 1
    quota = cpu_quota()
    return max(1, min(cores, quota)) if quota is not None else cores


def cpu_quota(v2: Path = CGROUP_V2, v1: tuple[Path, Path] = CGROUP_V1) -> int | None:
    """The cgroup's CPU limit in whole CPUs (rounded up), or None when there is none."""
    try:
        quota, period = v2.read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota, period = v1[0].read_text().strip(), v1[1].read_text().strip()
        except OSError:
            return None
    if quota in ("max", "-1"):
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


@dataclass(frozen=True)
class LogLevels:
    """The main process's logging levels, set in a worker before each task so that it captures what
    the main process would have logged itself — no more (debug lines nobody asked for), no less."""

    root: int
    loggers: tuple[tuple[str, int], ...]

    @classmethod
    def current(cls) -> LogLevels:
        names = ("audit", *NOISY)
        return cls(logging.getLogger().level,
                   tuple((name, logging.getLogger(name).level) for name in names))

    def apply(self) -> None:
        logging.getLogger().setLevel(self.root)
        for name, level in self.loggers:
            logging.getLogger(name).setLevel(level)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(portable(record))


def portable(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message formatted and its exception as text: what crosses a process
    boundary intact (arguments and tracebacks may not pickle)."""
    record.msg = record.getMessage()
    record.args = None
    if record.exc_info:
        if record.exc_info[1] is not None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
    record.stack_info = None
    return record


def replay(records: list[logging.LogRecord]) -> None:
    """Emit a worker's records through this process's handlers, each under its own logger."""
    for record in records:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


def captured(levels: LogLevels, fn: Callable[..., T], *args: Any) -> tuple[T, list[logging.LogRecord]]:
    """Run `fn` in a worker with its log records captured; the records travel back with the result."""
    levels.apply()
    root = logging.getLogger()
    capture = _Capture()
    saved = root.handlers[:]
    root.handlers[:] = [capture]
    try:
        return fn(*args), capture.records
    finally:
        root.handlers[:] = saved


_CONTEXT: Any = None


def worker_context() -> Any:
    """What the pool was given to share with every task (`WorkerPool(context=…)`), in a worker or here."""
    return _CONTEXT


def _start(main_pid: int, context: Any) -> None:
    """Pool initializer: the shared context arrives once per worker, and the worker ends with the main process."""
    global _CONTEXT
    _CONTEXT = context
    watch_main(main_pid)


class TaskFailed(Exception):
    """The task could not run to its end in a worker: it raised, or its worker died."""


@dataclass
class _Pending(Generic[T]):
    future: Future[tuple[T, list[logging.LogRecord]]]
    settle: Callable[[T | TaskFailed], None]


class WorkerPool:
    """Runs tasks in worker processes, `window` at most in flight; each task's `settle` is called in
    this process, in submission order, with the result or a `TaskFailed`. With one worker, tasks run
    here, one after another (no process to start, the same results)."""

    def __init__(self, workers: int | None = None, *, window: int | None = None, context: Any = None) -> None:
        self.workers = worker_count(workers)
        self._context = context
        self._saved: Any = None
        self._window = window if window is not None else 2 * self.workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[_Pending[Any]] = []
        self._levels = LogLevels.current()

    def __enter__(self) -> WorkerPool:
        global _CONTEXT
        if self.workers <= 1:           # tasks run here: they find the context where a worker would
            self._saved, _CONTEXT = _CONTEXT, self._context
        return self

    def __exit__(self, *exc: object) -> None:
        global _CONTEXT
        try:
            if exc[0] is None:
                self.drain()
        finally:
            if self.workers <= 1:
                _CONTEXT = self._saved
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=exc[0] is not None)
                self._pool = None

    def submit(self, fn: Callable[..., T], args: tuple[Any, ...], settle: Callable[[T | TaskFailed], None]) -> None:
        if self.workers <= 1:
            try:
                result: T | TaskFailed = fn(*args)
            except Exception as exc:      # the task's own failure handling let it through: it stays with its task
                result = TaskFailed(f"{type(exc).__name__}: {str(exc)[:300]}")
            settle(result)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                             mp_context=multiprocessing.get_context("forkserver"),
                                             initializer=_start, initargs=(os.getpid(), self._context))
        self._pending.append(_Pending(self._pool.submit(captured, self._levels, fn, *args), settle))
        self.drain(self._window)

    def drain(self, keep: int = 0) -> None:
        """Settle finished tasks, oldest first, until at most `keep` are in flight."""
        while len(self._pending) > keep:
            pending = self._pending.pop(0)
            try:
                result, records = pending.future.result()
                replay(records)
            except Exception as exc:
                if isinstance(exc, BrokenProcessPool) and self._pool is not None:
                    # A worker died (killed, out of memory): every task still pending was in this pool and
                    # is lost with it, so all are settled now; a new pool serves the tasks to come.
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = None
                    keep = 0
                result = TaskFailed(f"{type(exc).__name__}: {str(exc)[:300]}")
            pending.settle(result)
