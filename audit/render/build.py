"""Build the view-models from results and tables; nothing after this reads a table or a manifest."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from audit import expiry
from audit.checks._common import ROLE_NAMES, mssp_guests, mssp_package_names
from audit.checks._framework import ABSENT_OK
from audit.checks.reviews import DONE as REVIEW_DONE
from audit.config import Config, Customer
from audit.history import Drift
from audit.models import CheckResult, CheckSpec, ResourceRecord, ResourceStatus, Severity, Status, is_collection_error
from audit.normalize import TenantData
from audit.normalize.governance import HOLDS_ACCESS
from audit.normalize.licences import Level, licence_state
from audit.render.viewmodel import (STATUS_ORDER, Cell, CustomerReport, CustomerSummaryRow, ExpiryRow, FindingView,
                                    LicenceRow, ResourceView, Table)
from audit.resources import RESOURCES_BY_NAME
from audit.responses import Response, Responses, is_open, responses_for


HISTORY_POINTS = 30                           # runs shown in the score trend, this one included


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    generated_at: datetime
    tool_version: str
    evaluation: str = ""             # the evaluation record the reports come from (evaluations/<id>.json)
    seal_digest: str = ""            # the seal that evaluation evaluated


def evidence_table(rows: Sequence[Mapping[str, Any]], limit: int | None = None) -> Table:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    shown = rows if limit is None else rows[:limit]
    return Table("Evidence", tuple(columns), tuple(tuple(_cell(r.get(c)) for c in columns) for r in shown),
                 total=len(rows))


def _cell(value: Any) -> Cell:
    if value is None or isinstance(value, (str, int, float, bool, datetime)):
        return value
    return str(value)


def finding_views(results: Iterable[CheckResult], specs: Mapping[str, CheckSpec],
                  limit: int | None = None, *, responses: Responses = Responses.EMPTY, tenant_id: str = "",
                  on: date | None = None) -> tuple[FindingView, ...]:
    """`responses` of the customer `tenant_id` go beside their findings; one is overdue when `on` (the
    evaluation date) is past its target date while the finding is open."""
    order = {c: i for i, c in enumerate(specs)}
    views = [_with_response(FindingView(
        check_id=r.check_id, versioned_id=specs[r.check_id].versioned_id, title=specs[r.check_id].title,
        area=specs[r.check_id].area, severity=specs[r.check_id].severity.value, status=r.status.value,
        summary=r.summary, requirement=specs[r.check_id].requirement, rationale=specs[r.check_id].rationale,
        remediation=specs[r.check_id].remediation, references=specs[r.check_id].references,
        frameworks=specs[r.check_id].frameworks, reason=r.reason, evidence=evidence_table(r.evidence, limit),
        population=r.population,
    ), responses.get(tenant_id, r.check_id), on) for r in results]
    return tuple(sorted(views, key=lambda v: (STATUS_ORDER.index(Status(v.status)), Severity(v.severity).rank,
                                              order[v.check_id])))


def _with_response(view: FindingView, response: Response | None, on: date | None) -> FindingView:
    if response is None:
        return view
    overdue = on is not None and response.overdue(on, is_open(view.status))
    return dataclasses.replace(view, response=response, overdue=overdue)


def _table(data: TenantData, title: str, resource: str, frame: pl.DataFrame, columns: Mapping[str, str],
           limit: int | None) -> Table:
    picked = frame.select(list(columns))
    rows = tuple(tuple(_cell(v) for v in row) for row in picked.head(limit).iter_rows()) if limit else \
        tuple(tuple(_cell(v) for v in row) for row in picked.iter_rows())
    return Table(title, tuple(columns.values()), rows, source=evidence_source(data, resource), total=frame.height)


def evidence_source(data: TenantData, resource: str) -> str:
    """The request a table's evidence came from, as the manifest recorded it: the reduced request
    when Graph refused the fuller one, never the one it refused."""
    spec = RESOURCES_BY_NAME[resource]
    line = spec.request_line(data.record(resource).endpoint)
    return f"{line} (partner tenant)" if spec.partner else line


def appendix(data: TenantData, limit: int | None = None) -> tuple[Table, ...]:
    t = data.tables
    out = []
    if "guests" in t:
        out.append(_table(data, "Guest inventory", "guests", t["guests"].sort("display_name", nulls_last=True), {
            "display_name": "Name", "upn": "User principal name", "kind": "Kind", "external_user_state": "Invitation",
            "account_enabled": "Enabled", "created": "Created", "last_successful": "Last successful sign-in"}, limit))
    if "external_members" in t:
        out.append(_table(data, "Member-type B2B accounts", "external_members",
                          t["external_members"].sort("display_name", nulls_last=True), {
                              "display_name": "Name", "upn": "User principal name", "kind": "Kind",
                              "account_enabled": "Enabled", "created": "Created",
                              "last_successful": "Last successful sign-in"}, limit))
    if "policies" in t:
        out.append(_table(data, "Access packages and assignment policies", "access_packages", t["policies"], {
            "package_name": "Package", "display_name": "Policy", "allowed_target_scope": "Who can request",
            "approval_required": "Approval", "expiration_type": "Expiry", "expiration_days": "Days",
            "reviews_enabled": "Reviews"}, limit))
    if "assignments" in t:
        out.append(_table(data, "Access package assignments", "assignments",
                          t["assignments"].sort("end", nulls_last=True), {
            "target_name": "Holder", "target_upn": "Account", "package_name": "Package", "state": "State",
            "end": "Ends"}, limit))
    if "review_instances" in t:
        instances = t["review_instances"].sort("end")
        if "review_definitions" in t:
            names = t["review_definitions"].select(definition_id="id", review="display_name")
            instances = instances.join(names, on="definition_id", how="left")
        else:
            instances = instances.with_columns(review=pl.col("definition_id"))
        out.append(_table(data, "Access review instances", "review_instances", instances, {
            "review": "Review", "start": "Start", "end": "End", "status": "Status"}, limit))
    if "review_decisions" in t:
        out.append(_table(data, "Access review decisions", "review_decisions", t["review_decisions"], {
            "principal_name": "Principal", "decision": "Decision", "reviewed": "Reviewed",
            "apply_result": "Applied"}, limit))
    if "role_assignments" in t:
        privileged = t["role_assignments"].filter(pl.col("role_definition_id").is_in(list(ROLE_NAMES))).with_columns(
            role=pl.col("role_definition_id").replace_strict(ROLE_NAMES, default=pl.col("role_definition_id")))
        out.append(_table(data, "Privileged directory role assignments", "role_assignments", privileged, {
            "role": "Role", "principal_name": "Principal", "principal_upn": "Account", "principal_type": "Type",
            "principal_user_type": "User type", "principal_kind": "Kind"}, limit))
        if "role_group_members" in t:
            groups = privileged.filter(pl.col("principal_type") == "group").group_by("principal_id").agg(
                group=pl.col("principal_name").first(), roles=pl.col("role").unique().sort().str.join(", "))
            members = t["role_group_members"].join(groups, left_on="group_id", right_on="principal_id", how="inner")
            out.append(_table(data, "Members of groups holding a privileged role", "role_group_members",
                              members.sort("group", "display_name", nulls_last=True), {
                                  "group": "Group", "roles": "Roles", "display_name": "Member", "upn": "Account",
                                  "user_type": "User type", "kind": "Kind"}, limit))
    if "gdap_relationships" in t:
        out.append(_table(data, "GDAP relationships", "gdap_relationships", t["gdap_relationships"], {
            "display_name": "Relationship", "status": "Status", "end": "Ends", "auto_extend_days": "Auto-extend days"},
            limit))
    return tuple(out)


def resource_views(data: TenantData) -> tuple[ResourceView, ...]:
    # data.record: a resource collected but unreadable shows as failed, with the property it could not read.
    records = {name: (data.record(name), False) for name in data.manifest.resources}
    if data.partner is not None:
        records.update({name: (data.record(name), True) for name in data.partner.resources})
    return tuple(_resource_view(r, partner) for r, partner in sorted(records.values(), key=lambda pair: pair[0].name))


def _resource_view(record: ResourceRecord, partner: bool) -> ResourceView:
    spec = RESOURCES_BY_NAME.get(record.name)
    request = spec.request_line if spec is not None else (lambda endpoint: endpoint)   # an older catalogue's
    refused_reason = record.refused_reason
    if record.refused_endpoint and spec is not None and spec.reduced is not None:
        refused_reason += f"; re-read without {spec.reduced.leaves_out}"
    return ResourceView(record.name, request(record.endpoint), record.status.value, record.reason, record.items,
                        record.requests, record.sha256, partner,
                        refused_endpoint=request(record.refused_endpoint) if record.refused_endpoint else "",
                        refused_reason=refused_reason)


def customer_report(customer: Customer, data: TenantData, results: Sequence[CheckResult],
                    specs: Mapping[str, CheckSpec], score: float | None, manifest_sha256: str, run: RunInfo, *,
                    drift: Drift | None = None, evaluated_at: datetime | None = None,
                    config: Config | None = None, attachments: Sequence[tuple[str, bytes]] = (),
                    history: Sequence[tuple[str, float | None]] = (),
                    responses: Responses | None = None) -> CustomerReport:
    """The view-model of one customer's report, with every row: the workbook shows them all and the
    PDF bounds its own tables (audit.render.pdf.PdfOptions).

    `evaluated_at` is the instant the results were evaluated at (`--as-of`); by default the
    collection time, as for the checks. Every days-left figure is counted from it. `config` names
    the MSSP access packages whose assignments are counted by time left (no expiry figures without
    it). `attachments` are (file name, exact bytes) embedded in the PDF. `history` is the earlier
    runs' (date label, score), oldest first; this run is appended to it. `responses`: the management
    responses shown beside the findings; by default those of `config` (audit.responses.responses_for).
    """
    now = evaluated_at or data.manifest.collected_at
    if responses is None:
        responses = responses_for(config) if config is not None else Responses.EMPTY
    resources = resource_views(data)
    counts = {s.value: 0 for s in Status}
    failing = {s.value: 0 for s in Severity}
    for r in results:
        counts[r.status.value] += 1
        if r.status in (Status.FAIL, Status.WARN):
            failing[specs[r.check_id].severity.value] += 1
    return CustomerReport(
        customer=customer.name, tenant_id=customer.tenant_id, run_id=run.run_id,
        evaluation=run.evaluation, seal_digest=run.seal_digest,
        collected_at=data.manifest.collected_at, evaluated_at=now, generated_at=run.generated_at,
        tool_version=run.tool_version,
        score=score, status_counts=counts, failed_by_severity=failing,
        findings=finding_views(results, specs, responses=responses, tenant_id=customer.tenant_id,
                               on=_utc_date(now)),
        appendix=appendix(data),
        resources=resources, granted_permissions=data.manifest.granted_roles,
        token_ok=data.manifest.token_ok, token_reason=data.manifest.token_reason, manifest_sha256=manifest_sha256,
        previous_run=drift.previous_run if drift else None, changes=changes_table(drift),
        attachments=tuple((name, bytes(content)) for name, content in attachments),
        expiry_buckets=expiry_buckets(data, mssp_package_names(config), now) if config is not None else (),
        score_history=score_history(history, data.manifest.collected_at, score),
        expiry=tuple(expiry_rows(customer, data, config, now)) if config is not None else (),
        requests_between=requests_between(data),
        unread=tuple(r.name for r in unread_resources(resources)))


def _utc_date(moment: datetime) -> date:
    """The evaluation's date: a target date is passed once that UTC day is after it."""
    return (moment.astimezone(UTC) if moment.tzinfo is not None else moment).date()


