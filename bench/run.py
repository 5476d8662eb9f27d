"""Benchmark the nightly audit at MSSP scale against the emulator (issue #7). Not run by CI.

Starts the Graph emulator in its own process (bench/emulator.py: seeded estate, latency,
Graph's throttle budgets), then in this process:

  collect   our collector (audit.collect.run.collect_all) — wall time, CPU, peak RSS; then
            requests per tenant against the lower bound, and the limit (bench/_limit.py)
  evaluate  audit.pipeline.evaluate_tenant per customer
  render    view-models, the customer PDF and workbook per customer, the portfolio workbook,
            in the same per-customer loop as audit.pipeline.evaluate_and_render
  --sdk     the msgraph-sdk baseline (bench/sdk_baseline.py, its own venv) against the same
            emulator, after the throttle windows are reset; item counts checked against ours

prints a markdown section and, with --append, appends it to BENCHMARKS.md. Everything the run
wrote (snapshot, reports, results.json, sdk.json, emulator log) stays under --out.

    PYTHONPATH=. /tmp/venv/bin/python bench/run.py --tenants 10 --guests 150 --assignments 300 \
        --reviews 5 --latency-ms 50 --throttle on --sdk --out /tmp/bench-10 --append BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the repository root: `audit`

from _common import (
    REPO,
    TreeRssSampler,
    append_markdown,
    command_line,
    cpu_seconds,
    fmt_s,
    machine_facts,
    machine_line,
    peak_rss_mib,
    reset_peak_rss,
)
from _limit import Summary, TenantShape, summarise, tenant_shape

from audit import pipeline
from audit.collect.run import PARTNER_NAME, collect_all, targets
from audit.config import Config, new_run_id
from audit.emulator._gen_common import ANALYST_DOMAIN, CORPORATE_DOMAIN
from audit.graph.auth import app_credential
from audit.models import ResourceStatus
from audit.pipeline import tool_version
from audit.snapshot.lifecycle import seal_run
from audit.snapshot.store import RunStore, read_json, write_json

STAGES = ("collect", "evaluate", "render")
TARGET = {"ratio": 1.10, "limit": 1.25, "sdk": 5.0, "total_s": 15 * 60, "rss_mib": 1.5 * 1024}
EXCLUDED = {"guest_sign_ins"}     # a pseudo-resource: the guests read itself, recorded twice


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark collection, evaluation and rendering against the emulator.")
    p.add_argument("--tenants", type=int, default=10, help="customer tenants (the partner tenant comes on top)")
    p.add_argument("--guests", type=int, default=150, help="guests per tenant")
    p.add_argument("--assignments", type=int, default=300, help="access-package assignments per tenant")
    p.add_argument("--reviews", type=int, default=5, help="access reviews per tenant")
    p.add_argument("--latency-ms", type=float, default=50.0, help="emulated latency per Graph request")
    p.add_argument("--throttle", choices=("on", "off"), default="on",
                   help="Graph's per-tenant budgets (3,500/5,000/8,000 per 10 s by size) and signInActivity 10/min")
    p.add_argument("--throttle-budget", type=int, default=None, help="one budget for every tenant instead")
    p.add_argument("--throttle-window", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--stages", default="collect,evaluate,render",
                   help="comma-separated subset of collect,evaluate,render (render implies evaluate)")
    p.add_argument("--sdk", action="store_true", help="also run the msgraph-sdk baseline and compare")
    p.add_argument("--sdk-tenants", type=int, default=None,
                   help="compare with the SDK on the first N customers (+ the partner tenant) only: our collector "
                        "collects that subset again, so both sides read the same tenants (the SDK needs ~30 s of "
                        "CPU per 150-guest, 300-assignment tenant)")
    p.add_argument("--sdk-python", type=Path, default=Path("/tmp/sdkvenv/bin/python"),
                   help="python of the venv bench/setup-sdk.sh made")
    p.add_argument("--tenant-concurrency", type=int, default=None, help="[collect] tenant_concurrency (default: config's)")
    p.add_argument("--requests-per-tenant", type=int, default=None, help="[collect] requests_per_tenant")
    p.add_argument("--profile-collect", type=Path, default=None,
                   help="write cProfile stats of the collection here (its timings are then not figures)")
    p.add_argument("--out", type=Path, required=True, help="working directory for this run (created)")
    p.add_argument("--append", type=Path, default=None, help="append the markdown section to this file")
    p.add_argument("--label", default="", help="e.g. 'smoke' or 'full'; goes into the section title")
    p.add_argument("--note", default="", help="a sentence about the conditions (other load, etc.)")
    p.add_argument("--startup-timeout", type=float, default=1800.0, help="seconds to wait for the estate")
    args = p.parse_args(argv)
    stages = {s.strip() for s in args.stages.split(",") if s.strip()}
    if not stages <= set(STAGES) or "collect" not in stages:
        p.error("--stages must include collect and only name collect, evaluate, render")
    if "render" in stages:
        stages.add("evaluate")
    args.stage_set = stages
    return args


# -- the emulator process -------------------------------------------------------------------------
class Emulator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.tls_dir = args.out / "tls"
        self.log_path = args.out / "emulator.log"
        cmd = [sys.executable, str(REPO / "bench" / "emulator.py"), "--customers", str(args.tenants),
               "--seed", str(args.seed), "--tls-dir", str(self.tls_dir), "--guests", str(args.guests),
               "--assignments", str(args.assignments), "--reviews", str(args.reviews),
               "--latency-ms", str(args.latency_ms), "--throttle", args.throttle,
               "--throttle-window", str(args.throttle_window)]
        if args.throttle_budget:
            cmd += ["--throttle-budget", str(args.throttle_budget)]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.info_path = self.tls_dir / "bench-emulator.json"
        for stale in (self.info_path, self.tls_dir / "bench-reset"):   # from an earlier run in this --out
            stale.unlink(missing_ok=True)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        self.timeout = args.startup_timeout

    def wait_ready(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while not self.info_path.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the emulator exited ({self.process.returncode}); see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the emulator was not ready in {self.timeout:.0f} s; see {self.log_path}")
            time.sleep(0.2)
        return json.loads(self.info_path.read_text(encoding="utf-8"))

    def reset_windows(self) -> None:
        marker = self.tls_dir / "bench-reset"
        before = marker.read_text() if marker.exists() else "0"
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 30
        while (marker.read_text() if marker.exists() else "0") == before:
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator did not reset its throttle windows")
            time.sleep(0.05)

    def cpu(self) -> float | None:
        return cpu_seconds(self.process.pid)

    def peak_rss_mib(self) -> float:
        return peak_rss_mib(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def bench_config(info: dict[str, Any], data_dir: Path, args: argparse.Namespace) -> Config:
    """What audit.demo.demo_config builds, from the emulator's JSON (it runs in another process)."""
    collect: dict[str, Any] = {}
    if args.tenant_concurrency:
        collect["tenant_concurrency"] = args.tenant_concurrency
    if args.requests_per_tenant:
        collect["requests_per_tenant"] = args.requests_per_tenant
    return Config.model_validate({
        "mssp": {"analyst_tenant_id": info["mssp_tenant_id"], "partner_tenant_id": info["partner_tenant_id"],
                 "corporate_tenant_ids": info["corporate_tenant_ids"], "analyst_domains": [ANALYST_DOMAIN],
                 "corporate_domains": [CORPORATE_DOMAIN]},
        "app": {"client_id": info["client_id"], "certificate_path": info["certificate_path"]},
        "cloud": {"name": "custom", "authority_host": info["authority_host"],
                  "graph_host": "https://graph.microsoft.com", "graph_base": info["graph_base"],
                  "ca_bundle": info["ca_file"]},
        "output": {"data_dir": str(data_dir)},
        "collect": collect,
        "customers": [{"name": c["name"], "tenant_id": c["tenant_id"], "projected_growth": c["projected_growth"],
                       "setup_admin": f"mssp-setup-admin@{c['default_domain']}"} for c in info["customers"]],
    })


