"""Render benchmarks (issue #7): a typical customer PDF, and the portfolio workbook at 100,000 rows.

The customer report comes from the real pipeline, not from hand-built view-models: an in-process
emulator (audit.demo.demo_environment) serves one demo customer (Contoso Retail, the first
profile: E5, planted problems) resized to --guests/--assignments/--reviews; our collector reads
it, audit.pipeline.customer_view evaluates it and builds the CustomerReport exactly as the nightly
run does (drift, attachments, expiry figures); the PDF uses the default [output] options. Then:

  PDF       one cold render (fonts, templates, WeasyPrint's first layout), reported apart, then
            --renders timed renders; the figure is their median
  workbook  the customer workbook of the same report (full lists), --renders times, median
  portfolio a synthetic PortfolioReport: --expiry-rows ExpiryRow rows (assignment, GDAP and review
            expiries over --portfolio-customers customers, ends from 60 days ago to 400 days ahead,
            2 % without an end), one summary and licence row per customer, and the real customer's
            non-PASS findings repeated for every customer; written --portfolio-writes times, median, peak RSS

    PYTHONPATH=. /tmp/venv/bin/python bench/render_bench.py --out /tmp/render-bench --append BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import append_markdown, command_line, fmt_s, machine_facts, machine_line, peak_rss_mib, reset_peak_rss

from audit.collect.run import collect_all
from audit.config import Config, new_run_id
from audit.demo import demo_config, demo_environment
from audit.expiry import bucket, days_left
from audit.graph.auth import load_credential
from audit.history import list_runs
from audit.models import Status
from audit.pipeline import customer_view, pdf_options, tool_version
from audit.render.build import RunInfo
from audit.render.excel import write_customer_workbook, write_portfolio_workbook
from audit.render.pdf import render_customer_pdf
from audit.render.viewmodel import (
    CustomerReport,
    CustomerSummaryRow,
    ExpiryRow,
    FindingView,
    LicenceRow,
    PortfolioReport,
)
from audit.snapshot.store import RunStore, write_json

KINDS = ("Access package assignment", "Access package assignment", "Access package assignment",
         "GDAP relationship", "Access review due")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time the customer PDF and the portfolio workbook.")
    p.add_argument("--guests", type=int, default=150)
    p.add_argument("--assignments", type=int, default=300)
    p.add_argument("--reviews", type=int, default=5)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--renders", type=int, default=3, help="timed renders after the cold one")
    p.add_argument("--expiry-rows", type=int, default=100_000)
    p.add_argument("--portfolio-customers", type=int, default=1000)
    p.add_argument("--portfolio-writes", type=int, default=3, help="timed portfolio writes; the figure is their median")
    p.add_argument("--skip-pdf", action="store_true")
    p.add_argument("--skip-portfolio", action="store_true")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--append", type=Path, default=None)
    p.add_argument("--label", default="")
    p.add_argument("--note", default="")
    return p.parse_args(argv)


def real_report(args: argparse.Namespace, data_dir: Path) -> tuple[CustomerReport, Config, dict[str, int]]:
    """(report, config, table sizes) of one demo customer, through collect → evaluate → view-model,
    by the nightly run's own audit.pipeline.customer_view (drift, attachments, expiry figures included)."""
    now = datetime.now(UTC)
    with demo_environment(now=now, customers=1, seed=args.seed, guests_per_tenant=args.guests,
                          assignments_per_tenant=args.assignments, reviews_per_tenant=args.reviews,
                          include_broken_tenant=False) as env:
        config: Config = demo_config(env.estate, env.server, env.certificate_path, data_dir)
        store = RunStore(data_dir, new_run_id(now.isoformat()))
        write_json(store.run_manifest_path, {"run_id": store.run_id, "collected_at": now.isoformat()})
        credential = load_credential(config.app.certificate_path)
        asyncio.run(collect_all(config, store, credential, now))
    info = RunInfo(store.run_id, datetime.now(UTC), tool_version())
    view = customer_view(config, store, config.customers[0], info, list_runs(data_dir))
    sizes = {name: frame.height for name, frame in view.data.tables.items()}
    return view.report, config, sizes


def _timed(call, repeats: int) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    call()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        warm.append(time.perf_counter() - started)
    return cold, warm


def _pages(path: Path) -> int | None:
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    return len(PdfReader(str(path)).pages)


def synthetic_portfolio(rows: int, customers: int, findings: tuple[FindingView, ...], seed: int) -> PortfolioReport:
    rng = random.Random(seed)
    collected = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    names = [f"Customer {i:04d} Ltd" for i in range(customers)]
    expiry = []
    for i in range(rows):
        kind = KINDS[i % len(KINDS)]
        end = None if rng.random() < 0.02 else collected + timedelta(days=rng.uniform(-60, 400))
        expiry.append(ExpiryRow(names[i % customers], tenant_id(i % customers), kind, f"a-Analyst{i % 997:03d}@mssp.example",
                                "Tier 1 Analyst" if i % 2 else "Tier 2 Analyst", end,
                                "Delivered" if kind != "GDAP relationship" else "active", collected,
                                days_left(end, collected), bucket(end, collected)))
    expiry.sort(key=lambda e: (e.end is None, e.end or collected))
    counts = {s.value: 0 for s in Status}
    summaries = tuple(CustomerSummaryRow(n, tenant_id(i), 70.0 + i % 30, counts, True,
                                         f"{n}.pdf", f"{n}.xlsx") for i, n in enumerate(names))
    licences = tuple(LicenceRow(n, tenant_id(i), 20, 5, 10, 0, 0, 15)
                     for i, n in enumerate(names))
    return PortfolioReport(run_id="bench", collected_at=collected, evaluated_at=collected, generated_at=collected,
                           customers=summaries, licences=licences, expiry=tuple(expiry),
                           results=tuple((n, tenant_id(i), f) for i, n in enumerate(names) for f in findings),
                           errors=())


