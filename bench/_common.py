"""Shared by the bench scripts: machine facts, memory and CPU probes, BENCHMARKS.md appending."""

from __future__ import annotations

import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import sysconfig
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def command_line() -> str:
    """The command that reproduces this run, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_text = str(script.relative_to(REPO))
    except ValueError:
        script_text = str(script)
    return f"PYTHONPATH=. {sys.executable} {shlex.join([script_text, *sys.argv[1:]])}"


def _run(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_facts() -> dict[str, str]:
    free = _run(["free", "-h"]).splitlines()
    mem = " ".join(free[1].split()[:3]) if len(free) > 1 else "?"     # "Mem: 23Gi 498Mi"
    commit = _run(["git", "rev-parse", "--short", "HEAD"]) or "?"
    dirty = bool(_run(["git", "status", "--porcelain", "--untracked-files=no"]))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": _run(["nproc"]) or str(os.cpu_count()),
        "memory": mem + " (free -h: total, used)",
        "python": f"{platform.python_version()} ({_python_build()})",
        "cpu": _cpu_model(),
        "load": load,
        "commit": commit + (" + uncommitted changes" if dirty else ""),
    }


def _python_build() -> str:
    """Where the interpreter comes from: a distribution build (PGO + LTO) runs our code ~30 % faster
    than a default pyenv build, so the figures name it."""
    base = Path(sys.base_prefix)
    if str(base) == "/usr":
        return "distribution build, /usr/bin/python3"
    optimised = "--enable-optimizations" in str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    return f"{base}, {'PGO build' if optimised else 'built without --enable-optimizations'}"


def _cpu_model() -> str:
    try:
        match = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    except OSError:
        return platform.processor() or "?"
    return match.group(1).strip() if match else "?"


def machine_line(facts: dict[str, str], note: str) -> str:
    return (f"Machine: `nproc` {facts['nproc']}, {facts['cpu']}; memory {facts['memory']}; "
            f"Python {facts['python']}; load average at start {facts['load']}; commit {facts['commit']}. "
            f"{note}")


# -- memory ---------------------------------------------------------------------------------------
def _status_kib(pid: int | str, field: str) -> int | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) so the next reading covers one stage only (Linux ≥ 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib(pid: int | str = "self") -> float:
    """Peak resident set size since start or the last reset_peak_rss(), in MiB."""
    kib = _status_kib(pid, "VmHWM")
    if kib is None and pid == "self":
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (kib or 0) / 1024


def process_tree(root: int, exclude: frozenset[int] = frozenset()) -> dict[int, list[str]]:
    """/proc/PID/stat fields (after the command name) of `root` and all its descendants, minus
    `exclude` and their descendants."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(stat[1]), []).append(pid)
        stats[pid] = stat
    found: dict[int, list[str]] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in exclude:
            continue
        if pid in stats:
            found[pid] = stats[pid]
        todo.extend(children.get(pid, ()))
    return found


def _tree_rss_kib(root: int, exclude: frozenset[int]) -> int:
    """Current RSS of `root` and all its descendants, minus `exclude` and their descendants."""
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    return sum(int(stat[21]) * page_kib for stat in process_tree(root, exclude).values())


class TreeRssSampler:
    """Samples the summed RSS of this process and its descendants (render workers, forkserver),
    leaving out `exclude` (the emulator) — the figure the 1.5 GiB target is about when PDFs are
    rendered in worker processes that RUSAGE_CHILDREN cannot see. Sampled, so a peak shorter
    than the interval can be missed."""

    def __init__(self, exclude: frozenset[int] = frozenset(), interval_s: float = 0.25) -> None:
        import threading
        self._exclude, self._interval = exclude, interval_s
        self._stop = threading.Event()
        self.peak_kib = 0
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, _tree_rss_kib(os.getpid(), self._exclude))
            self._stop.wait(self._interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, _tree_rss_kib(os.getpid(), self._exclude))

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024


def cpu_seconds(pid: int) -> float | None:
    """user + system CPU seconds of another process, from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# -- BENCHMARKS.md --------------------------------------------------------------------------------
def append_markdown(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    with path.open("a", encoding="utf-8") as handle:
        if text and not text.endswith("\n\n"):
            handle.write("\n" if text.endswith("\n") else "\n\n")
        handle.write(section.rstrip() + "\n")


def fmt_s(seconds: float | None, digits: int = 2) -> str:
    return "n/a" if seconds is None else f"{seconds:.{digits}f} s"
