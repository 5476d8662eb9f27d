"""One run at a time per data directory: cron must never start a second run over the first."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class AlreadyRunning(Exception):
    """Another mssp-audit run holds the lock of this data directory."""


@contextmanager
def run_lock(data_dir: Path, shard: tuple[int, int] | None = None) -> Iterator[Path]:
    """An exclusive, non-blocking flock on <data_dir>/.mssp-audit.lock, released by the kernel
    when the process ends however it ends (kill -9 included), so a stale lock cannot exist.

    A shard (K, N) of a night shares that lock with the night's other shards (they write their own
    runs side by side) and holds its own shard's exclusively: two copies of one shard never run
    together, and neither an unsharded run nor `merge` runs while any shard does."""
    if shard is None:
        with _flock(data_dir, ".mssp-audit.lock", fcntl.LOCK_EX) as path:
            yield path
        return
    k, n = shard
    with _flock(data_dir, ".mssp-audit.lock", fcntl.LOCK_SH), \
            _flock(data_dir, f".mssp-audit.shard-{k}-of-{n}.lock", fcntl.LOCK_EX) as path:
        yield path


@contextmanager
def _flock(data_dir: Path, name: str, mode: int) -> Iterator[Path]:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / name
    # Owner-only: the file names the holder's pid and is nobody else's business. A lock file an
    # older version left world-readable is narrowed when this account owns it.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, 0o600)
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise AlreadyRunning(f"another mssp-audit run (pid {holder}) is using {data_dir}; "
                                 "this one exits without collecting") from None
        if mode == fcntl.LOCK_EX:      # a shared holder is one of several: it names none of them
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)
