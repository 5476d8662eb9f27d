"""Run history: listing, retention, and drift between two runs of the same customer.

Drift is computed from what each run left on disk (manifest, normalized tables, results.json), so
it needs no re-collection and compares like with like. Every row it reports is true:
- values are compared as the report prints them (an end date to the day), so a timestamp that
  moved by minutes is no change;
- what one of the two runs did not see (the tenant not reached, a resource not collected or not
  readable) is "not observed", never "nothing changed", and yields no added/removed rows;
- each transition of a check's status has its own name (`finding_change`): an accepted risk is
  not "resolved", and a result that could not be evaluated is said, not dropped.
"""

from __future__ import annotations

import shutil
from functools import partial
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from audit.models import ResourceStatus, TenantManifest
from audit.normalize.governance import HOLDS_ACCESS
from audit.resources import ABSENT_OK, TABLE_SOURCES
from audit.snapshot.store import manifest_from_json, read_json

FAILING = ("FAIL", "WARN")
# The settings whose change an auditor wants to hear about, per singleton resource; an object
# (inboundTrust) is compared property by property.
WATCHED_SETTINGS = {
    "authorization_policy": ("allowInvitesFrom", "guestUserRoleId", "allowedToSignUpEmailBasedSubscriptions",
                             "allowEmailVerifiedUsersToJoinOrganization"),
    "em_settings": ("externalUserLifecycleAction", "durationUntilExternalUserDeletedAfterBlocked"),
    "cross_tenant_partner": ("inboundTrust",),
    "identity_sync": ("userSyncInbound",),
}

# The kinds of change, as results.json, the PDF, the workbook and `runs diff` name them.
NOT_OBSERVED = "not observed"
GUEST_ADDED, GUEST_REMOVED = "guest added", "guest removed"
ASSIGNMENT_GRANTED, ASSIGNMENT_REMOVED = "assignment granted", "assignment removed"
ASSIGNMENT_EXTENDED, ASSIGNMENT_SHORTENED = "assignment extended", "assignment shortened"
ASSIGNMENT_EXPIRED, ASSIGNMENT_STATE = "assignment expired", "assignment state changed"
SETTING_CHANGED = "setting changed"
FINDING_NEW, FINDING_STILL_OPEN, FINDING_RESOLVED = "finding new", "finding still open", "finding resolved"
ACCEPTED_RISK, ACCEPTANCE_ENDED = "accepted risk", "acceptance ended"
ATTESTED, ATTESTATION_LAPSED, NEEDS_ATTESTATION = "attested", "attestation lapsed", "needs attestation"
NOT_EVALUATED, EVALUATED_AGAIN = "could not be evaluated", "evaluated again"
NO_LONGER_APPLICABLE, NOW_APPLICABLE, NOW_EVALUATED = "no longer applicable", "now applicable", "now evaluated"
FIRST_EVALUATED, NO_LONGER_EVALUATED = "first evaluated", "no longer evaluated"


@dataclass(frozen=True)
class RunEntry:
    run_id: str
    status: str
    collected_at: datetime
    root: Path
    tenants: tuple[str, ...]


@dataclass(frozen=True)
class Change:
    kind: str        # one of the kinds above: "guest added", "not observed", "accepted risk", …
    subject: str     # who or what
    detail: str      # e.g. "2026-12-01 → 2027-06-01", "everyone → adminsAndGuestInviters"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "detail": self.detail}


@dataclass(frozen=True)
class Drift:
    previous_run: str | None
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def to_json(self) -> dict[str, Any]:
        return {"previous_run": self.previous_run, "changes": [c.to_json() for c in self.changes]}


def list_runs(data_dir: Path) -> list[RunEntry]:
    runs = []
    for manifest in sorted((data_dir / "runs").glob("*/run.json")):
        try:
            data = read_json(manifest)
            runs.append(RunEntry(data["run_id"], data.get("status", "?"),
                                 datetime.fromisoformat(data["collected_at"]), manifest.parent,
                                 tuple(sorted((data.get("tenants") or {}).keys()))))
        except (ValueError, KeyError):
            continue
    return sorted(runs, key=lambda r: (r.collected_at, r.run_id))


