"""Processes a test started, found again by an environment marker (they may have been re-parented)."""

from __future__ import annotations

from pathlib import Path

MARK = "MSSP_AUDIT_TEST_MARK"


def marked(mark: str) -> set[int]:
    """Live processes carrying MARK=mark (a zombie's environ reads empty, so it does not count)."""
    wanted = f"{MARK}={mark}".encode()
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                pids.add(int(entry.name))
        except OSError:     # gone meanwhile, or not ours to read
            continue
    return pids