def tenant_id(customer: int) -> str:
    return f"{customer:08d}-0000-4000-8000-000000000000"


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    facts = machine_facts()
    rows: list[str] = []
    figures: dict[str, object] = {}
    findings: tuple[FindingView, ...] = ()
    with tempfile.TemporaryDirectory(prefix="render-bench-", dir=args.out) as scratch:
        started = time.perf_counter()
        report, config, sizes = real_report(args, Path(scratch))
        options = pdf_options(config)
        findings = tuple(f for f in report.findings if f.status != Status.PASS.value)
        prepare = time.perf_counter() - started
    print(f"report built through the pipeline in {prepare:.1f} s: {sizes}", flush=True)
    if not args.skip_pdf:
        pdf_path = args.out / "customer.pdf"
        reset_peak_rss()
        cold, warm = _timed(lambda: render_customer_pdf(report, pdf_path, options), args.renders)
        pdf_rss = peak_rss_mib()
        pages = _pages(pdf_path)
        figures["pdf"] = {"cold_s": cold, "warm_s": warm, "median_s": median(warm), "pages": pages,
                          "bytes": pdf_path.stat().st_size, "peak_rss_mib": pdf_rss}
        rows.append(
            f"| Customer PDF, {report.customer} ({args.guests} guests, {args.assignments} assignments, "
            f"{args.reviews} reviews) | median {fmt_s(median(warm), 3)} of {args.renders} "
            f"({', '.join(f'{w:.2f}' for w in warm)}); cold first render {fmt_s(cold)}; {pages} pages, "
            f"{pdf_path.stat().st_size / 1024:.0f} KiB; peak RSS {pdf_rss:.0f} MiB | ≤ 1.5 s median | "
            f"{'**met**' if median(warm) <= 1.5 else '**missed**'} |")
        book_path = args.out / "customer.xlsx"
        cold_b, warm_b = _timed(lambda: write_customer_workbook(report, book_path), args.renders)
        figures["customer_workbook"] = {"cold_s": cold_b, "warm_s": warm_b}
        rows.append(f"| Customer workbook, same customer (full lists) | median {fmt_s(median(warm_b), 3)} of "
                    f"{args.renders}; cold {fmt_s(cold_b)} | | |")
    if not args.skip_portfolio:
        portfolio = synthetic_portfolio(args.expiry_rows, args.portfolio_customers, findings, args.seed)
        path = args.out / "portfolio.xlsx"
        reset_peak_rss()
        times = []
        for _ in range(args.portfolio_writes):
            started = time.perf_counter()
            write_portfolio_workbook(portfolio, path)
            times.append(time.perf_counter() - started)
        elapsed = median(times)
        rss = peak_rss_mib()
        figures["portfolio"] = {"s": times, "median_s": elapsed, "rows": args.expiry_rows,
                                "bytes": path.stat().st_size, "findings_rows": len(portfolio.results),
                                "peak_rss_mib": rss}
        rows.append(
            f"| Portfolio workbook, {args.expiry_rows:,} expiry rows, {args.portfolio_customers:,} customers, "
            f"{len(portfolio.results):,} result rows (synthetic) | median {fmt_s(elapsed)} of {len(times)} "
            f"({', '.join(f'{t:.1f}' for t in times)}), {path.stat().st_size / 1024 / 1024:.1f} MiB; "
            f"peak RSS {rss:.0f} MiB (process, view-model included) "
            f"| ≤ 20 s at 100,000 rows | {'**met**' if elapsed <= 20 else '**missed**'} |")
    label = args.label or "smoke"
    section = "\n".join([
        f"### {facts['date']} — {label}: render benchmarks (bench/render_bench.py)", "",
        f"Command: `{command_line()}`", "",
        machine_line(facts, args.note or "Other processes were running on the machine during this run."), "",
        f"The customer report was built through the real pipeline (in-process emulator, collect, evaluate, "
        f"customer_view) in {prepare:.1f} s; its tables: "
        + ", ".join(f"{k} {v}" for k, v in sorted(sizes.items())) + ".", "",
        "| Figure | Measured | Target | Where it stands |",
        "|---|---|---|---|",
        *rows,
    ]) + "\n"
    write_json(args.out / "render-results.json", {"command": command_line(), "machine": facts, "figures": figures})
    print(section)
    if args.append:
        append_markdown(args.append, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
