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
def run_lock(data_dir: Path) -> Iterator[Path]:
    """An exclusive, non-blocking flock on <data_dir>/.mssp-audit.lock, released by the kernel
    when the process ends however it ends (kill -9 included), so a stale lock cannot exist."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / ".mssp-audit.lock"
    # Owner-only: the file names the holder's pid and is nobody else's business. A lock file an
    # older version left world-readable is narrowed when this account owns it.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise AlreadyRunning(f"another mssp-audit run (pid {holder}) is using {data_dir}; "
                                 "this one exits without collecting") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)
