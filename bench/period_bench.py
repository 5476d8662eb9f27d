"""The period report at scale: one customer's PDF over 365 nights, and the portfolio period workbook
for 1,000 customers × 365 nights, from synthetic ledger frames. Prints a markdown section.

    PYTHONPATH=. python bench/period_bench.py [--customers 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import polars as pl

from audit.checks import SPECS
from audit.period._schema_stub import RESULTS_SCHEMA
from audit.period.compute import compute
from audit.period.render import render_period_pdf
from audit.period.workbook import write_portfolio_workbook
from tests.period import _year

FIRST, LAST = date(2026, 1, 1), date(2026, 12, 31)


def _tenant(index: int) -> str:
    return f"{index:08x}-0000-4000-8000-000000000000"


def portfolio_results(customers: int) -> pl.DataFrame:
    """customers × 365 nights × every check, built column-wise: PASS, except one check in ten of each
    customer failing a week every quarter (~17 exceptions a customer), and one missed night per customer."""
    nights = pl.date_range(FIRST, LAST, "1d", eager=True).alias("night")
    checks = pl.DataFrame({"check_id": list(SPECS), "check_version": [s.version for s in SPECS.values()],
                           "severity": [s.severity.value for s in SPECS.values()]},
                          schema_overrides={"check_version": pl.Int32})
    tenants = pl.DataFrame({"tenant_id": [_tenant(i) for i in range(customers)],
                            "customer": [f"Customer {i}" for i in range(customers)], "t": list(range(customers))})
    frame = (tenants.join(nights.to_frame(), how="cross").join(checks.with_row_index("c"), how="cross")
             .filter(pl.col("night").dt.ordinal_day() != (pl.col("t") % 365 + 1)))
    day = pl.col("night").dt.ordinal_day()
    frame = frame.with_columns(
        status=pl.when((((pl.col("c") + pl.col("t")) % 10) == 0) & (((day + pl.col("c") * 7 + pl.col("t")) % 90) < 7))
        .then(pl.lit("FAIL")).otherwise(pl.lit("PASS")),
        run_id=pl.col("night").dt.strftime("%Y%m%dT020000Z-") + pl.col("t").cast(pl.String).str.zfill(6),
        evaluation_id=pl.lit("001"), seal_digest=pl.lit("ab" * 32), evaluation_digest=pl.lit("cd" * 32),
        tool_version=pl.lit("1.5.0"),
        collected_at=pl.col("night").cast(pl.Datetime("us", "UTC")),
        as_of=pl.col("night").cast(pl.Datetime("us", "UTC")),
        subject=pl.lit(None, pl.String), examined=pl.lit(None, pl.Int64), conforming=pl.lit(None, pl.Int64),
        summary=pl.lit("ok"), reason=pl.lit(""))
    return frame.select([pl.col(name).cast(dtype) for name, dtype in RESULTS_SCHEMA.items()])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results, items = _year.year()
    period = compute(results, items, _year.FIRST, _year.LAST,
                     [SimpleNamespace(tenant_id=_year.TENANT, name="Contoso Retail")]).customers[0]
    with tempfile.TemporaryDirectory() as tmp:
        render_period_pdf(period, Path(tmp) / "warm.pdf")          # fonts and stylesheet, once per process
        pdf_times = []
        for n in range(args.repeats):
            start = time.perf_counter()
            render_period_pdf(period, Path(tmp) / f"{n}.pdf")
            pdf_times.append(time.perf_counter() - start)
        pages = len(__import__("pypdf").PdfReader(Path(tmp) / "0.pdf").pages)

        frame = portfolio_results(args.customers)
        empty_items = pl.DataFrame(schema=_year.ITEMS_SCHEMA)
        customers = [SimpleNamespace(tenant_id=_tenant(i), name=f"Customer {i}") for i in range(args.customers)]
        start = time.perf_counter()
        report = compute(frame, empty_items, FIRST, LAST, customers)
        compute_s = time.perf_counter() - start
        start = time.perf_counter()
        write_portfolio_workbook(report.customers, Path(tmp) / "portfolio.xlsx")
        write_s = time.perf_counter() - start
        size = (Path(tmp) / "portfolio.xlsx").stat().st_size
    print("## Period report\n")
    print("| What | Figure |\n|---|---|")
    print(f"| Period PDF, one customer, 365 nights, {len(SPECS)} checks ({pages} pages) | "
          f"{statistics.median(pdf_times):.2f} s (median of {args.repeats}) |")
    print(f"| Portfolio period: compute, {args.customers:,} customers × 365 nights ({frame.height:,} result rows) | "
          f"{compute_s:.1f} s |")
    print(f"| Portfolio period workbook: write ({len(report.customers) * len(SPECS):,} control rows, "
          f"{sum(len(p.exceptions) for p in report.customers):,} exceptions, {size / 1e6:.1f} MB) | {write_s:.1f} s |")
    print(f"| Portfolio period total | {compute_s + write_s:.1f} s |")


if __name__ == "__main__":
    main()
