"""The night on every core (issue #15): the whole `mssp-audit run` against the emulator, with CPU per
phase split into this (the main) process and its worker processes, the serial share, peak RSS; then
the same sealed run evaluated and rendered again on 1 core and on all cores, for the speed-up.

Starts the emulator in its own process (bench/emulator.py, as bench/run.py does) and runs
`audit.pipeline.run` here, the function `mssp-audit run` calls. Measured:

- wall time per phase: collect, seal, evaluate + render (customer tasks in workers), portfolio,
  delivery — by wrapping the pipeline's phase functions, which run in the main process;
- CPU seconds per phase of the main process (`time.process_time`) and of its descendants (collector
  processes, forkserver, per-customer workers) from /proc/PID/stat (utime + stime), sampled every
  0.25 s, the last value of each process kept: a process that ends between samples loses at most
  0.25 s. The emulator's process is left out (it stands in for Microsoft's servers) and reported apart;
- serial share = main-process CPU ÷ (main + workers) CPU, for the night and for evaluate + render;
- speed-up: `evaluate_and_render` of the same sealed run (a new evaluation each, so nothing is
  skipped as unchanged) with this process's CPU affinity set to 1 core, then to all cores; with one
  core the pipeline runs every customer in this process (audit.workers.worker_count).

    PYTHONPATH=. .venv/bin/python bench/cores.py --tenants 200 --out /tmp/cores-200 --append BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import TreeRssSampler, append_markdown, process_tree, command_line, machine_facts, machine_line
from run import Emulator, bench_config

from audit import pipeline
from audit.snapshot.store import RunStore

PHASES = ("collect_night", "seal_run", "evaluate_and_render", "write_portfolio", "deliver")   # the portfolio is within evaluate_and_render


def _tree_cpu(root: int, exclude: frozenset[int]) -> dict[int, float]:
    """utime + stime of `root`'s descendants (not root itself), leaving out `exclude` and theirs."""
    ticks = os.sysconf("SC_CLK_TCK")
    return {pid: (int(stat[11]) + int(stat[12])) / ticks
            for pid, stat in process_tree(root, exclude).items() if pid != root}


