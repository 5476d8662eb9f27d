"""`mssp-audit merge`: a night run in shards (`run --shard K/N` or `--shard auto`, on one machine or
many writing to one data directory) becomes one portfolio workbook, summary.json, findings CSV and
metrics, built from what each shard run's own evaluation recorded: nothing is collected or
evaluated again. A shard with no finished run is named in the summary and the exit code.

A night: the shard runs (run.json records `shard: {index, count}`) of the same shard count N whose
collection started within NIGHT_WINDOW before the newest such run's. Per shard the newest complete
run of the night counts (a retried shard leaves an unfinished run behind and a complete one)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audit.config import Config
from audit.models import Status
from audit.pipeline import NOT_RENDERED, CustomerOutcome, RunOutcome, publish, run_summary, write_portfolio
from audit.render.portfolio_rows import FILENAME as PORTFOLIO_ROWS, read_portfolio_rows
from audit.render.viewmodel import CustomerSummaryRow, PortfolioReport, ResourceView
from audit.snapshot.seal import EvaluationRecord, read_seal
from audit.snapshot.store import RunStore, is_run_id, make_run_dir, read_json, sha256_file
from audit.deliver.output import write_summary

log = logging.getLogger("audit.merge")

NIGHT_WINDOW = timedelta(hours=12)
COUNTED = (Status.FAIL.value, Status.WARN.value, Status.ERROR.value)


class MergeError(Exception):
    """Nothing to merge, or runs named that are not one night's shard runs: a command-line error."""


@dataclass(frozen=True)
class ShardRun:
    run_id: str
    root: Path
    index: int
    count: int
    status: str
    collected_at: datetime
    started_at: datetime
    finished_at: datetime | None
    evaluation: str


@dataclass(frozen=True)
class ShardPart:
    """One shard of the night: its run's rows and outcomes, or why it has none."""

    index: int
    run: ShardRun | None
    failure: str = ""
    portfolio: PortfolioReport | None = None
    customers: tuple[CustomerOutcome, ...] = ()


def read_shard_run(root: Path) -> ShardRun | None:
    """The run at `root` as a shard run; None when it is not one (no or a malformed `shard`)."""
    try:
        data = read_json(root / "run.json")
        shard = data.get("shard")
        if not isinstance(shard, dict):
            return None
        index, count = shard.get("index"), shard.get("count")
        if type(index) is not int or type(count) is not int or not 1 <= index <= count:
            return None
        finished = data.get("finished_at")
        return ShardRun(str(data["run_id"]), root, index, count, str(data.get("status", "?")),
                        datetime.fromisoformat(data["collected_at"]), datetime.fromisoformat(data["started_at"]),
                        datetime.fromisoformat(finished) if isinstance(finished, str) else None,
                        str(data.get("evaluation") or ""))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def newest_night(data_dir: Path) -> list[ShardRun]:
    runs = [r for root in sorted((data_dir / "runs").iterdir()) if (data_dir / "runs").is_dir()
            and root.is_dir() and (r := read_shard_run(root)) is not None] if (data_dir / "runs").is_dir() else []
    if not runs:
        raise MergeError(f"no shard run under {data_dir / 'runs'}: run `mssp-audit run --shard K/N` "
                         "(or --shard auto) for every shard first")
    newest = max(runs, key=lambda r: (r.collected_at, r.run_id))
    return [r for r in runs if r.count == newest.count
            and newest.collected_at - NIGHT_WINDOW < r.collected_at <= newest.collected_at]


def named_runs(data_dir: Path, run_ids: list[str]) -> list[ShardRun]:
    runs = []
    for run_id in run_ids:
        if not is_run_id(run_id) or not (data_dir / "runs" / run_id / "run.json").is_file():
            raise MergeError(f"--runs: no run {run_id[:60]} under {data_dir / 'runs'}")
        run = read_shard_run(data_dir / "runs" / run_id)
        if run is None:
            raise MergeError(f"--runs: run {run_id} is not a shard run (it was not started with --shard)")
        runs.append(run)
    counts = {r.count for r in runs}
    if len(counts) != 1:
        raise MergeError(f"--runs: the runs were split into different shard counts ({', '.join(map(str, sorted(counts)))})"
                         "; they are not one night")
    return runs


