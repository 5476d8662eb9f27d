"""The results ledger at MSSP scale (issue #16): a synthetic ledger of CUSTOMERS × NIGHTS written
through audit.ledger.write_night, then the reads the period report makes. No emulator: the rows are
synthesised with polars and the standard library (numpy is not a dependency) in the contract's schema, at realistic sizes per customer-night
(42 checks; 300 MSSP assignments, 150 MSSP guests, 5 review instances, 1 GDAP relationship).

    PYTHONPATH=. python bench/ledger_bench.py [--customers 1000] [--nights 365] [--dir /tmp/ledger-bench]

Prints a markdown section. The ledger is written under --dir and deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit import ledger  # noqa: E402

CHECKS = 42
PER_CUSTOMER = {"assignment": 300, "mssp_guest": 150, "review_instance": 5, "gdap_relationship": 1}
STATUSES = ["PASS"] * 30 + ["FAIL"] * 5 + ["WARN"] * 3 + ["NOT_APPLICABLE"] * 3 + ["ERROR"]
CHURN = 0.003              # share of items whose state changes on a night


def _hex(rng: random.Random, n: int) -> pl.Series:
    return pl.Series([f"{rng.getrandbits(128):032x}" for _ in range(n)], dtype=pl.String)


def _ints(rng: random.Random, low: int, high: int, n: int) -> list[int]:
    return [rng.randrange(low, high) for _ in range(n)]


def _tenants(rng: random.Random, customers: int) -> pl.Series:
    ids = _hex(rng, customers)
    return ids.map_elements(lambda h: f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", return_dtype=pl.String)


def base_items(rng: random.Random, tenants: pl.Series) -> pl.DataFrame:
    """Every customer's populations, as one night would list them."""
    frames = []
    start0 = datetime(2025, 1, 1, tzinfo=UTC)
    for kind, n in PER_CUSTOMER.items():
        total = n * len(tenants)
        tenant = tenants.gather([t for t in range(len(tenants)) for _ in range(n)])
        person = pl.Series(_ints(rng, 1, 400, total)).cast(pl.String)
        frame = pl.DataFrame({"tenant_id": tenant, "kind": kind, "item_id": _hex(rng, total),
                              "n": person,
                              "start": [start0 + timedelta(seconds=int(s)) for s in _ints(rng, 0, 30_000_000, total)]})
        frame = frame.with_columns(
            customer=pl.concat_str(pl.lit("Customer "), pl.col("tenant_id").str.slice(0, 6)),
            name=pl.concat_str(pl.lit("a-analyst"), pl.col("n"), pl.lit("@soc.mssp-analysts.example")),
            related=pl.lit({"assignment": "Tier 1 Analyst", "mssp_guest": "soc.mssp-analysts.example",
                            "review_instance": "ec2471d0-c3aa-43d8-8c87-a38910ed7590",
                            "gdap_relationship": "4cdd2055-930d-4eaf-94f4-733f3e7d1bfb"}[kind]),
            state=pl.lit({"assignment": "delivered", "mssp_guest": "Accepted", "review_instance": "Completed",
                          "gdap_relationship": "active"}[kind]),
            end=None if kind == "mssp_guest" else pl.col("start") + timedelta(days=365),
            beyond_policy=pl.lit(False) if kind == "assignment" else pl.lit(None, pl.Boolean),
            detail=pl.concat_str(pl.lit('{"analyst":"a-Analyst'), pl.col("n"), pl.lit('","target_id":"'),
                                 pl.col("item_id").str.reverse(), pl.lit('","policy":"Tier 1 Analyst - MSSP analysts'
                                                                         '","policy_expiration":"afterDuration",'
                                                                         '"policy_days":365.0,"status":"Delivered"}')),
            evidence=pl.lit({"assignment": "assignments", "mssp_guest": "guests",
                             "review_instance": "review_instances", "gdap_relationship": "gdap_relationships"}[kind]))
        frames.append(frame.drop("n"))
    return pl.concat(frames, how="diagonal_relaxed").sort("tenant_id", maintain_order=True)


def base_results(rng: random.Random, tenants: pl.Series) -> pl.DataFrame:
    total = CHECKS * len(tenants)
    return pl.DataFrame({
        "tenant_id": tenants.gather([t for t in range(len(tenants)) for _ in range(CHECKS)]),
        "check_id": [f"EM-{i:03d}" for i in range(CHECKS)] * len(tenants),
        "check_version": pl.Series([1] * total, dtype=pl.Int32), "severity": "high",
        "subject": "delivered MSSP assignments", "examined": _ints(rng, 0, 300, total),
    }).with_columns(customer=pl.concat_str(pl.lit("Customer "), pl.col("tenant_id").str.slice(0, 6)),
                    conforming=pl.col("examined") - 1, reason=pl.lit(""))