def previous_run(runs: list[RunEntry], run_id: str, tenant_id: str) -> RunEntry | None:
    """The latest complete run before `run_id` that evaluated this tenant (`runs` from list_runs)."""
    current = next((r for r in runs if r.run_id == run_id), None)
    earlier = [r for r in runs if r.run_id != run_id and r.status == "complete" and tenant_id in r.tenants
               and (current is None or r.collected_at < current.collected_at)]
    return earlier[-1] if earlier else None


def score_history(runs: list[RunEntry], run_id: str, tenant_id: str, *,
                  limit: int = 30) -> list[tuple[str, float | None]]:
    """(collection date, score) of this tenant in earlier complete runs, oldest first."""
    current = next((r for r in runs if r.run_id == run_id), None)
    points = []
    for entry in runs:
        if entry.run_id == run_id or entry.status != "complete" or (
                current is not None and entry.collected_at >= current.collected_at):
            continue
        path = entry.root / "tenants" / tenant_id / "results.json"
        if path.exists():
            points.append((entry.collected_at.strftime("%Y-%m-%d"), read_json(path).get("score")))
    return points[-limit:]


def apply_retention(data_dir: Path, *, keep_runs: int, keep_days: int, now: datetime | None = None) -> list[str]:
    """Delete runs beyond the newest `keep_runs` and older than `keep_days`; never the newest."""
    now = now or datetime.now(UTC)
    runs = list_runs(data_dir)
    removed = []
    for index, entry in enumerate(reversed(runs)):
        too_many = index >= keep_runs
        too_old = now - entry.collected_at > timedelta(days=keep_days)
        if index > 0 and (too_many or too_old):
            shutil.rmtree(entry.root)
            removed.append(entry.run_id)
    return removed


@dataclass(frozen=True)
class _Observed:
    """What one run left on disk about one tenant, and what it could not see."""

    run_id: str
    tenant_dir: Path
    manifest: TenantManifest | None
    singletons: Mapping[str, Any]
    results: dict[str, str] | None       # check id → status; None: the run has no results for it

    @classmethod
    def read(cls, root: Path, tenant_id: str, run_id: str) -> _Observed:
        tenant_dir = root / "tenants" / tenant_id
        manifest_path, singletons = tenant_dir / "manifest.json", tenant_dir / "normalized" / "singletons.json"
        results_path = tenant_dir / "results.json"
        return cls(run_id, tenant_dir,
                   manifest_from_json(read_json(manifest_path)) if manifest_path.exists() else None,
                   read_json(singletons) if singletons.exists() else {},
                   {r["check_id"]: r["status"] for r in read_json(results_path)["results"]}
                   if results_path.exists() else None)

    def unreached(self) -> str | None:
        """Why the tenant itself was not observed in this run, or None when it was."""
        if self.manifest is None:
            return f"run {self.run_id} holds no evidence of this tenant"
        if not self.manifest.token_ok:
            return f"not reached in run {self.run_id}: {self.manifest.token_reason}"
        return None

    def unseen(self, resource: str) -> str | None:
        """Why `resource` was not observed in this run, or None when its evidence is there."""
        assert self.manifest is not None
        record = self.manifest.resources.get(resource)
        if record is None:
            return f"not collected in run {self.run_id}"
        if record.status is ResourceStatus.NOT_FOUND and resource in ABSENT_OK:
            return None                  # Graph's answer "none configured" is an observation
        if record.status is not ResourceStatus.OK:
            return f"{record.status.value} in run {self.run_id}: {record.reason}".rstrip(": ")
        return None

    def table(self, name: str) -> tuple[pl.DataFrame | None, str | None]:
        """The table, or None and why it was not observed."""
        why = self.unseen(TABLE_SOURCES[name])
        path = self.tenant_dir / "normalized" / f"{name}.parquet"
        if why is None and not path.exists():
            why = f"collected in run {self.run_id} but not readable"
        return (pl.read_parquet(path), None) if why is None else (None, why)

    def singleton(self, name: str) -> tuple[Mapping[str, Any] | None, str | None]:
        """The singleton ({} when Graph answered "none configured"), or None and why it was not observed."""
        why = self.unseen(name)
        if why is None and name not in self.singletons:
            why = f"collected in run {self.run_id} but not readable"
        return (self.singletons[name] or {}, None) if why is None else (None, why)


