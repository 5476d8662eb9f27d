"""A render worker ends when the main process ends; a pool that shuts down normally is untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from audit.render._lifeline import MAIN_GONE_EXIT
from audit.render.batch import Renderer, RenderJob

from . import factories

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30          # generous bounds for a loaded machine, not timing assertions


def worker(main_pid: int, *, without_pidfd: bool = False) -> subprocess.Popen[bytes]:
    """A stand-in worker: runs the pool initializer, then idles far longer than any test waits."""
    code = ("import os, time\n"
            + ("del os.pidfd_open\n" if without_pidfd else "")
            + "from audit.render._lifeline import watch_main\n"
            + f"watch_main({main_pid})\n"
            + "time.sleep(600)\n")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)


@pytest.mark.parametrize("without_pidfd", [False, True], ids=["pidfd", "polling"])
def test_the_worker_exits_when_the_main_process_is_killed(without_pidfd: bool) -> None:
    main = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    child = worker(main.pid, without_pidfd=without_pidfd)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=1)                      # watching, not exiting, while the main process lives
        main.kill()
        main.wait()
        assert child.wait(timeout=WAIT) == MAIN_GONE_EXIT
    finally:
        for process in (main, child):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_a_worker_whose_main_process_is_already_gone_exits_at_once() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    child = worker(gone.pid)
    try:
        assert child.wait(timeout=WAIT) == MAIN_GONE_EXIT
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_pool_that_shuts_down_normally_ends_its_workers_normally(tmp_path: Path) -> None:
    with Renderer(tmp_path, workers=2) as renderer:               # two workers: a pool, not in-process
        renderer.submit(RenderJob(factories.customer_report(guests=3), tmp_path / "a.pdf", tmp_path / "a.xlsx"))
        executor = renderer._pool._pool
        assert executor is not None
        processes = list(executor._processes.values())
    assert renderer.written == 2 and (tmp_path / "a.pdf").exists()
    assert processes and all(p.exitcode == 0 for p in processes)     # ended by the pool, not by the watch