def night_frames(night: ledger.NightInfo, results: pl.DataFrame, items: pl.DataFrame,
                 rng: random.Random) -> tuple[pl.DataFrame, pl.DataFrame]:
    status = pl.Series([rng.choice(STATUSES) for _ in range(results.height)], dtype=pl.String)
    changed = pl.Series([rng.random() < CHURN for _ in range(items.height)], dtype=pl.Boolean)
    head = {"night": pl.lit(night.night), "run_id": pl.lit(night.run_id), "evaluation_id": pl.lit(night.evaluation_id),
            "seal_digest": pl.lit(night.seal_digest)}
    r = results.with_columns(**head, evaluation_digest=pl.lit(night.evaluation_digest),
                             tool_version=pl.lit(night.tool_version),
                             collected_at=pl.lit(night.collected_at, ledger.UTC_US),
                             as_of=pl.lit(night.as_of, ledger.UTC_US), status=status,
                             summary=pl.concat_str(pl.col("examined").cast(pl.String),
                                                   pl.lit(" delivered assignment(s) end within policy."), ))
    i = items.with_columns(**head, state=pl.when(changed).then(pl.lit("expired")).otherwise(pl.col("state")))
    return (r.select([pl.col(k).cast(t) for k, t in ledger.RESULTS_SCHEMA.items()]),
            i.select([pl.col(k).cast(t) for k, t in ledger.ITEMS_SCHEMA.items()]))


def median_of(fn: Callable[[], object], times: int = 3) -> tuple[float, object]:
    spent, value = [], None
    for _ in range(times):
        t = time.perf_counter()
        value = fn()
        spent.append(time.perf_counter() - t)
    return statistics.median(spent), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/ledger-bench"))
    parser.add_argument("--keep", action="store_true", help="Do not delete the ledger afterwards.")
    parser.add_argument("--read-all-items", action="store_true",
                        help="Also read_items for every customer over 30 nights (needs ~17 GB at 1,000 customers).")
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    rng = random.Random(16)
    tenants = _tenants(rng, args.customers)
    t = time.perf_counter()
    items, results = base_items(rng, tenants), base_results(rng, tenants)
    synth = time.perf_counter() - t
    last = datetime(2027, 11, 30, 2, tzinfo=UTC)
    writes, sizes = [], []
    try:
        for back in range(args.nights - 1, -1, -1):
            at = last - timedelta(days=back)
            night = ledger.NightInfo(at.strftime("%Y%m%dT%H%M%SZ-") + "0a1b2c", "001", "ab" * 32, "cd" * 32,
                                     "0.1.0", at, at)
            r, i = night_frames(night, results, items, rng)
            t = time.perf_counter()
            paths = ledger.write_night(args.dir, night, r, i)
            writes.append(time.perf_counter() - t)
            sizes.append([p.stat().st_size for p in paths])
        first, final = (last - timedelta(days=min(364, args.nights - 1))).date(), last.date()
        one = [tenants[args.customers // 2]]
        reads = {
            "one customer: read_results + nightly": lambda: ledger.nightly(ledger.read_results(args.dir, first, final, one)),
            "one customer: read_items + nightly": lambda: ledger.nightly(ledger.read_items(args.dir, first, final, one)),
            "all customers: read_results + nightly": lambda: ledger.nightly(ledger.read_results(args.dir, first, final)),
            "all customers: items first/last night per item (scan_items, streaming)": lambda: (
                ledger.scan_items(args.dir, first, final).filter(pl.col("evaluation_id") == ledger.NIGHTLY)
                .group_by("tenant_id", "kind", "item_id")
                .agg(first=pl.col("night").min(), last=pl.col("night").max(), nights=pl.len(),
                     beyond=pl.col("beyond_policy").any()).collect(engine="streaming")),
        }
        timings = {label: median_of(fn) for label, fn in reads.items()}
        month = (last - timedelta(days=min(29, args.nights - 1))).date()
        # 30 nights of every customer's items are ~14 M rows, ~6 GB held (17 GB peak with nightly's join):
        # only on request, on a machine with the memory to spare.
        month_items = median_of(lambda: ledger.nightly(ledger.read_items(args.dir, month, final)), 1) \
            if args.read_all_items else None
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)
    results_mb = statistics.median(s[0] for s in sizes) / 1e6
    items_mb = statistics.median(s[1] for s in sizes) / 1e6
    rows_r, rows_i = results.height, items.height
    print(f"## Results ledger: {args.customers} customers × {args.nights} nights (bench/ledger_bench.py)\n")
    print(f"`PYTHONPATH=. python bench/ledger_bench.py --customers {args.customers} --nights {args.nights}` · "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.1f} · "
          f"polars {pl.__version__}\n")
    print("| Figure | Value |\n|---|---|")
    print(f"| rows per night | {rows_r:,} results, {rows_i:,} items |")
    print(f"| disk per night (median) | {results_mb:.2f} MB results + {items_mb:.2f} MB items = "
          f"{results_mb + items_mb:.2f} MB |")
    print(f"| disk for 400 nights (extrapolated from the median night) | {(results_mb + items_mb) * 400 / 1e3:.1f} GB |")
    print(f"| write_night (median / max) | {statistics.median(writes):.2f} s / {max(writes):.2f} s |")
    print(f"| synthesis of the populations (once) | {synth:.1f} s |")
    for label, (seconds, value) in timings.items():
        height = value.height if isinstance(value, pl.DataFrame) else 0
        print(f"| {label}, {min(365, args.nights)} nights (median of 3) | {seconds:.2f} s ({height:,} rows) |")
    if month_items is None:
        return
    seconds, value = month_items
    height = value.height if isinstance(value, pl.DataFrame) else 0
    print(f"| all customers: read_items + nightly, 30 nights (once) | {seconds:.2f} s ({height:,} rows; "
          f"{value.estimated_size() / 1e9 if isinstance(value, pl.DataFrame) else 0:.1f} GB in memory) |")


if __name__ == "__main__":
    main()