def compute_drift(previous: Path, current: Path, tenant_id: str, previous_id: str | None = None) -> Drift:
    before = _Observed.read(previous, tenant_id, previous_id or previous.name)
    after = _Observed.read(current, tenant_id, current.name)
    changes: list[Change] = []
    unreached = [why for run in (before, after) if (why := run.unreached())]
    if unreached:
        # Nothing of the tenant can be compared: not "nothing changed".
        changes += [Change(NOT_OBSERVED, "tenant", why) for why in unreached]
    else:
        changes += _compared_tables(before, after, "guests", _guest_changes)
        assert after.manifest is not None
        changes += _compared_tables(before, after, "assignments",
                                    partial(_assignment_changes, collected_at=after.manifest.collected_at))
        changes += _setting_changes(before, after)
    changes += _finding_changes(before, after)
    return Drift(before.run_id, tuple(changes))


def _compared_tables(before: _Observed, after: _Observed, name: str,
                     compare: Callable[[pl.DataFrame, pl.DataFrame], list[Change]]) -> list[Change]:
    (old, old_why), (new, new_why) = before.table(name), after.table(name)
    if old is None or new is None:       # one side has no evidence: no claim of change either way
        return [Change(NOT_OBSERVED, name, why) for why in (old_why, new_why) if why]
    return compare(old, new)


def _day(value: datetime | None) -> str:
    """An end date as the report prints it; values are compared at this precision too."""
    return value.strftime("%Y-%m-%d") if value else "no end"


def _guest_changes(before: pl.DataFrame, after: pl.DataFrame) -> list[Change]:
    old = {r["id"]: r for r in before.iter_rows(named=True)}
    new = {r["id"]: r for r in after.iter_rows(named=True)}
    label = lambda r: r["upn"] or r["display_name"] or r["id"]  # noqa: E731
    return ([Change(GUEST_ADDED, label(new[i]), "") for i in sorted(new.keys() - old.keys())]
            + [Change(GUEST_REMOVED, label(old[i]), "") for i in sorted(old.keys() - new.keys())])


def _assignment_changes(before: pl.DataFrame, after: pl.DataFrame, *, collected_at: datetime) -> list[Change]:
    old = {r["id"]: r for r in before.iter_rows(named=True)}
    new = {r["id"]: r for r in after.iter_rows(named=True)}
    label = lambda r: f"{r['target_upn'] or r['target_name'] or r['id']} · {r['package_name']}"  # noqa: E731
    changes = [Change(ASSIGNMENT_GRANTED, label(new[i]), f"ends {_day(new[i]['end'])}")
               for i in sorted(new.keys() - old.keys()) if new[i]["state"] in HOLDS_ACCESS]
    changes += [Change(ASSIGNMENT_REMOVED, label(old[i]), f"was {old[i]['state']}")
                for i in sorted(old.keys() - new.keys())]
    for i in sorted(old.keys() & new.keys()):
        was, now = old[i], new[i]
        was_end, now_end = _day(was["end"]), _day(now["end"])
        if was["state"] != now["state"]:
            if was["state"] == "delivered" and now["state"] == "expired":
                # Graph may end an assignment before its scheduled end (removed, policy changed).
                ended = now["end"] is not None and now["end"] <= collected_at
                changes.append(Change(ASSIGNMENT_EXPIRED, label(now), f"ended {now_end}" if ended
                                      else f"before its scheduled end {now_end}"))
            else:
                changes.append(Change(ASSIGNMENT_STATE, label(now), f"{was['state']} → {now['state']}"))
        elif now["state"] in HOLDS_ACCESS and was_end != now_end:
            later = was["end"] is None if now["end"] is None else was["end"] is not None and now["end"] > was["end"]
            changes.append(Change(ASSIGNMENT_EXTENDED if later else ASSIGNMENT_SHORTENED, label(now),
                                  f"{was_end} → {now_end}"))
    return changes


