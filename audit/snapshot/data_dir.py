"""Whether the data directory can hold runs, decided before anything is collected.

A data directory that cannot be written is a configuration mistake, and the operator should read
it as one — one line naming the key — not as an internal error halfway through the night.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

# Kernel pseudo file systems: writes there go to the kernel, not to a disk, and root may even
# succeed in writing them (a sysctl, a cgroup knob). Evidence never belongs there.
PSEUDO_FILE_SYSTEMS = (Path("/proc"), Path("/sys"))


class DataDirError(Exception):
    """Why a data directory cannot be used; the message starts with its path."""


def prepare_data_dir(path: Path, *, create: bool = True) -> None:
    """Create `path` if needed and prove a file can be created in it; raise DataDirError if not.

    The proof is a real (unnamed, at once deleted) file, not os.access: root passes every
    permission check yet still cannot write to a read-only mount. With `create=False` a missing
    directory is left missing (there is nothing in it to evaluate; the caller says so).
    """
    resolved = path.resolve()        # a symlink into /proc is still /proc
    for pseudo in PSEUDO_FILE_SYSTEMS:
        if resolved == pseudo or pseudo in resolved.parents:
            raise DataDirError(f"{path} is under {pseudo}, a pseudo file system")
    if resolved.exists() and not resolved.is_dir():
        raise DataDirError(f"{path} exists and is not a directory")
    if not resolved.exists():
        if not create:
            return
        existing = next(p for p in resolved.parents if p.exists())
        if not existing.is_dir():
            raise DataDirError(f"{path} cannot be created: {existing} is not a directory")
        try:
            resolved.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(f"{path} cannot be created: {exc.strerror or exc}") from None
    try:
        with tempfile.TemporaryFile(dir=resolved, prefix=".mssp-audit-probe."):
            pass
    except OSError as exc:
        raise DataDirError(f"{path} is not writable: {exc.strerror or exc}") from None
