"""`kill -9` of a nightly run while it renders leaves no process behind, through the real command line.

The render pool's processes (the forkserver, its workers of ≈300 MB each, multiprocessing's
resource tracker) are found by an environment marker that only this test's run carries: every
process the run starts inherits it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w

from audit.demo import demo_config, demo_environment
from tests._procs import MARK, marked

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
RENDER_START_TIMEOUT = 240.0     # collection of the demo estate comes first
GONE_TIMEOUT = 30.0              # generous: a bound, not a timing assertion

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
    pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: reports are drawn in-process, no pool"),
]


def wait_for(condition: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.02)
    return condition()


def rendering(data_dir: Path) -> list[Path]:
    """Files a render worker is writing or has written (the main process writes none before the end)."""
    return [p for p in data_dir.glob("runs/*/reports/*") if p.suffix in (".part", ".pdf", ".xlsx")]


def test_kill_9_during_rendering_leaves_no_render_process(tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    with demo_environment(now=NOW, customers=8, seed=7) as env:
        config = demo_config(env.estate, env.server, env.certificate_path, tmp_path / "data")
        config_path = tmp_path / "c.toml"
        config_path.write_text(tomli_w.dumps(config.model_dump(mode="json", exclude_none=True)))
        run = subprocess.Popen([sys.executable, "-m", "audit", "run", "--config", str(config_path), "--quiet"],
                               cwd=ROOT, env={**os.environ, MARK: mark},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert wait_for(lambda: rendering(tmp_path / "data") or run.poll() is not None, RENDER_START_TIMEOUT)
            assert run.poll() is None, "the run ended before it could be killed mid-render"
            helpers = marked(mark) - {run.pid}
            assert helpers, "no render process to orphan: the test would prove nothing"
            run.send_signal(signal.SIGKILL)
            run.wait()
            left = wait_for(lambda: not marked(mark), GONE_TIMEOUT)
            assert left, f"still running after the main process was killed: {sorted(marked(mark))}"
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
            for pid in marked(mark):          # never leave this test's own strays on a shared machine
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