def merge_night(config: Config, runs: list[ShardRun]) -> tuple[RunOutcome, dict[str, object]]:
    """Build the night's reports from its shard runs; (outcome, summary). The summary's exit code is
    non-zero when a shard is missing or unfinished, or a customer of the night is in error."""
    count = runs[0].count
    parts = [_part(config, k, count, [r for r in runs if r.index == k]) for k in range(1, count + 1)]
    order = {c.tenant_id.lower(): i for i, c in enumerate(config.customers)}
    customers: list[CustomerOutcome] = []
    rows: list[PortfolioReport] = []
    missing_rows: list[CustomerSummaryRow] = []
    missing_errors: list[tuple[str, str, ResourceView]] = []
    for part in parts:
        if part.portfolio is not None:
            customers.extend(part.customers)
            rows.append(part.portfolio)
            continue
        from audit.cli import shard_of      # the one split: the customers the shard would have audited
        for c in config.customers:
            if shard_of(c.tenant_id, count) == part.index:
                customers.append(CustomerOutcome(c.name, c.tenant_id.lower(), False, part.failure, None, {},
                                                 error=part.failure))
                missing_rows.append(CustomerSummaryRow(c.name, c.tenant_id, None, {}, False, NOT_RENDERED,
                                                       NOT_RENDERED, failure=part.failure, reason=part.failure))
                missing_errors.append((c.name, c.tenant_id, ResourceView("shard", "", "failed", part.failure, 0, 0, "")))

    def key(tenant_id: str) -> int:
        return order.get(tenant_id.lower(), len(order))

    done = [p.run for p in parts if p.portfolio is not None and p.run is not None]
    started = min((r.started_at for r in runs), default=datetime.now(UTC))
    collected = min((r.collected_at for r in done), default=min(r.collected_at for r in runs))
    evaluated = {p.evaluated_at for p in rows}
    night_id = f"{min(r.collected_at for r in runs):%Y%m%dT%H%M%SZ}-{count}-shards"
    root = config.output.data_dir / "nights" / night_id
    report = PortfolioReport(
        run_id=night_id, collected_at=collected,
        evaluated_at=evaluated.pop() if len(evaluated) == 1 else collected, generated_at=datetime.now(UTC),
        customers=tuple(sorted([r for p in rows for r in p.customers] + missing_rows, key=lambda r: key(r.tenant_id))),
        licences=tuple(sorted((r for p in rows for r in p.licences), key=lambda r: key(r.tenant_id))),
        expiry=tuple(sorted((r for p in rows for r in p.expiry), key=lambda e: (e.end is None, e.end or collected))),
        results=tuple(sorted((r for p in rows for r in p.results), key=lambda r: key(r[1]))),
        errors=tuple(sorted([r for p in rows for r in p.errors] + missing_errors, key=lambda r: key(r[1]))))
    make_run_dir(root, config.output.group)
    (root / "reports").mkdir(exist_ok=True)
    portfolio = write_portfolio(report, root / "reports")
    outcome = RunOutcome(night_id, root, tuple(sorted(customers, key=lambda c: key(c.tenant_id))), portfolio)
    failed = [p for p in parts if p.portfolio is None]
    summary = run_summary(outcome, started, datetime.now(UTC))
    summary["exit_code"] = 1 if failed or outcome.exit_code else 0
    summary["shards"] = [{"shard": f"{p.index}/{count}", "run_id": p.run.run_id if p.run else None,
                          "ok": p.portfolio is not None, "failure": p.failure or None} for p in parts]
    summary["failed_shards"] = [f"{p.index}/{count}" for p in failed]
    write_summary(root / "summary.json", summary)
    publish(config, root, summary)
    for p in failed:
        log.error("shard %d/%d: %s; its customers are not in tonight's results", p.index, count, p.failure)
    return outcome, summary


def _part(config: Config, index: int, count: int, candidates: list[ShardRun]) -> ShardPart:
    if not candidates:
        return ShardPart(index, None, f"shard {index}/{count} has no run tonight (it never started or its run was lost)")
    complete = [r for r in candidates if r.status == "complete"]
    if not complete:
        run = max(candidates, key=lambda r: (r.collected_at, r.run_id))
        what = {"collecting": "its collection did not finish", "sealed": "it was collected but not evaluated"}
        return ShardPart(index, run, f"shard {index}/{count}: run {run.run_id} did not finish: "
                                     f"{what.get(run.status, f'status {run.status[:40]!r}')}")
    run = max(complete, key=lambda r: (r.collected_at, r.run_id))
    try:
        return _read_part(index, count, run)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return ShardPart(index, run, f"shard {index}/{count}: run {run.run_id} cannot be merged: {error}")


def _read_part(index: int, count: int, run: ShardRun) -> ShardPart:
    """The shard run's own evaluation: its record, and the portfolio rows it vouches for by hash."""
    store = RunStore.at(run.root)
    if read_seal(store) is None:
        raise ValueError("it is not sealed")
    record = EvaluationRecord.from_json(read_json(store.evaluations_dir / f"{run.evaluation}.json"))
    outputs = store.root / record.outputs
    rows_path = outputs / "reports" / PORTFOLIO_ROWS
    relative = str(rows_path.relative_to(store.root))
    if relative not in record.shared:
        raise ValueError(f"its evaluation {record.evaluation_id} recorded no {PORTFOLIO_ROWS}")
    if sha256_file(rows_path) != record.shared[relative]:
        raise ValueError(f"{relative} changed since its evaluation {record.evaluation_id}")
    portfolio = read_portfolio_rows(rows_path)
    summaries = {r.tenant_id.lower(): r for r in portfolio.customers}
    customers = []
    for tenant_id, part in record.tenants.items():
        s = part["summary"]
        row = summaries.get(tenant_id)
        failing: dict[tuple[str, str], int] = {}
        for _, t, finding in portfolio.results:
            if t.lower() == tenant_id and finding.status in COUNTED:
                failing[(finding.status, finding.severity)] = failing.get((finding.status, finding.severity), 0) + 1
        files = [outputs / "reports" / name if row is not None and name != NOT_RENDERED else None
                 for name in ((row.pdf, row.workbook) if row is not None else ("", ""))]
        customers.append(CustomerOutcome(
            str(s.get("customer", "")), tenant_id, bool(s.get("reachable")), str(s.get("reason") or ""),
            s.get("score"), dict(s.get("counts") or {}), files[0], files[1], failing, str(s.get("error") or ""),
            tuple(s.get("unread") or ())))
    return dataclasses.replace(ShardPart(index, run), portfolio=portfolio, customers=tuple(customers))
