"""The only module that knows the order: collect → snapshot → normalize → evaluate → render.

Each stage after collection reads only what the previous one left on disk, so `evaluate` and
`render` can be re-run over a stored run: last Tuesday's question gets last Tuesday's answer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging

import polars as pl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from audit.checks import CATALOGUE, SPECS, Context, evaluate, score
from audit.collect.run import collect_night
from audit.config import Config, Customer, new_run_id
from audit.deliver.mail import Decision, Delivery, Parcel, send_reports
from audit.deliver.output import point_latest, write_metrics, write_summary
from audit.graph.auth import app_credential
from audit import ledger
from audit.history import Drift, RunEntry, apply_retention, compute_drift, list_runs, previous_run, score_history
from audit.models import CheckResult, Status, TenantManifest, tenant_errors
from audit.normalize import TenantData, normalize_tenant, write_normalized
from audit.render.batch import RenderCache, Rendered, RenderJob, render_changed
from audit.render.build import RunInfo, customer_report, licence_row, summary_row
from audit.render.csv_out import write_findings_csv
from audit.render.excel import write_portfolio_workbook
from audit.render.portfolio_rows import FILENAME as PORTFOLIO_ROWS, write_portfolio_rows
from audit.render.filenames import report_filename
from audit.render.pdf import PdfOptions
from audit.render.viewmodel import (CustomerReport, CustomerSummaryRow, ExpiryRow, FindingView, LicenceRow,
                                    PortfolioReport, ResourceView)
from audit.snapshot.lifecycle import RunNotFound, collection_settings, resumed_run, run_customers, seal_run, sealed_run
from audit.snapshot.seal import (EvaluationRecord, EvidenceChanged, Seal, check_evidence, next_evaluation, read_seal,
                                 shared_output_files, tenant_output_files, write_evaluation)
from audit.snapshot.signing import sign_record
from audit.snapshot.store import (RunStore, make_run_dir, private_files, read_json, remove_partial_writes,
                                  write_json)
from audit.workers import TaskFailed, WorkerPool, worker_context

log = logging.getLogger("audit.pipeline")
RESULTS_SCHEMA = "mssp-audit/results/1"
# Statuses only a check that read the tenant's evidence can reach (MANUAL and ATTESTED need none).
FROM_EVIDENCE = (Status.PASS, Status.FAIL, Status.WARN, Status.NOT_APPLICABLE, Status.ACCEPTED)


def tool_version() -> str:
    try:
        return version("mssp-audit")
    except PackageNotFoundError:
        return "0+checkout"


@dataclass(frozen=True)
class CustomerOutcome:
    name: str
    tenant_id: str
    reachable: bool
    reason: str
    score: float | None
    counts: dict[str, int]
    pdf: Path | None = None          # None: no PDF of this run's results exists for the customer
    workbook: Path | None = None
    failing: dict[tuple[str, str], int] = field(default_factory=dict)   # (status, severity) → count
    # What stopped this customer's evaluation or rendering ("evaluate failed: KeyError: …"); "" when nothing did.
    error: str = ""
    unread: tuple[str, ...] = ()     # resources that could not be read (audit.models.is_collection_error)

    @property
    def errors(self) -> tuple[str, ...]:
        """Why it is a "tenant with errors", in the one meaning the portfolio and `runs show` use too."""
        return tenant_errors(reachable=self.reachable, reason=self.reason, failure=self.error,
                             error_results=self.counts.get(Status.ERROR.value, 0), unread=self.unread)

    @property
    def in_error(self) -> bool:
        return bool(self.errors)

    @property
    def unevaluated(self) -> str:
        """Why nothing in this customer's report was evaluated from its own tenant's evidence (GDAP results
        come from the partner tenant's); "" when something was."""
        if not self.reachable:
            return f"tenant not reached: {self.reason}"
        if not any(self.counts.get(s.value, 0) for s in FROM_EVIDENCE):
            return "every check that reads the tenant is ERROR"
        return ""


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    root: Path
    customers: tuple[CustomerOutcome, ...]
    portfolio: Path | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    evaluation: str = ""                 # the evaluation record this outcome is (evaluations/<id>.json)
    outputs: Path | None = None          # where that evaluation wrote its tables, results and reports

    @property
    def tenants_in_error(self) -> int:
        return sum(1 for c in self.customers if c.in_error)

    @property
    def exit_code(self) -> int:
        """0: all tenants evaluated; 1: finished, but some tenants or resources could not be read."""
        return 1 if self.tenants_in_error else 0


def run(config: Config, *, config_sha256: str = "", run_id: str | None = None, resume: bool = False,
        now: datetime | None = None, as_of: datetime | None = None,
        on_tenant: Callable[[TenantManifest], None] | None = None, shard: tuple[int, int] | None = None) -> RunOutcome:
    """Collect every tenant, seal the run, then evaluate and render. `resume` finishes an unsealed
    run; a sealed run's evidence is final, so resuming one only evaluates it (a new evaluation).
    `shard` (K, N): the run is shard K of N of a night; run.json records it for `merge`."""
    with private_files(config.output.group):
        return _run(config, config_sha256=config_sha256, run_id=run_id, resume=resume, now=now, as_of=as_of,
                    on_tenant=on_tenant, shard=shard)


def _run(config: Config, *, config_sha256: str, run_id: str | None, resume: bool, now: datetime | None,
         as_of: datetime | None, on_tenant: Callable[[TenantManifest], None] | None,
         shard: tuple[int, int] | None = None) -> RunOutcome:
    now = now or datetime.now(UTC)
    # Under the data directory's lock nothing of ours is writing: a temp file is what a killed write left.
    # Not so for a shard: the other shards of its night write beside it (they share the lock).
    for unfinished in _unfinished_runs(config.output.data_dir) if shard is None else ():
        for leftover in remove_partial_writes(unfinished):
            log.info("removed %s, left by an interrupted write", leftover)
    if resume:
        store, started = resumed_run(config, run_id)
        for leftover in remove_partial_writes(store.root):
            log.info("removed %s, left by an interrupted write", leftover)
        now = datetime.fromisoformat(started["collected_at"])
    else:
        store = RunStore(config.output.data_dir, run_id or new_run_id(now.isoformat()))
        if store.run_manifest_path.exists():
            raise FileExistsError(f"run {store.run_id} already exists; use --resume to finish it")
        make_run_dir(store.root, config.output.group)
        started = {"schema": "mssp-audit/run/1", "run_id": store.run_id, "collected_at": now.isoformat(),
                   "started_at": datetime.now(UTC).isoformat(), "tool_version": tool_version(),
                   "config_sha256": config_sha256, "collection": collection_settings(config),
                   "status": "collecting",
                   **({"shard": {"index": shard[0], "count": shard[1]}} if shard else {})}
        write_json(store.run_manifest_path, started)
    if read_seal(store) is None:
        credential = app_credential(config)
        collect_night(config, store, credential, now, on_done=on_tenant)
        seal_run(config, store, started, tool_version())
    outcome = evaluate_and_render(config, store, as_of=as_of)
    deliver(config, store, outcome, shard=shard is not None)
    if shard is not None:          # retention would count the night's other shards as old runs: merge applies it
        return outcome
    removed = apply_retention(config.output.data_dir, keep_runs=config.retention.keep_runs,
                              keep_days=config.retention.keep_days, now=now)
    if removed:
        log.info("retention removed %d old run(s): %s", len(removed), ", ".join(removed))
    apply_ledger_retention(config, now)
    return outcome


def apply_ledger_retention(config: Config, now: datetime) -> None:
    """The results ledger keeps its own, longer history ([retention] ledger_days): the period report
    needs a year after raw evidence is gone."""
    nights = ledger.apply_ledger_retention(config.output.data_dir, config.retention.ledger_days, now)
    if nights:
        log.info("ledger retention removed %d night(s), the oldest %s", len(nights), nights[0])


def _unfinished_runs(data_dir: Path) -> list[Path]:
    """Runs whose run.json does not say complete: only these can hold what a killed write left
    (a complete run's every write finished), and a night need not walk years of finished runs."""
    unfinished = []
    for root in sorted((data_dir / "runs").iterdir()) if (data_dir / "runs").is_dir() else ():
        try:
            complete = read_json(root / "run.json").get("status") == "complete"
        except (OSError, ValueError, AttributeError):
            complete = False
        if root.is_dir() and not complete:
            unfinished.append(root)
    return unfinished


def load_tenant(store: RunStore, config: Config, tenant_id: str, seal: Seal | None = None,
                verified: frozenset[str] = frozenset()) -> TenantData:
    """The tenant's tables from its evidence; with `seal`, every file read is re-hashed against it
    first (EvidenceChanged names the one that differs), but for the tenants in `verified` (the
    partner tenant's evidence, which every customer reads, is checked once per evaluation)."""
    partner_id = config.mssp.partner_tenant_id.lower() if config.mssp.partner_tenant_id else None
    if seal is not None:
        for checked in (tenant_id, partner_id):
            if checked is not None and checked not in verified and (checked == tenant_id or checked in seal.tenants):
                check_evidence(store, seal, checked)
    manifest = store.read_tenant_manifest(tenant_id)
    if manifest is None:
        raise RunNotFound(f"run {store.run_id} has no evidence for tenant {tenant_id}")
    partner = store.read_tenant_manifest(partner_id) if partner_id else None
    return normalize_tenant(store.tenant_dir(tenant_id), manifest,
                            partner_dir=store.tenant_dir(partner_id) if partner_id else None, partner=partner)


class StageFailed(Exception):
    """One stage of one customer's evaluation raised: recorded against that customer, the run goes on."""

    def __init__(self, stage: str, cause: Exception) -> None:
        self.stage, self.cause = stage, cause
        if isinstance(cause, EvidenceChanged):     # not a defect: the evidence is not what was sealed
            super().__init__(str(cause)[:400])
        else:
            super().__init__(f"{stage} failed: {type(cause).__name__}: {str(cause)[:300]}")


@contextmanager
def _stage(name: str) -> Iterator[None]:
    try:
        yield
    except StageFailed:
        raise
    except Exception as exc:
        raise StageFailed(name, exc) from exc


def evaluate_tenant(config: Config, store: RunStore, tenant_id: str, as_of: datetime | None = None,
                    seal: Seal | None = None, verified: frozenset[str] = frozenset()
                    ) -> tuple[TenantData, list[CheckResult]]:
    """Normalise and evaluate one tenant of a collected run; a failing stage raises `StageFailed`."""
    customer = next(c for c in config.customers if c.tenant_id.lower() == tenant_id.lower())
    with _stage("normalise"):
        data = load_tenant(store, config, tenant_id, seal, verified)
        write_normalized(store.output_dir(tenant_id), data)
    with _stage("evaluate"):
        # "Now" is the collection time from the manifest, never the wall clock (DESIGN.md, "Checks").
        context = Context(now=as_of or data.manifest.collected_at, config=config, customer=customer)
        results = evaluate(data, context, CATALOGUE)
        _write_results(store, customer, tenant_id, context.now, results)
    return data, results


def _write_results(store: RunStore, customer: Customer, tenant_id: str, evaluated_at: datetime,
                   results: list[CheckResult], error: str = "") -> None:
    write_json(store.results_path(tenant_id), {
        "schema": RESULTS_SCHEMA, "run_id": store.run_id, "tenant_id": tenant_id, "customer": customer.name,
        "evaluated_at": evaluated_at.isoformat(), "score": score(results, SPECS),
        **({"error": error} if error else {}),
        "results": [r.to_json() | {"check": SPECS[r.check_id].versioned_id} for r in results],
    })


def tenant_drift(config: Config, store: RunStore, tenant_id: str, runs: list[RunEntry] | None = None) -> Drift:
    """Changes since the previous complete run of this tenant, also kept in results.json."""
    previous = previous_run(runs if runs is not None else list_runs(config.output.data_dir), store.run_id, tenant_id)
    drift = compute_drift(previous.root, store.root, tenant_id, previous.run_id) if previous else Drift(None)
    results_path = store.results_path(tenant_id)
    write_json(results_path, {**read_json(results_path), "drift": drift.to_json()})
    return drift


def evaluate_and_render(config: Config, store: RunStore, *, as_of: datetime | None = None,
                        only: set[str] | None = None) -> RunOutcome:
    """Evaluate a sealed run as a new evaluation record: the run's first writes beside the evidence,
    every later one under evaluations/<id>/; nothing earlier is overwritten. `only`: tenant ids."""
    with private_files(config.output.group):
        return _evaluate_and_render(config, store, as_of=as_of, only=only)


def _evaluate_and_render(config: Config, store: RunStore, *, as_of: datetime | None,
                         only: set[str] | None) -> RunOutcome:
    seal = sealed_run(store)
    evaluation_id, out = next_evaluation(store)
    config = config.model_copy(update={"customers": run_customers(config, seal, only)})
    info = RunInfo(store.run_id, datetime.now(UTC), tool_version(), evaluation_id, seal.digest)
    reports_dir = out.reports_dir
    outcomes: list[CustomerOutcome] = []
    rows = _PortfolioRows()
    night_info = ledger.NightInfo(store.run_id, evaluation_id, seal.digest, "", info.tool_version, seal.collected_at,
                                  as_of or seal.collected_at)
    night = _Night(config, out, info, list_runs(config.output.data_dir), as_of, seal,
                   _verified_once(config, out, seal), night_info)
    ledger_rows: list[tuple[pl.DataFrame, pl.DataFrame]] = []
    cache = RenderCache(reports_dir)
    hashed: dict[str, dict[str, str]] = {}

    def settle(customer: Customer) -> Callable[[_CustomerDone | TaskFailed], None]:
        def done(result: _CustomerDone | TaskFailed) -> None:
            if isinstance(result, TaskFailed):       # its worker died or the task raised past its own handling
                error = f"evaluation worker failed: {result}"
                log.error("customer %s (tenant %s): %s; the run goes on with the other customers", customer.name,
                          customer.tenant_id.lower(), error,
                          extra={"tenant": customer.tenant_id.lower(), "customer": customer.name})
                result = _lost(customer, reports_dir, error, (config, night_info))
            outcomes.append(result.outcome)
            if result.ledger is not None:
                ledger_rows.append(result.ledger)
            if result.files is not None:
                hashed[result.outcome.tenant_id] = result.files
            rows.add(result.rows)
            if result.rendered is not None:
                cache.settle(result.rendered)
        return done

    try:
        # Normalise, evaluate, build the view-model and draw both reports of each customer in one
        # worker per core (audit.workers): this process only gathers the rows of the portfolio.
        with WorkerPool(context=night) as pool:
            for customer in config.customers:
                pool.submit(_customer_job, (customer, cache.known(_report_paths(reports_dir, customer))), settle(customer))
    finally:
        cache.save()
    outcomes = [_rendered(outcome, cache.failed) for outcome in outcomes]
    rows.summaries = [_rendered_row(row, reports_dir, cache.failed) for row in rows.summaries]
    collected = seal.collected_at
    report = PortfolioReport(
        run_id=store.run_id, collected_at=collected, evaluated_at=as_of or collected, generated_at=info.generated_at,
        customers=tuple(rows.summaries), licences=tuple(rows.licences),
        expiry=tuple(sorted(rows.expiry, key=lambda e: (e.end is None, e.end or collected))),
        results=tuple(rows.results), errors=tuple(rows.errors))
    # Only a shard run's rows are read again (by `merge`); writing them costs a third of the portfolio's time.
    portfolio = write_portfolio(report, reports_dir, rows=read_json(store.run_manifest_path).get("shard") is not None)
    parts = {o.tenant_id: {"summary": _tenant_summary(o),
                           "files": hashed[o.tenant_id] if o.tenant_id in hashed else
                           tenant_output_files(out, o.tenant_id, [p for p in (o.pdf, o.workbook) if p])}
             for o in outcomes}
    tenants = {t: part["summary"] for t, part in parts.items()}
    record = EvaluationRecord(
        evaluation_id=evaluation_id, run_id=store.run_id, seal_digest=seal.digest, evaluated_at=info.generated_at,
        as_of=as_of or collected, tool_version=info.tool_version, outputs=str(out.out_root.relative_to(store.root)),
        tenants=parts, shared=shared_output_files(out, [part["files"] for part in parts.values()]))
    write_evaluation(store, record)
    sign_record(config.output.signing_key, store.evaluations_dir / f"{evaluation_id}.json", record.digest)
    _write_ledger(config, dataclasses.replace(night_info, evaluation_digest=record.digest), ledger_rows)
    if out.out_root == store.root:                 # the run's own evaluation: run.json shows it
        _finish_run_manifest(store, evaluation_id, tenants)
    return RunOutcome(store.run_id, store.root, tuple(outcomes), portfolio, evaluation=evaluation_id,
                      outputs=out.out_root)


def write_portfolio(report: PortfolioReport, reports_dir: Path, *, rows: bool = False) -> Path:
    """The reports about every customer of a run, or of a night merged from its shard runs: the
    portfolio workbook, the findings CSV and, with `rows`, the rows `merge` builds a night's
    portfolio from (a shard run's)."""
    portfolio = write_portfolio_workbook(report, reports_dir / "portfolio.xlsx")
    if rows:
        write_portfolio_rows(report, reports_dir / PORTFOLIO_ROWS)
    write_findings_csv([r for r in report.results if r[2].status != Status.PASS.value], reports_dir / "findings.csv")
    return portfolio


NOT_RENDERED = "not rendered"


def _rendered(outcome: CustomerOutcome, failed: dict[Path, str]) -> CustomerOutcome:
    """The outcome once its files are rendered: a file that failed is not claimed, and says why."""
    reasons = [failed[p] for p in (outcome.pdf, outcome.workbook) if p is not None and p in failed]
    if not reasons:
        return outcome
    return dataclasses.replace(outcome, pdf=None if outcome.pdf in failed else outcome.pdf,
                               workbook=None if outcome.workbook in failed else outcome.workbook,
                               error="; ".join(filter(None, (outcome.error, *reasons))))


def _rendered_row(row: CustomerSummaryRow, reports_dir: Path, failed: dict[Path, str]) -> CustomerSummaryRow:
    reasons = [failed[reports_dir / name] for name in (row.pdf, row.workbook) if reports_dir / name in failed]
    if not reasons:
        return row
    return dataclasses.replace(row, pdf=NOT_RENDERED if reports_dir / row.pdf in failed else row.pdf,
                               workbook=NOT_RENDERED if reports_dir / row.workbook in failed else row.workbook,
                               failure="; ".join(filter(None, (row.failure, *reasons))))


@dataclass
class _PortfolioRows:
    """What each customer adds to the portfolio workbook, gathered while customers are evaluated."""

    summaries: list[CustomerSummaryRow] = field(default_factory=list)
    licences: list[LicenceRow] = field(default_factory=list)
    expiry: list[ExpiryRow] = field(default_factory=list)
    results: list[tuple[str, str, FindingView]] = field(default_factory=list)   # (customer, tenant id, …)
    errors: list[tuple[str, str, ResourceView]] = field(default_factory=list)

    def add(self, other: _PortfolioRows) -> None:
        for name in ("summaries", "licences", "expiry", "results", "errors"):
            getattr(self, name).extend(getattr(other, name))


@dataclass(frozen=True)
class CustomerView:
    """One evaluated customer: its tables, results and the view-model both reports are drawn from."""

    data: TenantData
    results: list[CheckResult]
    score: float | None
    history: tuple[tuple[str, float | None], ...]
    report: CustomerReport


def customer_view(config: Config, store: RunStore, customer: Customer, info: RunInfo, runs: list[RunEntry], *,
                  as_of: datetime | None = None, seal: Seal | None = None,
                  verified: frozenset[str] = frozenset()) -> CustomerView:
    """Evaluate one customer of a collected run and build its view-model, as the nightly run does.
    A stage that raises (normalise, evaluate, drift, view-model) raises `StageFailed` naming it."""
    tenant_id = customer.tenant_id.lower()
    data, results = evaluate_tenant(config, store, tenant_id, as_of, seal, verified)
    with _stage("drift"):
        drift = tenant_drift(config, store, tenant_id, runs)
    with _stage("view-model"):
        history = tuple(score_history(runs, store.run_id, tenant_id))
        report = _report(config, store, customer, info, data, results, drift=drift, history=history,
                         evaluated_at=as_of)
    return CustomerView(data, results, report.score, history, report)


def _report(config: Config, store: RunStore, customer: Customer, info: RunInfo, data: TenantData,
            results: list[CheckResult], *, drift: Drift | None = None,
            history: tuple[tuple[str, float | None], ...] = (), evaluated_at: datetime | None = None,
            evidence: bool = True) -> CustomerReport:
    """`evidence=False`: the tenant's manifest is not what was sealed, so the PDF neither carries
    nor hashes it."""
    tenant_id = customer.tenant_id.lower()
    # One read of the manifest serves its hash and the PDF's attachment (PDF/A-3b).
    manifest_path = store.manifest_path(tenant_id)
    manifest_bytes = manifest_path.read_bytes() if evidence and manifest_path.is_file() else b""
    attachments = tuple((name, path.read_bytes()) for name, path in (
        ("manifest.json", manifest_path), ("results.json", store.results_path(tenant_id)))
        if path.is_file() and (evidence or name != "manifest.json"))
    # Every row goes into the one view-model: the workbook shows them all, the PDF bounds its tables.
    return customer_report(customer, data, results, SPECS, score(results, SPECS),
                           hashlib.sha256(manifest_bytes).hexdigest() if manifest_bytes else "", info, drift=drift,
                           evaluated_at=evaluated_at, config=config, attachments=attachments, history=history)


def _unevaluated(reason: str) -> list[CheckResult]:
    """Every check ERROR with the reason: a customer whose evidence could not be evaluated."""
    return [CheckResult(spec.id, Status.ERROR, "The evidence could not be evaluated.", (), reason)
            for spec in SPECS.values()]


def _failed_view(config: Config, store: RunStore, customer: Customer, info: RunInfo, failure: StageFailed, *,
                 as_of: datetime | None) -> CustomerView:
    """A customer whose evaluation failed still gets its report: every check ERROR with the reason,
    beside what the manifest says was collected, and results.json says why."""
    tenant_id = customer.tenant_id.lower()
    changed = isinstance(failure.cause, EvidenceChanged)    # then nothing of the tenant's evidence is read
    try:
        manifest = None if changed else store.read_tenant_manifest(tenant_id)
    except Exception:         # the manifest itself may be what failed to read
        manifest = None
    if manifest is None:      # no readable evidence for it in this run: the report says so
        collected = datetime.fromisoformat(read_json(store.run_manifest_path)["collected_at"])
        # Evidence that changed was collected (the tenant was reached); it is just not what was sealed.
        manifest = TenantManifest(tenant_id, customer.name, collected, changed, "" if changed else str(failure))
    data = TenantData(manifest, {}, {})
    results = _unevaluated(str(failure))
    _write_results(store, customer, tenant_id, as_of or manifest.collected_at, results, error=str(failure))
    return CustomerView(data, results, None, (), _report(config, store, customer, info, data, results,
                                                          evaluated_at=as_of, evidence=not changed))


@dataclass(frozen=True)
class _Night:
    """What every customer's task of one evaluation shares: sent to each worker once, not per task."""

    config: Config
    store: RunStore
    info: RunInfo
    runs: list[RunEntry]
    as_of: datetime | None
    seal: Seal
    verified: frozenset[str]
    ledger: ledger.NightInfo          # its evaluation_digest is filled in once the record is written


@dataclass(frozen=True)
class _CustomerDone:
    outcome: CustomerOutcome
    rows: _PortfolioRows
    rendered: Rendered | None
    files: dict[str, str] | None = None    # sha256 of what the evaluation wrote for it; None: hash here
    ledger: tuple[pl.DataFrame, pl.DataFrame] | None = None   # its results and items rows (audit.ledger)


def _verified_once(config: Config, store: RunStore, seal: Seal) -> frozenset[str]:
    """The partner tenant's evidence, checked against the seal here once rather than by every
    customer's task; when it differs, each customer's task finds out and says so itself."""
    partner_id = config.mssp.partner_tenant_id.lower() if config.mssp.partner_tenant_id else None
    if partner_id is None or partner_id not in seal.tenants:
        return frozenset()
    try:
        check_evidence(store, seal, partner_id)
    except (EvidenceChanged, OSError, ValueError):
        return frozenset()
    return frozenset({partner_id})


def _customer_job(customer: Customer, known: dict[str, str]) -> _CustomerDone:
    """One customer, start to end, in a worker: evaluate, build its rows and draw its reports."""
    night: _Night = worker_context()
    rows = _PortfolioRows()
    outcome, job, view = _evaluate_customer(night.config, night.store, customer, night.info, rows, night.runs,
                                            as_of=night.as_of, seal=night.seal, verified=night.verified)
    rendered = render_changed(job, known) if job is not None else None
    rows_of_night = _ledger_rows(night.config, customer, night.ledger, view, outcome.error)
    # The evaluation record's hashes of this customer's files, taken here while they are in the page cache.
    reports = [p for p in (outcome.pdf, outcome.workbook) if p is not None and not (rendered and p in rendered.failed)]
    return _CustomerDone(outcome, rows, rendered, tenant_output_files(night.store, outcome.tenant_id, reports),
                         rows_of_night)


def _ledger_rows(config: Config, customer: Customer, night: ledger.NightInfo, view: CustomerView | None,
                 error: str) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """The customer's rows for the results ledger: what was evaluated, or every check ERROR with the
    reason when nothing could be (a night that ran is never a gap in the record)."""
    tenant_id = customer.tenant_id.lower()
    try:
        if view is None:
            manifest = TenantManifest(tenant_id, customer.name, night.collected_at, False, error)
            view_data = TenantData(manifest, {}, {})
            results = _unevaluated(error)
            return ledger.customer_rows(view_data, results, customer, night, config=config)
        return ledger.customer_rows(view.data, view.results, customer, night, config=config)
    except Exception as exc:       # the night's reports stand; `history rebuild` can write the rows later
        log.error("customer %s (tenant %s): its results ledger rows could not be built: %s: %s", customer.name,
                  tenant_id, type(exc).__name__, str(exc)[:300], extra={"tenant": tenant_id, "customer": customer.name})
        return None


def _write_ledger(config: Config, night: ledger.NightInfo, rows: list[tuple[pl.DataFrame, pl.DataFrame]]) -> None:
    """Append the evaluation's rows to the results ledger (audit.ledger); a failure is logged with
    what repairs it, never the night's end: the ledger can be rebuilt from the run."""
    if not rows:
        return
    digest = pl.lit(night.evaluation_digest, pl.String)
    results = pl.concat([r for r, _ in rows], how="vertical").with_columns(evaluation_digest=digest)
    items = pl.concat([i for _, i in rows], how="vertical")
    if "evaluation_digest" in items.columns:
        items = items.with_columns(evaluation_digest=digest)
    try:
        ledger.write_night(config.output.data_dir, night, results, items)
    except (OSError, ValueError) as exc:
        log.error("results ledger: evaluation %s of run %s not written (%s); `mssp-audit history rebuild` writes "
                  "it from the run", night.evaluation_id, night.run_id, exc, extra={"run_id": night.run_id})


def _report_paths(reports_dir: Path, customer: Customer) -> tuple[Path, Path]:
    # Keyed by tenant id: two customers may share a display name, never a file (DESIGN.md, "Customers never mix").
    return (reports_dir / report_filename(customer.name, customer.tenant_id, suffix=".pdf"),
            reports_dir / report_filename(customer.name, customer.tenant_id, suffix=".xlsx"))


def _lost(customer: Customer, reports_dir: Path, error: str,
          ledger_night: tuple[Config, ledger.NightInfo] | None = None) -> _CustomerDone:
    """A customer of whom nothing could be built, not even an all-ERROR report: the outcome and the
    portfolio say so, and no file is claimed."""
    pdf, workbook = _report_paths(reports_dir, customer)
    for path in (pdf, workbook):        # what is there shows an earlier evaluation, not this one
        if path.is_file():
            path.unlink()
    rows = _PortfolioRows(summaries=[CustomerSummaryRow(customer.name, customer.tenant_id, None, {}, True,
                                                        NOT_RENDERED, NOT_RENDERED, failure=error)],
                          errors=[(customer.name, customer.tenant_id, _error_row(error))])
    ledger_rows = None
    if ledger_night is not None:
        config, night = ledger_night
        ledger_rows = _ledger_rows(config, customer, night, None, error)
    return _CustomerDone(CustomerOutcome(customer.name, customer.tenant_id.lower(), False, error, None, {},
                                         error=error), rows, None, ledger=ledger_rows)


def _evaluate_customer(config: Config, store: RunStore, customer: Customer, info: RunInfo, rows: _PortfolioRows,
                       runs: list[RunEntry], *, as_of: datetime | None, seal: Seal | None = None,
                       verified: frozenset[str] = frozenset()
                       ) -> tuple[CustomerOutcome, RenderJob | None, CustomerView | None]:
    """Evaluate one customer, add its rows to the portfolio, and say which reports to draw.

    One customer's failure stays with it (DESIGN.md, "Nothing lost"): it is logged with the tenant id,
    the customer gets an all-ERROR report if one can still be built, and the run goes on.
    """
    tenant_id = customer.tenant_id.lower()
    pdf, workbook = _report_paths(store.reports_dir, customer)
    error = ""
    try:
        view = customer_view(config, store, customer, info, runs, as_of=as_of, seal=seal, verified=verified)
        with _stage("portfolio rows"):
            added = _portfolio_rows(config, customer, view, pdf, workbook)
    except StageFailed as failure:
        error = str(failure)
        _log_failure(customer, failure)
        try:
            view = _failed_view(config, store, customer, info, failure, as_of=as_of)
            added = _portfolio_rows(config, customer, view, pdf, workbook, failure=error)
        except Exception as exc:  # not even an all-ERROR report: the outcome and the portfolio say so
            _log_failure(customer, StageFailed("error report", exc))
            lost = _lost(customer, store.reports_dir, error)
            rows.add(lost.rows)
            return lost.outcome, None, None
        added.errors.append((customer.name, customer.tenant_id, _error_row(error)))
    rows.add(added)
    return (CustomerOutcome(customer.name, tenant_id, view.data.manifest.token_ok, view.data.manifest.token_reason,
                            view.score, view.report.status_counts, pdf, workbook, _failing(view.results), error,
                            view.report.unread),
            RenderJob(view.report, pdf, workbook, pdf_options(config)), view)


def _portfolio_rows(config: Config, customer: Customer, view: CustomerView, pdf: Path, workbook: Path, *,
                    failure: str = "") -> _PortfolioRows:
    """What the customer adds to the portfolio, built apart so that a failure adds none of it."""
    report, data = view.report, view.data
    return _PortfolioRows(
        summaries=[summary_row(customer, report, pdf.name, workbook.name,
                               previous_score=view.history[-1][1] if view.history else None, failure=failure)],
        licences=[licence_row(customer, data, config, report.evaluated_at)],
        expiry=list(report.expiry),
        results=[(customer.name, customer.tenant_id, f) for f in report.findings],
        errors=[(customer.name, customer.tenant_id, r) for r in report.resources if r.name in report.unread])


def _error_row(error: str) -> ResourceView:
    """The portfolio's Errors sheet lists what stopped a customer's evaluation beside unreadable resources."""
    return ResourceView("evaluation", "", "failed", error, 0, 0, "")


def _log_failure(customer: Customer, failure: StageFailed) -> None:
    tenant_id = customer.tenant_id.lower()
    log.error("customer %s (tenant %s): %s; the run goes on with the other customers", customer.name, tenant_id,
              failure, extra={"tenant": tenant_id, "customer": customer.name})
    # The traceback is for whoever fixes the defect (-v), not for the night's log.
    log.debug("%s of tenant %s", failure.stage, tenant_id, exc_info=failure.cause)


def pdf_options(config: Config) -> PdfOptions:
    return PdfOptions(evidence_rows=config.output.pdf_evidence_rows, appendix_rows=config.output.pdf_appendix_rows)


def _failing(results: list[CheckResult]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for r in results:
        if r.status in (Status.FAIL, Status.WARN, Status.ERROR):
            key = (r.status.value, SPECS[r.check_id].severity.value)
            counts[key] = counts.get(key, 0) + 1
    return counts


def deliver(config: Config, store: RunStore, outcome: RunOutcome, *, shard: bool = False) -> None:
    """The stable `latest` pointer, the run summary for monitoring, and the metrics file. A shard's
    run writes only its own summary: the night's (latest, last-run.json, metrics) is `merge`'s."""
    manifest = read_json(store.run_manifest_path)
    summary = run_summary(outcome, datetime.fromisoformat(manifest["started_at"]),
                          datetime.fromisoformat(manifest["finished_at"]))
    if config.delivery.enabled:
        deliveries = send_reports(config.delivery, _parcels(config, outcome))
        for delivery in deliveries:
            _log_delivery(delivery, outcome.run_id)
        summary["delivery"] = [d.to_json() for d in deliveries]
    write_summary(store.root / "summary.json", summary)
    if not shard:
        publish(config, store.root, summary)


def run_summary(outcome: RunOutcome, started: datetime, finished: datetime) -> dict[str, object]:
    """summary.json of a run, or of a night merged from its shard runs: one shape for monitoring."""
    findings: dict[tuple[str, str], int] = {}
    for customer in outcome.customers:
        for key, count in customer.failing.items():
            findings[key] = findings.get(key, 0) + count
    return {
        "run_id": outcome.run_id, "run_dir": str(outcome.root), "exit_code": outcome.exit_code,
        "started_at": started.isoformat(), "finished_at": finished.isoformat(),
        "finished_epoch": finished.timestamp(), "duration_seconds": (finished - started).total_seconds(),
        "tenants_ok": len(outcome.customers) - outcome.tenants_in_error, "tenants_error": outcome.tenants_in_error,
        "findings": [{"status": s, "severity": v, "count": c} for (s, v), c in sorted(findings.items())],
        "customers": [{"name": c.name, "tenant_id": c.tenant_id, "reachable": c.reachable, "reason": c.reason,
                       "score": c.score, "error": c.error or None, "in_error": c.in_error, "errors": list(c.errors),
                       "unread": list(c.unread),
                       "pdf": str(c.pdf) if c.pdf else None,
                       "workbook": str(c.workbook) if c.workbook else None} for c in outcome.customers],
        "portfolio": str(outcome.portfolio) if outcome.portfolio else None,
    }


def publish(config: Config, root: Path, summary: dict[str, object]) -> None:
    """What the data directory shows of its last night: last-run.json, `latest`, the metrics file."""
    write_summary(config.output.data_dir / "last-run.json", summary)
    point_latest(config.output.data_dir, root)
    if config.output.metrics_file is not None:
        write_metrics(config.output.metrics_file, summary)


def _parcels(config: Config, outcome: RunOutcome) -> list[Parcel]:
    """One parcel per customer with a PDF, addressed by tenant id: a shared display name mixes nothing."""
    auditors = {c.tenant_id.lower(): tuple(c.auditors) for c in config.customers}
    return [Parcel(c.tenant_id, c.name, auditors.get(c.tenant_id, ()), c.pdf, outcome.run_id, c.unevaluated)
            for c in outcome.customers if c.pdf is not None]


def _log_delivery(d: Delivery, run_id: str) -> None:
    extra = {"tenant": d.tenant_id, "customer": d.customer, "run_id": run_id}
    about = f"report of {d.customer} (tenant {d.tenant_id})"
    to = ", ".join(d.recipients)
    if d.notice:
        level = logging.INFO if d.ok else logging.ERROR
        log.log(level, "operators' notice about the %s %s to %s%s", about, d.decision, to,
                f": {d.reason}" if not d.ok else "", extra=extra)
    elif d.decision is Decision.SENT:
        log.info("%s sent to %s", about, to, extra=extra)
    elif d.decision is Decision.WITHHELD:
        log.warning("%s withheld from %s: %s", about, to, d.reason, extra=extra)
    else:
        log.error("%s %s, not mailed to %s: %s (the report is kept at its path)", about, d.decision, to, d.reason,
                  extra=extra)


def _tenant_summary(o: CustomerOutcome) -> dict[str, object]:
    return {"customer": o.name, "reachable": o.reachable, "reason": o.reason, "score": o.score, "counts": o.counts,
            "unread": list(o.unread), "in_error": o.in_error, **({"error": o.error} if o.error else {})}


def _finish_run_manifest(store: RunStore, evaluation_id: str, tenants: dict[str, dict[str, object]]) -> None:
    manifest = read_json(store.run_manifest_path)
    manifest.pop("tenant_manifests", None)         # the seal holds them now
    manifest.update({"status": "complete", "finished_at": datetime.now(UTC).isoformat(),
                     "evaluation": evaluation_id, "tenants": tenants})
    write_json(store.run_manifest_path, manifest)