class WorkerCpu:
    """The CPU seconds of this process's descendants so far, sampled in a thread."""

    def __init__(self, exclude: frozenset[int], interval_s: float = 0.25) -> None:
        self._exclude, self._interval = exclude, interval_s
        self._seen: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def sample(self) -> float:
        current = _tree_cpu(os.getpid(), self._exclude)
        with self._lock:
            for pid, seconds in current.items():
                self._seen[pid] = max(seconds, self._seen.get(pid, 0.0))
            return sum(self._seen.values())

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def __enter__(self) -> WorkerCpu:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def phases(workers: WorkerCpu) -> Iterator[dict[str, dict[str, float]]]:
    """Wrap the pipeline's phase functions: wall, main CPU and worker CPU spent inside each."""
    spent: dict[str, dict[str, float]] = {}
    saved = {name: getattr(pipeline, name) for name in PHASES}

    def wrap(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, main, other = time.perf_counter(), time.process_time(), workers.sample()
            try:
                return function(*args, **kwargs)
            finally:
                into = spent.setdefault(name, {"wall": 0.0, "main": 0.0, "workers": 0.0})
                into["wall"] += time.perf_counter() - wall
                into["main"] += time.process_time() - main
                into["workers"] += workers.sample() - other
        return timed

    for name, function in saved.items():
        setattr(pipeline, name, wrap(name, function))
    try:
        yield spent
    finally:
        for name, function in saved.items():
            setattr(pipeline, name, function)


def evaluate_on(cores: set[int], config: Any, store: RunStore, workers: WorkerCpu) -> dict[str, float]:
    """A new evaluation of the sealed run with this process (and what it starts) on `cores`."""
    everything = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        wall, main, other = time.perf_counter(), time.process_time(), workers.sample()
        outcome = pipeline.evaluate_and_render(config, store)
        result = {"wall": time.perf_counter() - wall, "main": time.process_time() - main,
                  "workers": workers.sample() - other, "customers": len(outcome.customers)}
    finally:
        os.sched_setaffinity(0, everything)
    if outcome.outputs is not None and outcome.outputs != store.root:     # the evaluation's reports: disk, not figures
        shutil.rmtree(outcome.outputs, ignore_errors=True)
    return result


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tenants", type=int, default=100)
    p.add_argument("--guests", type=int, default=150)
    p.add_argument("--assignments", type=int, default=300)
    p.add_argument("--reviews", type=int, default=5)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--latency-ms", type=int, default=50)
    p.add_argument("--throttle", choices=("on", "off"), default="on")
    p.add_argument("--throttle-window", type=float, default=10.0)
    p.add_argument("--throttle-budget", type=int, default=0)
    p.add_argument("--startup-timeout", type=float, default=1800.0)
    p.add_argument("--speedup", choices=("on", "off"), default="on",
                   help="also evaluate the sealed run again on 1 core and on all cores")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--append", type=Path)
    p.add_argument("--label", default="")
    p.add_argument("--note", default="")
    # bench_config's collector settings (bench/run.py)
    p.add_argument("--tenant-concurrency", type=int, default=0)
    p.add_argument("--requests-per-tenant", type=int, default=0)
    return p.parse_args(argv)


def _row(name: str, figures: dict[str, float], total_cpu: float) -> str:
    cpu = figures["main"] + figures["workers"]
    return (f"| {name} | {figures['wall']:.1f} | {figures['main']:.1f} | {figures['workers']:.1f} | "
            f"{cpu / max(figures['wall'], 1e-9):.2f} | {100 * cpu / total_cpu:.1f} % |")


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    facts = machine_facts()
    emulator = Emulator(args)
    try:
        info = emulator.wait_ready()
        data = args.out / "data"
        shutil.rmtree(data, ignore_errors=True)
        config = bench_config(info, data, args)
        emulator_before = emulator.cpu() or 0.0
        with WorkerCpu(frozenset({emulator.process.pid})) as workers, \
                TreeRssSampler(frozenset({emulator.process.pid})) as rss, phases(workers) as spent:
            wall, main_cpu, other = time.perf_counter(), time.process_time(), workers.sample()
            outcome = pipeline.run(config, now=datetime.now(UTC))
            night = {"wall": time.perf_counter() - wall, "main": time.process_time() - main_cpu,
                     "workers": workers.sample() - other}
        emulator_cpu = (emulator.cpu() or 0.0) - emulator_before
        speed: dict[str, dict[str, float]] = {}
        if args.speedup == "on":
            store = RunStore(data, outcome.run_id)
            cores = os.sched_getaffinity(0)
            with WorkerCpu(frozenset({emulator.process.pid})) as again:
                speed["1 core"] = evaluate_on({min(cores)}, config, store, again)
                speed[f"{len(cores)} cores"] = evaluate_on(cores, config, store, again)
    finally:
        emulator.stop()

    total_cpu = night["main"] + night["workers"]
    customers = len(outcome.customers)
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — every core{': ' + args.label if args.label else ''}: "
        f"{args.tenants} tenants × {args.guests} guests × {args.assignments} assignments × {args.reviews} reviews, "
        f"{args.latency_ms} ms, throttle {args.throttle}",
        "",
        f"Command: `{command_line()}`",
        "",
        machine_line(facts, args.note),
        "",
        "| Phase | Wall s | Main-process CPU s | Worker-process CPU s | Cores busy | Share of the night's CPU |",
        "|---|---|---|---|---|---|",
    ]
    for name in PHASES:
        if name in spent:
            label = "  of which write_portfolio" if name == "write_portfolio" else name
            lines.append(_row(label, spent[name], total_cpu))
    lines += [
        _row("**whole night** (`pipeline.run`)", night, total_cpu),
        "",
        f"- Customers: {customers}; exit code {outcome.exit_code}; the night {night['wall'] / 60:.1f} min.",
        f"- CPU per customer (ours, main + workers): {total_cpu / customers:.2f} s; the emulator's "
        f"{emulator_cpu:.1f} s ({emulator_cpu / customers:.3f} s per customer) on the same cores, not counted.",
        f"- Serial share of the night (main-process CPU ÷ all our CPU): {100 * night['main'] / total_cpu:.1f} %.",
        f"- Peak RSS, this process and its workers (sampled every 0.25 s): {rss.peak_mib:.0f} MiB.",
    ]
    if "evaluate_and_render" in spent:
        e = spent["evaluate_and_render"]
        lines.append(f"- Serial share of evaluate + render: {100 * e['main'] / (e['main'] + e['workers']):.1f} % "
                     f"(main {e['main']:.1f} s, of which the portfolio {spent.get('write_portfolio', {}).get('main', 0):.1f} s).")
    if speed:
        lines += ["", "Evaluate + render of the same sealed run again (a new evaluation each):", "",
                  "| Cores | Wall s | Main CPU s | Worker CPU s | Speed-up |", "|---|---|---|---|---|"]
        base = next(iter(speed.values()))["wall"]
        for name, figures in speed.items():
            lines.append(f"| {name} | {figures['wall']:.1f} | {figures['main']:.1f} | {figures['workers']:.1f} | "
                         f"{base / figures['wall']:.2f}× |")
    section = "\n".join(lines) + "\n"
    print(section)
    if args.append:
        append_markdown(args.append, section)
    (args.out / "cores.json").write_text(json.dumps(
        {"night": night, "phases": spent, "speed": speed, "emulator_cpu": emulator_cpu, "customers": customers,
         "peak_rss_mib": rss.peak_mib}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
