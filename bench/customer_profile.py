"""CPU seconds per customer, stage by stage, collect → render (issue #15, "Cheaper per customer").

For each customer profile, bench/emulator.py serves a one-customer estate (the demo's first
customer, Contoso Retail, resized) in its own process, so `time.process_time()` here counts only
our side of collection: TLS, parsing pages, hashing and writing the raw evidence. Then, in this
process and in the nightly run's order, each stage of that one customer is timed --repeats times
and the median reported:

  collect     audit.collect.run.collect_all over HTTPS (the customer and the partner tenant, whose
              GDAP relationships every customer's checks read; a night shares the partner's cost)
  normalise   audit.pipeline.load_tenant against the run's seal (every evidence file re-hashed),
              plus write_normalized
  evaluate    the check catalogue over the tenant's tables (audit.checks.evaluate)
  drift       audit.pipeline.tenant_drift against the previous collect of the same estate
  view-model  the CustomerReport, as audit.pipeline builds it (attachments, hashes, expiry figures)
  PDF         audit.render.pdf.render_customer_pdf with the default [output] options
  workbook    audit.render.excel.write_customer_workbook

Each stage runs once untimed first (imports, template compilation, font configuration: a
per-process cost the night pays once per worker), except collect, whose every run is a fresh
night's run. The machine is shared: the figures are medians and should be compared as ratios
measured in one session.

    PYTHONPATH=. /work/main/.venv/bin/python bench/customer_profile.py --out /tmp/cp --json /tmp/cp/cp.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the repository root: `audit`

from _common import command_line, machine_facts, machine_line
from run import Emulator, bench_config, stage_collect

from audit import pipeline
from audit.checks import CATALOGUE, Context, evaluate
from audit.config import Config, new_run_id
from audit.history import list_runs
from audit.normalize import write_normalized
from audit.render.build import RunInfo
from audit.render.excel import write_customer_workbook
from audit.render.pdf import render_customer_pdf
from audit.snapshot.lifecycle import sealed_run
from audit.snapshot.store import RunStore


@dataclass(frozen=True)
class Profile:
    """One customer size: what the emulator is asked to serve."""

    name: str
    guests: int
    assignments: int
    reviews: int


PROFILES = {p.name: p for p in (Profile("small", 20, 40, 1), Profile("typical", 150, 300, 5),
                                Profile("large", 1000, 2000, 20))}
STAGES = ("collect", "normalise", "evaluate", "drift", "view-model", "PDF", "workbook")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profiles", default="small,typical,large", help=f"comma-separated, of {', '.join(PROFILES)}")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per stage; the figure is their median")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, required=True, help="scratch: emulator TLS, runs, reports")
    p.add_argument("--json", type=Path, default=None, help="write every timing here")
    args = p.parse_args(argv)
    args.chosen = [PROFILES[n.strip()] for n in args.profiles.split(",") if n.strip()]
    return args


def _emulator_args(args: argparse.Namespace, profile: Profile, out: Path) -> argparse.Namespace:
    """What bench/run.py's Emulator and bench_config read: one customer, no latency, no throttling
    (neither changes our CPU per page)."""
    return argparse.Namespace(out=out, tenants=1, seed=args.seed, guests=profile.guests,
                              assignments=profile.assignments, reviews=profile.reviews, latency_ms=0.0,
                              throttle="off", throttle_window=10.0, throttle_budget=None,
                              startup_timeout=600.0, tenant_concurrency=None, requests_per_tenant=None)


def _cpu(call: Callable[[], Any], repeats: int, warm_up: bool = True) -> list[float]:
    """CPU seconds (this process, all threads) of `repeats` calls, after one untimed call."""
    if warm_up:
        call()
    times = []
    for _ in range(repeats):
        started = time.process_time()
        call()
        times.append(time.process_time() - started)
    return times


def profile_customer(args: argparse.Namespace, profile: Profile) -> dict[str, list[float]]:
    """CPU seconds of every stage of one customer of this profile, `args.repeats` times each."""
    out = args.out / profile.name
    out.mkdir(parents=True, exist_ok=True)
    emulator_args = _emulator_args(args, profile, out)
    emulator = Emulator(emulator_args)
    timings: dict[str, list[float]] = {}
    try:
        info = emulator.wait_ready()
        config = bench_config(info, out / "data", emulator_args)
        stores = []
        for _ in range(args.repeats + 1):   # the first run is the "previous night" drift compares with
            store = RunStore(config.output.data_dir, new_run_id(datetime.now(UTC).isoformat()))
            collected = stage_collect(config, store, emulator)
            timings.setdefault("collect", []).append(collected["cpu_s"])
            stores.append(store)
            time.sleep(1.01)                # run ids are per second
    finally:
        emulator.stop()
    timings["collect"] = timings["collect"][1:]
    timings.update(_later_stages(config, stores[-1], args.repeats, out / "reports"))
    return timings


def _later_stages(config: Config, store: RunStore, repeats: int, reports: Path) -> dict[str, list[float]]:
    customer = config.customers[0]
    tenant_id = customer.tenant_id.lower()
    seal = sealed_run(store)
    runs = list_runs(config.output.data_dir)
    info = RunInfo(store.run_id, datetime.now(UTC), pipeline.tool_version(), "e1", seal.digest)
    data, results = pipeline.evaluate_tenant(config, store, tenant_id, seal=seal)   # results.json for drift
    context = Context(now=data.manifest.collected_at, config=config, customer=customer)
    drift = pipeline.tenant_drift(config, store, tenant_id, runs)
    history = tuple(pipeline.score_history(runs, store.run_id, tenant_id))

    def view_model() -> Any:
        # The pipeline's own builder, so the figure follows whatever the night does.
        return pipeline._report(config, store, customer, info, data, results, drift=drift, history=history)

    report = view_model()
    options = pipeline.pdf_options(config)
    reports.mkdir(parents=True, exist_ok=True)
    return {
        "normalise": _cpu(lambda: write_normalized(store.output_dir(tenant_id),
                                                   pipeline.load_tenant(store, config, tenant_id, seal)), repeats),
        "evaluate": _cpu(lambda: evaluate(data, context, CATALOGUE), repeats),
        "drift": _cpu(lambda: pipeline.tenant_drift(config, store, tenant_id, runs), repeats),
        "view-model": _cpu(view_model, repeats),
        "PDF": _cpu(lambda: render_customer_pdf(report, reports / "customer.pdf", options), repeats),
        "workbook": _cpu(lambda: write_customer_workbook(report, reports / "customer.xlsx"), repeats),
    }


def table(results: dict[str, dict[str, list[float]]]) -> str:
    names = list(results)
    lines = ["| Stage (CPU-s, median) | " + " | ".join(
        f"{n} ({PROFILES[n].guests}/{PROFILES[n].assignments}/{PROFILES[n].reviews})" for n in names) + " |",
        "|---|" + "---:|" * len(names)]
    for stage in STAGES:
        lines.append(f"| {stage} | " + " | ".join(f"{median(results[n][stage]):.3f}" for n in names) + " |")
    lines.append("| **total** | " + " | ".join(
        f"**{sum(median(results[n][s]) for s in STAGES):.3f}**" for n in names) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    facts = machine_facts()
    results = {}
    for profile in args.chosen:
        results[profile.name] = profile_customer(args, profile)
        print(f"{profile.name}: " + ", ".join(f"{s} {median(results[profile.name][s]):.3f}" for s in STAGES),
              flush=True)
    print()
    print(f"Command: `{command_line()}`\n")
    print(machine_line(facts, f"Medians of {args.repeats} (time.process_time, this process only; "
                              "the emulator runs in its own process). The machine is shared: compare ratios."))
    print()
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"command": command_line(), "machine": facts, "repeats": args.repeats,
                                         "profiles": {n: vars(PROFILES[n]) for n in results},
                                         "cpu_s": results}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
