"""Real storage failures for tests, without touching the machine's mounts or filling its disk.

- `run_on_tmpfs`: a private tmpfs for a subprocess ("read-only file system", "no space left on
  device"); skipped where the machine allows no mount namespace.
- `file_size_limit` (this process) and `with_file_size_limit` (a command): RLIMIT_FSIZE, so a
  write past the limit fails with EFBIG ("file too large"); works everywhere, root or not.
  CPython ignores SIGXFSZ, so the write fails rather than killing the process.
"""

from __future__ import annotations

import functools
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


@functools.cache
def _unshare() -> tuple[str, ...] | None:
    """`unshare -m` as root with CAP_SYS_ADMIN; `unshare -Urm` (a user namespace) otherwise."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (("unshare", "-m"), ("unshare", "-Urm")):
        probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
                               capture_output=True, timeout=30)
        if probe.returncode == 0:
            return prefix
    return None


def run_on_tmpfs(mountpoint: Path, options: str, script: str, *args: str, **kwargs: Any
                 ) -> subprocess.CompletedProcess[str]:
    """Run the shell `script` (its arguments in "$@") with a fresh tmpfs mounted at `mountpoint`,
    visible to that script alone; the mount, and what was written to it, end with the script."""
    prefix = _unshare()
    if prefix is None:
        pytest.skip("no mount namespace here (needs unshare with CAP_SYS_ADMIN or user namespaces)")
    mountpoint.mkdir(parents=True, exist_ok=True)
    wrapper = f'mount -t tmpfs -o "$1" tmpfs "$2" || exit 97\nshift 2\n{script}'
    return subprocess.run([*prefix, "sh", "-c", wrapper, "sh", options, str(mountpoint), *args],
                          capture_output=True, text=True, **kwargs)


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """No file of this process (or a child it starts) may grow past `limit` bytes, until the end."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def with_file_size_limit(limit: int, argv: list[str]) -> list[str]:
    """`argv` started by a small launcher that first sets RLIMIT_FSIZE for it and its children:
    no preexec_fn, which is unsafe in a test process running the emulator's threads."""
    launcher = ("import os, resource, sys; hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]; "
                "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), hard)); "
                "os.execv(sys.argv[2], sys.argv[2:])")
    return [sys.executable, "-c", launcher, str(limit), *argv]
