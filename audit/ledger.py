"""The results ledger: a compact, append-only history of every nightly evaluation, kept after
retention has pruned the raw evidence it came from (issue #16, "History that outlives raw evidence").

    <data_dir>/ledger/<YYYY-MM-DD>/<run_id>.<evaluation_id>.results.parquet
    <data_dir>/ledger/<YYYY-MM-DD>/<run_id>.<evaluation_id>.items.parquet

The directory is the night (UTC date of the run's collection). Parquet read with polars: no new
dependency, columnar, and a scan pushes the tenant filter down to the files. Each row names the
seal and evaluation record it came from, so `verify` can hold it against the run while the run
exists. Rows are built from what an evaluation already decided (its results, its normalised tables)
through the checks' own population functions: the ledger never judges anything itself.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from audit.checks import SPECS
from audit.checks._common import external_users, mssp_accounts, mssp_assignments, outlives_policy
from audit.checks.reviews import canonical_instances
from audit.config import Config, Customer
from audit.history import list_runs
from audit.models import CheckResult, Population, Status, TenantManifest
from audit.normalize import TenantData
from audit.normalize.governance import HOLDS_ACCESS
from audit.resources import WATCHED_ROLES
from audit.snapshot.lifecycle import sealed_config
from audit.snapshot.seal import EVALUATION_ID, EvaluationRecord, Seal, SealError, read_seal
from audit.snapshot.store import RunStore, is_run_id, manifest_from_json, read_json

log = logging.getLogger("audit.ledger")

LEDGER = "ledger"
NIGHTLY = "001"                     # a run's own evaluation; later ones are re-evaluations
UTC_US = pl.Datetime("us", "UTC")
PRUNED = "not checkable: run pruned"
ROW_GROUP = 16_384                  # rows: ~36 customers' items, ~400 customers' results

_HEAD = {"night": pl.Date, "run_id": pl.String, "evaluation_id": pl.String, "seal_digest": pl.String}
RESULTS_SCHEMA: dict[str, pl.DataType] = {
    **_HEAD, "evaluation_digest": pl.String, "tool_version": pl.String, "collected_at": UTC_US, "as_of": UTC_US,
    "tenant_id": pl.String, "customer": pl.String, "check_id": pl.String, "check_version": pl.Int32,
    "severity": pl.String, "status": pl.String, "subject": pl.String, "examined": pl.Int64,
    "conforming": pl.Int64, "summary": pl.String, "reason": pl.String,
}
ITEMS_SCHEMA: dict[str, pl.DataType] = {
    **_HEAD, "tenant_id": pl.String, "customer": pl.String, "kind": pl.String, "item_id": pl.String,
    "name": pl.String, "related": pl.String, "state": pl.String, "start": UTC_US, "end": UTC_US,
    "beyond_policy": pl.Boolean, "detail": pl.String, "evidence": pl.String,
}
# The columns an item row carries of its own (the rest say which night, run and customer).
_ITEM_COLUMNS = {k: v for k, v in ITEMS_SCHEMA.items() if k not in (*_HEAD, "tenant_id", "customer")}
KINDS = ("assignment", "review_instance", "mssp_guest", "gdap_relationship")


@dataclass(frozen=True)
class NightInfo:
    """Which evaluation of which sealed run the rows come from."""

    run_id: str
    evaluation_id: str
    seal_digest: str
    evaluation_digest: str
    tool_version: str
    collected_at: datetime
    as_of: datetime

    @property
    def night(self) -> date:
        return self.collected_at.astimezone(UTC).date()


# ---------------------------------------------------------------------------------------------
# One customer's rows


def customer_rows(data: TenantData, results: Sequence[CheckResult], customer: Customer, night: NightInfo, *,
                  config: Config) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One customer's results and items frames, from its tables and its evaluated results.

    `config` decides which assignments and accounts are the MSSP's (package names, analyst domains)
    and the maximum assignment length: the contract's four arguments do not carry it, and a guess
    would put another organisation's accounts into the auditor's population.
    """
    tenant_id = customer.tenant_id.lower()
    results_frame = pl.DataFrame([_result_row(r) for r in results], schema=_RESULT_COLUMNS, orient="row") \
        if results else pl.DataFrame(schema=_RESULT_COLUMNS)
    items = pl.concat([_assignments(data, config, night.as_of), _review_instances(data), _mssp_guests(data, config),
                       _gdap(data)], how="vertical")
    return (_stamped(results_frame, night, tenant_id, customer.name, RESULTS_SCHEMA),
            _stamped(items, night, tenant_id, customer.name, ITEMS_SCHEMA))