def requests_between(data: TenantData) -> tuple[datetime, datetime] | None:
    """When the first of the tenant's own requests started and the last one finished (its manifest)."""
    starts = [r.started_at for r in data.manifest.resources.values() if r.started_at]
    ends = [r.finished_at for r in data.manifest.resources.values() if r.finished_at]
    if not starts or not ends:
        return None
    return datetime.fromisoformat(min(starts)), datetime.fromisoformat(max(ends))


def expiry_buckets(data: TenantData, packages: Collection[str], now: datetime) -> tuple[tuple[str, int], ...]:
    """Delivered assignments of `packages` by time left at `now` (audit.expiry), soonest first; () when
    not collected.

    A delivered assignment whose end has passed counts as expired: Graph removes it some time later.
    """
    if "assignments" not in data.tables:
        return ()
    counts = dict.fromkeys(expiry.BUCKETS, 0)
    delivered = data.tables["assignments"].filter(
        pl.col("state").is_in(HOLDS_ACCESS) & pl.col("package_name").is_in(list(packages)))
    for end in delivered["end"]:
        counts[expiry.bucket(end, now)] += 1
    return tuple(counts.items())


def score_history(earlier: Sequence[tuple[str, float | None]], collected_at: datetime,
                  score: float | None) -> tuple[tuple[str, float | None], ...]:
    return (*earlier, (collected_at.strftime("%Y-%m-%d"), score))[-HISTORY_POINTS:]


