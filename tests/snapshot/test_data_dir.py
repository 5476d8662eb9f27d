"""The data directory is proved usable before a run starts, with a reason that names it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from audit.snapshot.data_dir import DataDirError, prepare_data_dir
from tests._disks import run_on_tmpfs

ROOT = Path(__file__).resolve().parents[2]


def test_a_new_data_directory_is_created(tmp_path: Path) -> None:
    prepare_data_dir(tmp_path / "a" / "data")
    assert (tmp_path / "a" / "data").is_dir() and not list((tmp_path / "a" / "data").iterdir())


def test_without_create_a_missing_directory_is_left_missing(tmp_path: Path) -> None:
    prepare_data_dir(tmp_path / "data", create=False)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("path, reason", [
    ("/proc/mssp-audit", "/proc/mssp-audit is under /proc, a pseudo file system"),
    ("/proc", "/proc is under /proc, a pseudo file system"),
    ("/sys/kernel/mssp-audit", "/sys/kernel/mssp-audit is under /sys, a pseudo file system"),
])
def test_pseudo_file_systems_are_refused(path: str, reason: str) -> None:
    with pytest.raises(DataDirError) as raised:
        prepare_data_dir(Path(path))
    assert str(raised.value) == reason


def test_a_symlink_into_proc_is_still_proc(tmp_path: Path) -> None:
    (tmp_path / "data").symlink_to("/proc/self")
    with pytest.raises(DataDirError, match=r"data is under /proc, a pseudo file system$"):
        prepare_data_dir(tmp_path / "data")


def test_a_file_is_not_a_data_directory(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    with pytest.raises(DataDirError, match=r"data exists and is not a directory$"):
        prepare_data_dir(tmp_path / "data")


def test_a_data_directory_under_a_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")    # fails for root too: no permission check is involved
    with pytest.raises(DataDirError) as raised:
        prepare_data_dir(tmp_path / "file" / "data")
    assert str(raised.value) == f"{tmp_path}/file/data cannot be created: {tmp_path}/file is not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root passes permission checks; the read-only mount test covers it")
def test_a_directory_without_write_permission_is_refused(tmp_path: Path) -> None:
    (tmp_path / "locked").mkdir(mode=0o500)
    with pytest.raises(DataDirError, match=r"locked/data cannot be created: Permission denied$"):
        prepare_data_dir(tmp_path / "locked" / "data")
    with pytest.raises(DataDirError, match=r"locked is not writable: Permission denied$"):
        prepare_data_dir(tmp_path / "locked")


def test_a_read_only_mount_is_refused_even_for_root(tmp_path: Path) -> None:
    probe = ("from pathlib import Path; import sys\n"
             "from audit.snapshot.data_dir import DataDirError, prepare_data_dir\n"
             "try:\n    prepare_data_dir(Path(sys.argv[1]))\nexcept DataDirError as e:\n    print(e)")
    result = run_on_tmpfs(tmp_path / "ro", "ro,size=64k", '"$@"', sys.executable, "-c", probe,
                          str(tmp_path / "ro"), timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.stdout.strip() == f"{tmp_path}/ro is not writable: Read-only file system", result.stderr