_RESULT_COLUMNS = {k: RESULTS_SCHEMA[k] for k in ("check_id", "check_version", "severity", "status", "subject",
                                                   "examined", "conforming", "summary", "reason")}


def _result_row(result: CheckResult) -> tuple[Any, ...]:
    spec = SPECS.get(result.check_id)
    population = result.population
    return (result.check_id, spec.version if spec else None, spec.severity.value if spec else None,
            result.status.value, population.subject if population else None,
            population.examined if population else None, population.conforming if population else None,
            result.summary, result.reason)


def _stamped(frame: pl.DataFrame, night: NightInfo, tenant_id: str, customer: str,
             schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The frame with the night's and the customer's columns, in the schema's order and types."""
    constants = {"night": night.night, "run_id": night.run_id, "evaluation_id": night.evaluation_id,
                 "seal_digest": night.seal_digest, "evaluation_digest": night.evaluation_digest,
                 "tool_version": night.tool_version, "collected_at": night.collected_at, "as_of": night.as_of,
                 "tenant_id": tenant_id, "customer": customer}
    return frame.with_columns(**{k: pl.lit(v, dtype=schema[k]) for k, v in constants.items() if k in schema}
                              ).select([pl.col(k).cast(t) for k, t in schema.items()])


def _items(frame: pl.DataFrame, kind: str, evidence: str, **columns: pl.Expr) -> pl.DataFrame:
    """Item rows of one kind: `columns` maps each item column to an expression over `frame`."""
    exprs = {name: columns.get(name, pl.lit(None)).cast(dtype) for name, dtype in _ITEM_COLUMNS.items()
             if name not in ("kind", "evidence")}
    return frame.select(kind=pl.lit(kind), **exprs, evidence=pl.lit(evidence)).select(list(_ITEM_COLUMNS))


def _json(columns: dict[str, pl.Expr]) -> pl.Expr:
    """A small JSON object per row (polars writes it; no string building)."""
    return pl.struct(**columns).struct.json_encode()


def _empty_items() -> pl.DataFrame:
    return pl.DataFrame(schema=_ITEM_COLUMNS)


def _assignments(data: TenantData, config: Config, as_of: datetime) -> pl.DataFrame:
    """Every MSSP package assignment, held or not, and whether it outlives its policy by EM-007's rule."""
    if "assignments" not in data.tables:
        return _empty_items()
    frame = mssp_assignments(data, config)
    policies = data.tables.get("policies")
    if policies is not None:
        frame = frame.join(policies.select(policy_id="id", policy_name="display_name",
                                           policy_expiration="expiration_type", policy_days="expiration_days",
                                           policy_end="expiration_end"), on="policy_id", how="left")
    else:
        frame = frame.with_columns(policy_name=pl.lit(None, pl.String), policy_expiration=pl.lit(None, pl.String),
                                   policy_days=pl.lit(None, pl.Float64), policy_end=pl.lit(None, UTC_US))
    return _items(
        frame, "assignment", "assignments", item_id=pl.col("id"),
        name=pl.coalesce("target_upn", "target_email", "target_name"), related=pl.col("package_name"),
        state=pl.col("state"), start=pl.col("start"), end=pl.col("end"),
        beyond_policy=pl.col("state").is_in(HOLDS_ACCESS) & outlives_policy(as_of, config),
        detail=_json({"analyst": pl.col("target_name"), "target_id": pl.col("target_id"),
                      "policy_id": pl.col("policy_id"), "policy": pl.col("policy_name"),
                      "policy_expiration": pl.col("policy_expiration"), "policy_days": pl.col("policy_days"),
                      "policy_end": pl.col("policy_end").dt.to_string("%Y-%m-%dT%H:%M:%SZ"),
                      "status": pl.col("status")}))


def _review_instances(data: TenantData) -> pl.DataFrame:
    """Every access-review instance, its status as AR-001 reads it, its decisions counted by outcome."""
    if "review_instances" not in data.tables:
        return _empty_items()
    instances = canonical_instances(data)
    definitions = data.tables.get("review_definitions")
    names = definitions.select(definition_id="id", review="display_name") if definitions is not None else \
        pl.DataFrame(schema={"definition_id": pl.String, "review": pl.String})
    decisions = data.tables.get("review_decisions")
    counts: dict[str, dict[str, int]] = {}
    if decisions is not None:
        for instance, decision, n in decisions.group_by("instance_id", "decision").len().iter_rows():
            counts.setdefault(instance, {})[decision or "none"] = n
    frame = instances.join(names, on="definition_id", how="left").with_columns(
        decisions=pl.Series([json.dumps({"decisions": counts.get(i, {})}, sort_keys=True, ensure_ascii=False)
                             for i in instances["id"]], dtype=pl.String))
    return _items(frame, "review_instance", "review_instances", item_id=pl.col("id"), name=pl.col("review"),
                  related=pl.col("definition_id"), state=pl.col("status"), start=pl.col("start"), end=pl.col("end"),
                  detail=pl.col("decisions"))


def _mssp_guests(data: TenantData, config: Config) -> pl.DataFrame:
    """The MSSP analyst accounts exactly as GA-004/GA-005 find them, with when each was created."""
    if not all(name in data.tables for name in ("guests", "external_members")):
        return _empty_items()
    accounts = mssp_accounts(data, config)
    known = external_users(data).select("id", "external_user_state", "created")
    guest_ids = data.tables["guests"]["id"].to_list()
    frame = accounts.join(known, on="id", how="left")
    return _items(
        frame, "mssp_guest", "guests", item_id=pl.col("id"), name=pl.coalesce("mail", "upn"),
        related=pl.col("home_domain"),
        state=pl.when(pl.col("account_enabled") == False).then(pl.lit("disabled"))  # noqa: E712 - null is not disabled
        .otherwise(pl.col("external_user_state")),
        start=pl.col("created"),
        detail=_json({"display_name": pl.col("display_name"), "kind": pl.col("kind"),
                      "user_type": pl.col("user_type"),
                      "resource": pl.when(pl.col("id").is_in(guest_ids)).then(pl.lit("guests"))
                     .otherwise(pl.lit("external_members"))}))


def _gdap(data: TenantData) -> pl.DataFrame:
    """This customer's GDAP relationships (normalisation keeps only its own) with their roles."""
    if "gdap_relationships" not in data.tables:
        return _empty_items()
    frame = data.tables["gdap_relationships"]
    detail = pl.Series([json.dumps({"role_ids": list(ids or []),
                                    "roles": [WATCHED_ROLES[r] for r in ids or [] if r in WATCHED_ROLES],
                                    "auto_extend_days": extend}, ensure_ascii=False)
                        for ids, extend in zip(frame["role_ids"].to_list(), frame["auto_extend_days"].to_list(), strict=True)],
                       dtype=pl.String)
    return _items(frame.with_columns(detail=detail), "gdap_relationship", "gdap_relationships",
                  item_id=pl.col("id"), name=pl.col("display_name"), related=pl.col("customer_tenant_id"),
                  state=pl.col("status"), end=pl.col("end"), detail=pl.col("detail"))


# ---------------------------------------------------------------------------------------------
# Files


def ledger_dir(data_dir: Path) -> Path:
    return data_dir / LEDGER


def night_paths(data_dir: Path, night: NightInfo) -> tuple[Path, Path]:
    if not is_run_id(night.run_id) or not EVALUATION_ID.fullmatch(night.evaluation_id):
        raise ValueError(f"not a run and evaluation id: {night.run_id[:40]!r} {night.evaluation_id[:10]!r}")
    folder = ledger_dir(data_dir) / night.night.isoformat()
    stem = f"{night.run_id}.{night.evaluation_id}"
    return folder / f"{stem}.results.parquet", folder / f"{stem}.items.parquet"


def write_night(data_dir: Path, night: NightInfo, results: pl.DataFrame, items: pl.DataFrame) -> tuple[Path, Path]:
    """Write one evaluation's pair of files, each atomically; FileExistsError if it is already there
    (the ledger is append-only: an evaluation's rows are written once)."""
    return _write_night(data_dir, night, results, items, replace=False)


def _write_night(data_dir: Path, night: NightInfo, results: pl.DataFrame, items: pl.DataFrame, *,
                 replace: bool) -> tuple[Path, Path]:
    results_path, items_path = night_paths(data_dir, night)
    if not replace and (results_path.exists() or items_path.exists()):
        raise FileExistsError(f"{results_path.parent.name}/{results_path.name}: already in the ledger")
    results_path.parent.mkdir(parents=True, exist_ok=True)
    # Items first: a results file is what marks an evaluation as present in the ledger.
    _write_atomic(_conformed(items, ITEMS_SCHEMA, "items"), items_path)
    _write_atomic(_conformed(results, RESULTS_SCHEMA, "results"), results_path)
    return results_path, items_path


def _conformed(frame: pl.DataFrame, schema: dict[str, pl.DataType], what: str) -> pl.DataFrame:
    if dict(frame.schema) != schema:
        raise ValueError(f"the {what} frame is not the ledger's schema: {dict(frame.schema)}")
    return frame


def _write_atomic(frame: pl.DataFrame, path: Path) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        # Small row groups sorted by tenant: a one-customer read skips the others' by their statistics.
        frame.sort("tenant_id", maintain_order=True).write_parquet(tmp, compression="zstd", statistics=True,
                                                                     row_group_size=ROW_GROUP)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _nights(data_dir: Path, first: date, last: date) -> list[Path]:
    root = ledger_dir(data_dir)
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        night = _night_of(folder.name)
        if night is not None and first <= night <= last and folder.is_dir():
            found.append(folder)
    return found


def _night_of(name: str) -> date | None:
    try:
        return date.fromisoformat(name) if len(name) == 10 else None
    except ValueError:
        return None


def _scan(data_dir: Path, first: date, last: date, tenants: Collection[str] | None, suffix: str,
          schema: dict[str, pl.DataType]) -> pl.LazyFrame:
    files = [str(p) for folder in _nights(data_dir, first, last) for p in sorted(folder.glob(f"*{suffix}"))]
    if not files:
        return pl.LazyFrame(schema=schema)
    scan = pl.scan_parquet(files, schema=schema)
    if tenants is not None:
        scan = scan.filter(pl.col("tenant_id").is_in([t.lower() for t in tenants]))
    return scan


def scan_results(data_dir: Path, first: date, last: date, tenants: Collection[str] | None = None) -> pl.LazyFrame:
    """read_results, lazily: for aggregations over the whole portfolio that need not hold every row."""
    return _scan(data_dir, first, last, tenants, ".results.parquet", RESULTS_SCHEMA)


def scan_items(data_dir: Path, first: date, last: date, tenants: Collection[str] | None = None) -> pl.LazyFrame:
    """read_items, lazily: a year of every customer's items is ~10^8 rows (bench/ledger_bench.py);
    aggregate it (first and last night seen per item) with a streaming collect instead."""
    return _scan(data_dir, first, last, tenants, ".items.parquet", ITEMS_SCHEMA)


def read_results(data_dir: Path, first: date, last: date, tenants: Collection[str] | None = None) -> pl.DataFrame:
    """Every results row of the nights [first, last], of these tenants (all when None)."""
    return scan_results(data_dir, first, last, tenants).collect()


def read_items(data_dir: Path, first: date, last: date, tenants: Collection[str] | None = None) -> pl.DataFrame:
    """Every items row of the nights [first, last], of these tenants (all when None)."""
    return scan_items(data_dir, first, last, tenants).collect()


def nightly(frame: pl.DataFrame) -> pl.DataFrame:
    """A night's result per tenant: the rows of the run collected last that night, and of that run only
    its own evaluation ("001"). Re-evaluations stay in the ledger but are not what the night found.
    Run ids begin with their collection time, so they order runs where a frame has no collected_at."""
    own = frame.filter(pl.col("evaluation_id") == NIGHTLY)
    order = ["collected_at", "run_id"] if "collected_at" in frame.columns else ["run_id"]
    last = own.select("night", "tenant_id", *order).unique().group_by("night", "tenant_id").agg(
        pl.col("run_id").sort_by(order).last())
    return own.join(last, on=["night", "tenant_id", "run_id"], how="semi")


def apply_ledger_retention(data_dir: Path, keep_days: int, now: datetime) -> list[str]:
    """Delete whole nights older than `keep_days` before `now`; returns the nights removed."""
    cutoff = now.astimezone(UTC).date() - timedelta(days=keep_days)
    removed = []
    root = ledger_dir(data_dir)
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        night = _night_of(folder.name)
        if night is not None and night < cutoff and folder.is_dir():
            shutil.rmtree(folder)
            removed.append(folder.name)
    return removed


# ---------------------------------------------------------------------------------------------
# From a stored run


def _record(store: RunStore, evaluation_id: str) -> EvaluationRecord:
    return EvaluationRecord.from_json(read_json(store.evaluations_dir / f"{evaluation_id}.json"))


def _night_config(seal: Seal, config: Config) -> Config:
    """The configuration the night ran with (sealed): which accounts were the MSSP's that night. A
    seal whose configuration no longer validates (an older tool's) falls back to today's."""
    try:
        return sealed_config(seal)
    except ValueError:
        return config


def rows_for_evaluation(store: RunStore, config: Config, evaluation_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One evaluation's rows from what it wrote (results.json, normalised tables) and its run's
    seal and record: nothing is collected or evaluated again."""
    seal = read_seal(store)
    if seal is None:
        raise SealError(f"run {store.run_id} is not sealed")
    record = _record(store, evaluation_id)
    out = store.writing_to(store.root / record.outputs)
    night = NightInfo(store.run_id, evaluation_id, seal.digest, record.digest, record.tool_version,
                      seal.collected_at, record.as_of)
    sealed = _night_config(seal, config)
    named = {c.tenant_id.lower(): c for c in sealed.customers}
    frames = []
    for tenant_id in sorted(record.tenants):
        customer = named.get(tenant_id) or Customer(name=seal.customers.get(tenant_id, tenant_id), tenant_id=tenant_id)
        frames.append(customer_rows(_stored_tenant(store, out, tenant_id), _stored_results(out, tenant_id),
                                    customer, night, config=sealed))
    if not frames:
        return pl.DataFrame(schema=RESULTS_SCHEMA), pl.DataFrame(schema=ITEMS_SCHEMA)
    return (pl.concat([r for r, _ in frames], how="vertical"), pl.concat([i for _, i in frames], how="vertical"))


def _stored_results(out: RunStore, tenant_id: str) -> list[CheckResult]:
    path = out.results_path(tenant_id)
    if not path.is_file():
        return []
    return [CheckResult(r["check_id"], Status(r["status"]), r["summary"], (), r.get("reason") or "",
                        _population(r.get("population"))) for r in read_json(path)["results"]]


def _population(value: dict[str, Any] | None) -> Population | None:
    if not value:
        return None
    return Population(value["subject"], value["examined"], value.get("conforming"), value.get("predicate") or "")


def _stored_tenant(store: RunStore, out: RunStore, tenant_id: str) -> TenantData:
    """The tenant's tables as the evaluation normalised them, with its sealed manifest."""
    manifest_path = store.manifest_path(tenant_id)
    manifest = manifest_from_json(read_json(manifest_path)) if manifest_path.is_file() else None
    if manifest is None:
        manifest = TenantManifest(tenant_id, "", datetime.fromtimestamp(0, UTC), False, "no evidence")
    normalized = out.output_dir(tenant_id) / "normalized"
    tables = {p.stem: pl.read_parquet(p) for p in sorted(normalized.glob("*.parquet"))} if normalized.is_dir() else {}
    return TenantData(manifest, tables, {})


def rebuild(config: Config, data_dir: Path, *, force: bool = False) -> int:
    """Rebuild the ledger from every complete run still on disk (its nightly evaluation); an
    evaluation already in the ledger is left alone unless `force`. Returns the results rows written."""
    written = 0
    for entry in list_runs(data_dir):
        store = RunStore(data_dir, entry.run_id)
        if entry.status != "complete" or not (store.evaluations_dir / f"{NIGHTLY}.json").is_file():
            continue
        seal = read_seal(store)
        if seal is None:
            continue
        record = _record(store, NIGHTLY)
        night = NightInfo(entry.run_id, NIGHTLY, seal.digest, record.digest, record.tool_version,
                          seal.collected_at, record.as_of)
        if night_paths(data_dir, night)[0].exists() and not force:
            continue
        results, items = rows_for_evaluation(store, config, NIGHTLY)
        _write_night(data_dir, night, results, items, replace=force)
        written += results.height
        log.info("ledger: night %s, run %s: %d results, %d items", night.night, entry.run_id, results.height,
                 items.height)
    return written


# ---------------------------------------------------------------------------------------------
# Verification


def verify_ledger(data_dir: Path) -> list[str]:
    """Every ledger file whose run still exists, held against that run: the seal digest, the
    evaluation record's digest, and each row's status against the evaluation's results.json.
    One problem per mismatch; files whose run was pruned are logged as not checkable."""
    problems, pruned = check_ledger(data_dir)
    for name in pruned:
        log.info("%s: %s", name, PRUNED)
    return problems


def check_ledger(data_dir: Path, run_ids: Collection[str] | None = None) -> tuple[list[str], list[str]]:
    """(problems, files whose run is gone) of verify_ledger, limited to the files of `run_ids` when
    given (`verify --run`)."""
    problems: list[str] = []
    pruned: list[str] = []
    root = ledger_dir(data_dir)
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        if _night_of(folder.name) is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.parquet")):
            run_id, _, rest = path.name.partition(".")
            evaluation_id = rest.split(".", 1)[0]
            if run_ids is not None and run_id not in run_ids:
                continue
            if is_run_id(run_id) and not RunStore(data_dir, run_id).root.is_dir():
                pruned.append(f"{LEDGER}/{folder.name}/{path.name}")
                continue
            problems += _check_file(data_dir, path, run_id, evaluation_id)
    return problems, pruned


def _check_file(data_dir: Path, path: Path, run_id: str, evaluation_id: str) -> list[str]:
    rel = f"{LEDGER}/{path.parent.name}/{path.name}"
    if not is_run_id(run_id) or not EVALUATION_ID.fullmatch(evaluation_id):
        return [f"{rel}: not named <run_id>.<evaluation_id>"]
    store = RunStore(data_dir, run_id)
    try:
        frame = pl.read_parquet(path)
    except Exception as error:      # noqa: BLE001 - whatever the file holds, it is a finding, not a crash
        return [f"{rel}: unreadable: {type(error).__name__}"]
    try:
        seal = read_seal(store)
        record = _record(store, evaluation_id)
    except (SealError, OSError, ValueError) as error:
        return [f"{rel}: run {run_id} has no readable seal or evaluation {evaluation_id}: {error}"[:400]]
    if seal is None:
        return [f"{rel}: run {run_id} is not sealed"]
    problems = [f"{rel}: tenant {t}: seal_digest {str(d)[:16]}… is not run {run_id}'s seal"
                for t, d in frame.select("tenant_id", "seal_digest").unique().sort("tenant_id").iter_rows()
                if d != seal.digest]
    if "evaluation_digest" in frame.columns:
        problems += [f"{rel}: tenant {t}: evaluation_digest {str(d)[:16]}… is not evaluation {evaluation_id}'s"
                     for t, d in frame.select("tenant_id", "evaluation_digest").unique().sort("tenant_id").iter_rows()
                     if d != record.digest]
    if "status" in frame.columns:
        problems += _check_statuses(rel, frame, store.writing_to(store.root / record.outputs))
    return problems


def _check_statuses(rel: str, frame: pl.DataFrame, out: RunStore) -> list[str]:
    problems = []
    for (tenant_id,), rows in frame.group_by("tenant_id", maintain_order=True):
        path = out.results_path(str(tenant_id))
        try:
            stored = {r["check_id"]: r["status"] for r in read_json(path)["results"]}
        except (OSError, ValueError, KeyError, TypeError) as error:
            problems.append(f"{rel}: tenant {tenant_id}: its results.json is unreadable ({type(error).__name__})")
            continue
        for check_id, status in rows.select("check_id", "status").iter_rows():
            if stored.get(check_id) != status:
                problems.append(f"{rel}: tenant {tenant_id}, check {check_id}: status {status} in the ledger, "
                                f"{stored.get(check_id) or 'none'} in the run's results.json")
    return problems