# -- stages ---------------------------------------------------------------------------------------
def stage_collect(config: Config, store: RunStore, emulator: Emulator, profile: Path | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    write_json(store.run_manifest_path, {"schema": "mssp-audit/run/1", "run_id": store.run_id,
                                         "collected_at": now.isoformat(), "started_at": now.isoformat(),
                                         "tool_version": tool_version(), "status": "collecting"})
    credential = app_credential(config)
    reset_peak_rss()
    emulator_cpu, cpu = emulator.cpu(), time.process_time()
    started = time.perf_counter()
    # No worker processes here: VmHWM covers it, and no sampler thread competes for the GIL.
    if profile is None:
        manifests = asyncio.run(collect_all(config, store, credential, now))
    else:   # cProfile slows the collector about twice over: the wall time of a profiled run is not a figure
        with cProfile.Profile() as profiler:
            manifests = asyncio.run(collect_all(config, store, credential, now))
        profiler.dump_stats(profile)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    emulator_cpu_after = emulator.cpu()
    # Sealed as the nightly run seals it: evaluate_and_render evaluates only a sealed run.
    seal_run(config, store, read_json(store.run_manifest_path), tool_version())
    return {
        "wall_s": wall, "cpu_s": cpu, "peak_rss_mib": peak_rss_mib(), "emulator_cpu_s": (emulator_cpu_after - emulator_cpu) if emulator_cpu is not None and emulator_cpu_after
        is not None else None,
        "tenants": len(manifests), "unreachable": sorted(m.customer for m in manifests.values() if not m.token_ok),
    }


# Names audit.pipeline.evaluate_and_render looks up at call time: wrapped to time each part, so the
# benchmark measures whatever the pipeline does now (the Renderer pool included).
PORTFOLIO_ROWS: dict[str, int] = {}
TIMED = ("evaluate_tenant", "customer_report", "render_customers", "render_customer_pdf",
         "write_customer_workbook", "write_portfolio_workbook", "write_findings_csv")


@contextmanager
def timing(module: Any, names: tuple[str, ...]) -> Iterator[dict[str, list[float]]]:
    times: dict[str, list[float]] = {name: [] for name in names if hasattr(module, name)}
    originals = {name: getattr(module, name) for name in times}

    def wrap(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if name == "write_portfolio_workbook" and args:
                PORTFOLIO_ROWS["expiry"] = len(getattr(args[0], "expiry", ()))
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                times[name].append(time.perf_counter() - started)
        return timed

    for name, function in originals.items():
        setattr(module, name, wrap(name, function))
    try:
        yield times
    finally:
        for name, function in originals.items():
            setattr(module, name, function)


def stage_evaluate_render(config: Config, store: RunStore, render: bool, emulator: Emulator) -> dict[str, Any]:
    """evaluate: evaluate_tenant per customer. render: audit.pipeline.evaluate_and_render itself."""
    reset_peak_rss()
    started = time.perf_counter()
    with TreeRssSampler(exclude=frozenset({emulator.process.pid})) as tree:
        if render:
            with timing(pipeline, TIMED) as times:
                pipeline.evaluate_and_render(config, store)
        else:
            times = {"evaluate_tenant": []}
            for customer in config.customers:
                t0 = time.perf_counter()
                pipeline.evaluate_tenant(config, store, customer.tenant_id.lower())
                times["evaluate_tenant"].append(time.perf_counter() - t0)
    wall = time.perf_counter() - started

    def total(name: str) -> float | None:
        return sum(times[name]) if times.get(name) else None

    def middle(name: str) -> float | None:
        return median(times[name]) if times.get(name) else None

    # The pipeline renders while it evaluates (audit.render.batch.Renderer), so rendering is what the
    # whole stage took beyond evaluation, view-models and the portfolio: the time a person waits for it.
    if render and not times.get("render_customers"):
        spent = sum(sum(times.get(n, [])) for n in ("evaluate_tenant", "customer_report", "write_portfolio_workbook",
                                                  "write_findings_csv"))
        times["render_customers"] = [max(0.0, wall - spent)]
    return {
        "wall_s": wall, "peak_rss_mib": peak_rss_mib(), "tree_peak_rss_mib": tree.peak_mib,
        "evaluate_s": total("evaluate_tenant"), "evaluate_median_s": middle("evaluate_tenant"),
        "viewmodel_s": total("customer_report"),
        "render_pool_s": total("render_customers"), "render_workers": os.cpu_count() if times.get("render_customers")
        else None,
        "pdf_s": total("render_customer_pdf"), "pdf_median_s": middle("render_customer_pdf"),
        "pdf_max_s": max(times["render_customer_pdf"]) if times.get("render_customer_pdf") else None,
        "workbook_s": total("write_customer_workbook"), "workbook_median_s": middle("write_customer_workbook"),
        "portfolio_s": total("write_portfolio_workbook"), "customers": len(config.customers),
        "expiry_rows": PORTFOLIO_ROWS.get("expiry"), "rendered": render,
    }


# -- msgraph-sdk baseline -------------------------------------------------------------------------
def collect_subset(config: Config, args: argparse.Namespace, emulator: Emulator, count: int) -> tuple[RunStore, float]:
    """Our collector again, on the SDK's subset, into a store of its own, with fresh budgets."""
    chosen = targets(config)
    partner = [t for t in chosen if t.name == PARTNER_NAME]
    subset = [t for t in chosen if t.name != PARTNER_NAME][:count] + partner
    store = RunStore(args.out / "data-subset", new_run_id(datetime.now(UTC).isoformat()))
    credential = app_credential(config)
    emulator.reset_windows()
    started = time.perf_counter()
    asyncio.run(collect_all(config, store, credential, datetime.now(UTC), only=subset))
    return store, time.perf_counter() - started


def run_sdk(args: argparse.Namespace, emulator: Emulator, config: Config) -> dict[str, Any]:
    if not args.sdk_python.exists():
        raise SystemExit(f"{args.sdk_python} not found: create the SDK venv with bench/setup-sdk.sh")
    emulator.reset_windows()   # the baseline starts with full throttle budgets, as ours did
    out = args.out / "sdk.json"
    log = (args.out / "sdk.log").open("w")
    cmd = [str(args.sdk_python), str(REPO / "bench" / "sdk_baseline.py"), "--emulator", str(emulator.info_path),
           "--out", str(out), "--tenant-concurrency", str(config.collect.tenant_concurrency),
           "--groups", f"{config.mssp.tier1_group}|{config.mssp.tier2_group}|{config.mssp.approvers_group}"]
    if args.sdk_tenants:
        cmd += ["--only", str(args.sdk_tenants)]
    emulator_cpu = emulator.cpu()
    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=args.out, check=False).returncode
    process_wall = time.perf_counter() - started
    log.close()
    if code != 0:
        raise RuntimeError(f"the msgraph-sdk baseline failed ({code}); see {args.out / 'sdk.log'}")
    result = json.loads(out.read_text(encoding="utf-8"))
    after = emulator.cpu()
    result["process_wall_s"] = process_wall
    result["emulator_cpu_s"] = after - emulator_cpu if after is not None and emulator_cpu is not None else None
    return result


def tenant_requests_total(store: RunStore, tenant_id: str) -> int:
    manifest = store.read_tenant_manifest(tenant_id)
    return sum(r.requests for r in manifest.resources.values()) if manifest else 0


def compare_counts(store: RunStore, tenant_ids: list[str], sdk: dict[str, Any]) -> tuple[int, list[str]]:
    """(resources compared, mismatches): same status, and the same item count where both read it."""
    compared, mismatches = 0, []
    for tenant_id in tenant_ids:
        manifest = store.read_tenant_manifest(tenant_id)
        theirs = sdk["tenants"].get(tenant_id, {}).get("resources", {})
        if manifest is None:
            mismatches.append(f"{tenant_id}: no manifest of ours")
            continue
        for name, record in sorted(manifest.resources.items()):
            if name in EXCLUDED:
                continue
            compared += 1
            other = theirs.get(name, {"status": "skipped", "items": 0})
            if record.status.value != other["status"]:
                mismatches.append(f"{manifest.customer} {name}: ours {record.status.value}, sdk {other['status']}")
            elif record.status is ResourceStatus.OK and record.items != other["items"]:
                mismatches.append(f"{manifest.customer} {name}: ours {record.items} items, sdk {other['items']}")
        for name in sorted(set(theirs) - set(manifest.resources) - EXCLUDED):
            mismatches.append(f"{manifest.customer} {name}: only the sdk read it")
    return compared, mismatches


# -- report ---------------------------------------------------------------------------------------
def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def markdown(args: argparse.Namespace, facts: dict[str, str], info: dict[str, Any], collect: dict[str, Any],
             summary: Summary, later: dict[str, Any] | None, sdk: dict[str, Any] | None,
             counts: tuple[int, list[str]] | None) -> str:
    label = args.label or ("smoke" if args.tenants < 1000 else "full")
    faults = info["faults"]
    budget = (f"budget {faults['throttle_budget']}/{faults['throttle_window_s']:g} s for every tenant"
              if faults["throttle_budget"] else "Graph's budgets by tenant size (3,500/5,000/8,000 per 10 s), "
              "signInActivity 10/min") if faults["throttle"] == "on" else "no throttling"
    title = (f"### {facts['date']} — {label}: {args.tenants} tenant{'s' if args.tenants != 1 else ''} × {args.guests} guests × "
             f"{args.assignments} assignments × {args.reviews} reviews, {args.latency_ms:g} ms, throttle {args.throttle}")
    limit = summary.limit_s
    versus_limit = f"= {collect['wall_s'] / limit:.1f} × the limit" if limit else "(the limit is 0 s)"
    lines = [
        title, "",
        f"Command: `{command_line()}`", "",
        machine_line(facts, args.note or "Other processes were running on the machine during this run."), "",
        (f"Estate: seed {args.seed}, {len(info['customers'])} customer(s) + the partner tenant, generated in "
         f"{info['generated_s']:.1f} s; {budget}. Collector settings: tenant_concurrency "
         f"{collect['tenant_concurrency']}, requests_per_tenant {collect['requests_per_tenant']}."), "",
        "| Figure | Measured | Target | Where it stands |",
        "|---|---|---|---|",
        (f"| Requests per tenant ÷ lower bound (median, max) | {summary.ratio_median:.3f}, {summary.ratio_max:.3f} "
         f"(worst {summary.worst}); {summary.used_total:,} requests vs bound {summary.bound_total:,}, "
         f"{summary.used_with_retries_total - summary.used_total:,} retries on top | ≤ 1.10 | "
         f"{_verdict(summary.ratio_max <= TARGET['ratio'])} |"),
        (f"| The limit (bench/_limit.py) | {fmt_s(limit, 3)}: {summary.limit_tenant}, chain of {summary.limit_depth} "
         f"requests ({summary.limit_deepest}) × {args.latency_ms:g} ms + {summary.forced_wait_s:.2f} s forced waits "
         "| | |"),
        (f"| Collection wall time | {fmt_s(collect['wall_s'])} {versus_limit} "
         f"(our CPU {fmt_s(collect['cpu_s'], 1)}, emulator CPU {fmt_s(collect['emulator_cpu_s'], 1)}) | ≤ 1.25 × limit "
         f"| {_verdict(collect['wall_s'] <= TARGET['limit'] * limit) if limit else 'n/a'} |"),
    ]
    if sdk is not None:
        speedup = sdk["wall_s"] / sdk["ours_wall_s"]
        scope = (f"first {args.sdk_tenants} customers + partner; ours collected them again in "
                 f"{fmt_s(sdk['ours_wall_s'])}" if args.sdk_tenants and args.sdk_tenants < args.tenants
                 else "whole estate")
        lines.append(
            f"| msgraph-sdk baseline, same emulator, latency and limits ({scope}) | wall {fmt_s(sdk['wall_s'])}, "
            f"{sdk['requests']:,} requests (ours {sdk['ours_requests']:,}); HTTP {fmt_s(sdk['http_s_sum'], 1)} summed "
            f"over overlapping requests; object building {fmt_s(sdk['build_s_sum'], 1)}; import "
            f"{fmt_s(sdk['import_s'])}; peak RSS {sdk['peak_rss_mib']:.0f} MiB; {sdk['stale_retries']} stale-connection "
            f"resends → ours is {speedup:.1f}× faster | ≥ 5× | {_verdict(speedup >= TARGET['sdk'])} |")
    if counts is not None:
        compared, mismatches = counts
        lines.append(f"| Item counts, ours vs msgraph-sdk | {compared} tenant×resource pairs compared, "
                     f"{len(mismatches)} mismatches | equal | {_verdict(not mismatches)} |")
    one_k = args.tenants >= 1000
    if later is not None:
        n = later["customers"]
        lines.append(f"| Evaluate | {fmt_s(later['evaluate_s'])} total, {fmt_s(later['evaluate_median_s'], 3)} median "
                     f"per customer | | |")
        if later["rendered"]:
            if later["render_pool_s"] is not None:
                lines.append(
                    f"| Customer PDFs + workbooks (audit.render.batch.Renderer, up to {later['render_workers']} "
                    f"worker processes) | {fmt_s(later['render_pool_s'])} for {n} customers = "
                    f"{later['render_pool_s'] / max(1, n):.2f} s per customer (per-PDF median: bench/render_bench.py) "
                    f"| ≤ 1.5 s median per PDF | |")
            if later["pdf_median_s"] is not None:
                lines += [
                    (f"| Customer PDFs (in process) | {fmt_s(later['pdf_s'])} total; median "
                     f"{fmt_s(later['pdf_median_s'], 3)}, max {fmt_s(later['pdf_max_s'], 3)} per customer "
                     f"({args.guests} guests) | ≤ 1.5 s median | {_verdict(later['pdf_median_s'] <= 1.5)} |"),
                    (f"| Customer workbooks (in process) | {fmt_s(later['workbook_s'])} total, median "
                     f"{fmt_s(later['workbook_median_s'], 3)} | | |"),
                ]
            rows = later["expiry_rows"]
            lines += [
                f"| View-models (customer_report, one per customer) | {fmt_s(later['viewmodel_s'])} | | |",
                (f"| Portfolio workbook | {fmt_s(later['portfolio_s'])} ({'?' if rows is None else f'{rows:,}'} "
                 "expiry rows) | ≤ 20 s at 100,000 rows (bench/render_bench.py) | |"),
                f"| evaluate_and_render, whole | {fmt_s(later['wall_s'])} | | |",
            ]
        total = collect["wall_s"] + later["wall_s"]
        full = later["rendered"]
        lines.append(f"| Collect + evaluate{' + render' if full else ''} | {fmt_s(total, 1)} | ≤ 15 min at 1,000 "
                     f"tenants, 50 ms | {_verdict(total <= TARGET['total_s']) if one_k and full else 'n/a (not 1,000 tenants)'} |")
    peak = max(collect["peak_rss_mib"], later["peak_rss_mib"] if later else 0.0)
    tree = max(collect["peak_rss_mib"], later["tree_peak_rss_mib"] if later else 0.0)
    stage_peaks = f"collect {collect['peak_rss_mib']:.0f}"
    if later is not None:
        stage_peaks += f", evaluate/render {later['peak_rss_mib']:.0f}"
    lines.append(f"| Peak RSS | main process {peak:.0f} MiB ({stage_peaks}); with its worker processes, sampled "
                 f"every 0.25 s: {tree:.0f} MiB; emulator (own process, not counted) "
                 f"{collect['emulator_peak_rss_mib']:.0f} MiB | ≤ 1.5 GiB at 1,000 tenants "
                 f"| {_verdict(max(peak, tree) <= TARGET['rss_mib']) if one_k else 'n/a (not 1,000 tenants)'} |")
    if collect["unreachable"]:
        lines += ["", f"Unreachable tenants (token refused): {', '.join(collect['unreachable'])}."]
    if counts and counts[1]:
        lines += ["", "Item-count mismatches (the comparison is not fair until these are gone):", ""]
        lines += [f"- {m}" for m in counts[1][:30]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    facts = machine_facts()
    emulator = Emulator(args)
    try:
        info = emulator.wait_ready()
        print(f"emulator ready: {len(info['customers'])} customers in {info['generated_s']:.1f} s", flush=True)
        config = bench_config(info, args.out / "data", args)
        store = RunStore(config.output.data_dir, new_run_id(datetime.now(UTC).isoformat()))
        collect = stage_collect(config, store, emulator, args.profile_collect)
        collect["tenant_concurrency"] = config.collect.tenant_concurrency
        collect["requests_per_tenant"] = config.collect.requests_per_tenant
        print(f"collected {collect['tenants']} tenants in {collect['wall_s']:.2f} s", flush=True)
        specs = {s.name: s for t in targets(config) for s in t.specs}
        tenant_ids = [t.tenant_id for t in targets(config)]
        shapes: list[TenantShape] = []
        for tenant_id in tenant_ids:
            manifest = store.read_tenant_manifest(tenant_id)
            if manifest is not None and manifest.token_ok:
                shapes.append(tenant_shape(store, manifest, specs))
        budgets = {c["tenant_id"]: c["throttle_budget"] for c in [*info["customers"], info["partner"]]}
        summary = summarise(shapes, budgets, args.latency_ms / 1000, args.throttle_window)
        later = None
        if "evaluate" in args.stage_set:
            later = stage_evaluate_render(config, store, "render" in args.stage_set, emulator)
            print(f"evaluated{' and rendered' if later['rendered'] else ''} in "
                  f"{later['wall_s']:.2f} s", flush=True)
        sdk = counts = None
        if args.sdk:
            ours_store, ours_wall = store, collect["wall_s"]
            compared_ids = tenant_ids
            if args.sdk_tenants and args.sdk_tenants < args.tenants:
                ours_store, ours_wall = collect_subset(config, args, emulator, args.sdk_tenants)
                compared_ids = tenant_ids[:args.sdk_tenants] + tenant_ids[-1:]
                print(f"ours on the SDK's {args.sdk_tenants} tenants + partner: {ours_wall:.2f} s", flush=True)
            sdk = run_sdk(args, emulator, config)
            sdk["ours_wall_s"] = ours_wall
            sdk["ours_requests"] = sum(tenant_requests_total(ours_store, t) for t in compared_ids)
            counts = compare_counts(ours_store, compared_ids, sdk)
            print(f"msgraph-sdk: wall {sdk['wall_s']:.2f} s; {len(counts[1])} item-count mismatches", flush=True)
        collect["emulator_peak_rss_mib"] = emulator.peak_rss_mib()
    finally:
        emulator.stop()
    section = markdown(args, facts, info, collect, summary, later, sdk, counts)
    write_json(args.out / "results.json", {
        "command": command_line(), "machine": facts, "args": {k: str(v) for k, v in vars(args).items()},
        "collect": collect, "summary": asdict(summary), "later": later,
        "tenants": [asdict(s) for s in shapes],
        "sdk": {k: v for k, v in sdk.items() if k != "tenants"} if sdk else None,
        "mismatches": counts[1] if counts else None,
    })
    print(section)
    if args.append:
        append_markdown(args.append, section)
    if counts and counts[1]:
        print(f"FAIL: {len(counts[1])} item-count mismatches between our collector and msgraph-sdk", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