def changes_table(drift: Drift | None) -> Table | None:
    if drift is None or drift.previous_run is None:
        return None
    rows = tuple((c.kind, c.subject, c.detail) for c in drift.changes)
    return Table("Changes since the previous run", ("Change", "Subject", "Detail"), rows,
                 source=f"run {drift.previous_run} compared with this run", total=len(rows))


def licence_row(customer: Customer, data: TenantData, config: Config, now: datetime | None = None) -> LicenceRow:
    """`now`: the customer's evaluation instant (default: the collection time), the same the checks' sign-in
    windows count from."""
    now = now or data.manifest.collected_at
    counted = mssp_guests(data, config).height if "guests" in data.tables else 0
    # audit.normalize.licences counts, as LIC-001 does; blank when unread or not understood (LIC-001 is ERROR).
    units = licence_state(data).units(Level.P2)
    known = units if units is not None and units.exact else None
    active = None
    if "guests" in data.tables and data.record("guest_sign_ins").status is ResourceStatus.OK:
        since = now - timedelta(days=30)
        active = data.tables["guests"].filter(pl.col("last_successful") >= since).height
    current = customer.current_analysts if customer.current_analysts is not None else counted
    owned, expiring, not_owned = (None, None, None) if known is None else (known.owned, known.expiring,
                                                                          known.not_owned)
    return LicenceRow(customer.name, customer.tenant_id, current, customer.projected_growth, owned, expiring,
                      not_owned, active)