def _setting_changes(before: _Observed, after: _Observed) -> list[Change]:
    changes = []
    for resource, keys in WATCHED_SETTINGS.items():
        (old, old_why), (new, new_why) = before.singleton(resource), after.singleton(resource)
        if old is None or new is None:
            changes += [Change(NOT_OBSERVED, resource, why) for why in (old_why, new_why) if why]
            continue
        if bool(old) != bool(new):       # Graph's 404 "none configured" on one side only
            changes.append(Change(SETTING_CHANGED, resource, f"{_configured(old)} → {_configured(new)}"))
            continue
        for key in keys:
            for path, was, now in _leaves(old.get(key), new.get(key), f"{resource}.{key}"):
                if _printed(was) != _printed(now):
                    changes.append(Change(SETTING_CHANGED, path, f"{_printed(was)} → {_printed(now)}"))
    return changes


def _configured(value: Mapping[str, Any]) -> str:
    return "configured" if value else "not configured"


def _leaves(old: Any, new: Any, path: str) -> list[tuple[str, Any, Any]]:
    """(property path, old value, new value) for every property of two values of one setting."""
    if not isinstance(old, Mapping) and not isinstance(new, Mapping):
        return [(path, old, new)]
    old_map = old if isinstance(old, Mapping) else {}
    new_map = new if isinstance(new, Mapping) else {}
    keys = list(dict.fromkeys([*old_map, *new_map]))
    return [leaf for key in keys for leaf in _leaves(old_map.get(key), new_map.get(key), f"{path}.{key}")]


def _printed(value: Any) -> str:
    """A setting's value as the report prints it (Graph's JSON spelling), and as it is compared."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def finding_change(was: str | None, now: str | None) -> str | None:
    """The name of a check's change of status from one run to the next; None when there is none.

    `None` for a status means the run has no result for the check (a check new in this version,
    or withdrawn from it).
    """
    if was == now:
        return FINDING_STILL_OPEN if now in FAILING else None
    if was is None:
        return FIRST_EVALUATED
    if now is None:
        return NO_LONGER_EVALUATED
    if now == "ERROR":
        return NOT_EVALUATED                     # the finding may still be open: nobody could tell
    if was == "ERROR":
        return EVALUATED_AGAIN
    if now == "ACCEPTED":
        return ACCEPTED_RISK                     # still failing, with a documented acceptance
    if now == "ATTESTED":
        return ATTESTED                          # settled by the customer's word, not by evidence
    if now == "MANUAL":
        return ATTESTATION_LAPSED if was == "ATTESTED" else NEEDS_ATTESTATION
    if now == "NOT_APPLICABLE":
        return NO_LONGER_APPLICABLE
    if now in FAILING:
        if was in FAILING:
            return FINDING_STILL_OPEN            # FAIL ↔ WARN: the detail says which way
        if was == "ACCEPTED":
            return ACCEPTANCE_ENDED
        if was in ("MANUAL", "ATTESTED"):
            return NOW_EVALUATED
        return FINDING_NEW                       # it passed, or did not apply
    # now == "PASS"
    if was in FAILING or was == "ACCEPTED":
        return FINDING_RESOLVED
    if was == "NOT_APPLICABLE":
        return NOW_APPLICABLE
    return NOW_EVALUATED                         # MANUAL or ATTESTED, now read from Graph


def _finding_changes(before: _Observed, after: _Observed) -> list[Change]:
    if before.results is None or after.results is None:
        return [Change(NOT_OBSERVED, "check results", f"run {run.run_id} has no results for this tenant")
                for run in (before, after) if run.results is None]
    changes = []
    for check_id in sorted(before.results.keys() | after.results.keys()):
        was, now = before.results.get(check_id), after.results.get(check_id)
        kind = finding_change(was, now)
        if kind is not None:
            detail = now if was == now else f"{was or 'not evaluated'} → {now or 'not evaluated'}"
            changes.append(Change(kind, check_id, detail or ""))
    return changes
