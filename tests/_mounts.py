"""A private tmpfs for a test's subprocess: real "read-only file system" and "no space left"
errors, without touching the machine's mounts. Skips where the machine allows no mount namespace."""

from __future__ import annotations

import functools
import shutil
import subprocess
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