EXPIRY_ASSIGNMENT = "Access package assignment"
EXPIRY_GDAP = "GDAP relationship"
EXPIRY_REVIEW = "Access review due"


def expiry_rows(customer: Customer, data: TenantData, config: Config, now: datetime | None = None) -> list[ExpiryRow]:
    """What ends, with days left from `now` (the customer's evaluation instant; default: the collection
    time), in the workbooks' Expiry sheets."""
    now = now or data.manifest.collected_at
    found: list[tuple[str, str, str, datetime | None, str]] = []
    t = data.tables
    if "assignments" in t:
        for r in t["assignments"].filter(pl.col("package_name").is_in(mssp_package_names(config))).iter_rows(named=True):
            found.append((EXPIRY_ASSIGNMENT, r["target_upn"] or r["target_name"] or "", r["package_name"] or "",
                          r["end"], r["state"] or ""))
    if "gdap_relationships" in t:
        for r in t["gdap_relationships"].iter_rows(named=True):
            found.append((EXPIRY_GDAP, r["display_name"] or "", f"{len(r['role_ids'])} role(s)", r["end"],
                          r["status"] or ""))
    if "review_instances" in t and "review_definitions" in t:
        names = dict(t["review_definitions"].select("id", "display_name").iter_rows())
        open_ = t["review_instances"].filter(~pl.col("status").is_in(REVIEW_DONE))
        for r in open_.iter_rows(named=True):
            found.append((EXPIRY_REVIEW, names.get(r["definition_id"], "") or "", r["id"] or "", r["end"],
                          r["status"] or ""))
    return [ExpiryRow(customer.name, customer.tenant_id, kind, subject, item, end, state, now,
                      expiry.days_left(end, now), expiry.bucket(end, now))
            for kind, subject, item, end, state in found]


def unread_resources(resources: Iterable[ResourceView]) -> tuple[ResourceView, ...]:
    """The resources whose evidence should have been read and was not (audit.models.is_collection_error):
    a licence the tenant lacks or a 404 that is Graph's answer is not among them."""
    return tuple(r for r in resources if is_collection_error(r.status, absent_ok=r.name in ABSENT_OK))


def summary_row(customer: Customer, report: CustomerReport, pdf: str, workbook: str,
                previous_score: float | None = None, failure: str = "") -> CustomerSummaryRow:
    return CustomerSummaryRow(customer.name, customer.tenant_id, report.score, report.status_counts,
                              report.token_ok, pdf, workbook, previous_score,
                              unread=report.unread, failure=failure,
                              evaluated_at=report.evaluated_at, collected_at=report.collected_at,
                              reason=report.token_reason)
