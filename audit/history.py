"""Run history: listing, retention, and drift between two runs of the same customer.

Drift is computed from what each run left on disk (normalized tables and results.json), so it
needs no re-collection and compares like with like.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from audit.snapshot.store import read_json

FAILING = ("FAIL", "WARN")
# The settings whose change an auditor wants to hear about, per singleton resource.
WATCHED_SETTINGS = {
    "authorization_policy": ("allowInvitesFrom", "guestUserRoleId", "allowedToSignUpEmailBasedSubscriptions",
                             "allowEmailVerifiedUsersToJoinOrganization"),
    "em_settings": ("externalUserLifecycleAction", "durationUntilExternalUserDeletedAfterBlocked"),
    "cross_tenant_partner": ("inboundTrust",),
    "identity_sync": ("userSyncInbound",),
}


@dataclass(frozen=True)
class RunEntry:
    run_id: str
    status: str
    collected_at: datetime
    root: Path
    tenants: tuple[str, ...]


@dataclass(frozen=True)
class Change:
    kind: str        # "guest added", "assignment extended", "setting changed", "finding new", …
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


def _table(root: Path, tenant_id: str, name: str) -> pl.DataFrame | None:
    path = root / "tenants" / tenant_id / "normalized" / f"{name}.parquet"
    return pl.read_parquet(path) if path.exists() else None


def _singletons(root: Path, tenant_id: str) -> Mapping[str, Any]:
    path = root / "tenants" / tenant_id / "normalized" / "singletons.json"
    return read_json(path) if path.exists() else {}


def _results(root: Path, tenant_id: str) -> dict[str, str]:
    path = root / "tenants" / tenant_id / "results.json"
    if not path.exists():
        return {}
    return {r["check_id"]: r["status"] for r in read_json(path)["results"]}


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "no end"


def compute_drift(previous: Path, current: Path, tenant_id: str, previous_id: str | None = None) -> Drift:
    changes: list[Change] = []
    changes += _guest_changes(_table(previous, tenant_id, "guests"), _table(current, tenant_id, "guests"))
    changes += _assignment_changes(_table(previous, tenant_id, "assignments"),
                                   _table(current, tenant_id, "assignments"))
    changes += _setting_changes(_singletons(previous, tenant_id), _singletons(current, tenant_id))
    changes += _finding_changes(_results(previous, tenant_id), _results(current, tenant_id))
    return Drift(previous_id or previous.name, tuple(changes))


def _guest_changes(before: pl.DataFrame | None, after: pl.DataFrame | None) -> list[Change]:
    if before is None or after is None:   # one side has no evidence: no claim of change either way
        return []
    old = {r["id"]: r for r in before.iter_rows(named=True)}
    new = {r["id"]: r for r in after.iter_rows(named=True)}
    label = lambda r: r["upn"] or r["display_name"] or r["id"]  # noqa: E731
    return ([Change("guest added", label(new[i]), "") for i in sorted(new.keys() - old.keys())]
            + [Change("guest removed", label(old[i]), "") for i in sorted(old.keys() - new.keys())])


def _assignment_changes(before: pl.DataFrame | None, after: pl.DataFrame | None) -> list[Change]:
    if before is None or after is None:
        return []
    old = {r["id"]: r for r in before.iter_rows(named=True)}
    new = {r["id"]: r for r in after.iter_rows(named=True)}
    label = lambda r: f"{r['target_upn'] or r['target_name']} · {r['package_name']}"  # noqa: E731
    changes = [Change("assignment granted", label(new[i]), f"ends {_day(new[i]['end'])}")
               for i in sorted(new.keys() - old.keys()) if new[i]["state"] == "delivered"]
    changes += [Change("assignment removed", label(old[i]), f"was {old[i]['state']}")
                for i in sorted(old.keys() - new.keys())]
    for i in sorted(old.keys() & new.keys()):
        was, now = old[i], new[i]
        if was["state"] == "delivered" and now["state"] == "expired":
            changes.append(Change("assignment expired", label(now), f"ended {_day(now['end'])}"))
        elif was["end"] != now["end"] and now["state"] == "delivered" and (
                was["end"] is None or (now["end"] is not None and now["end"] > was["end"])):
            changes.append(Change("assignment extended", label(now), f"{_day(was['end'])} → {_day(now['end'])}"))
    return changes


def _setting_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    changes = []
    for resource, keys in WATCHED_SETTINGS.items():
        if resource not in before or resource not in after:
            continue
        old, new = before[resource] or {}, after[resource] or {}
        for key in keys:
            if old.get(key) != new.get(key):
                changes.append(Change("setting changed", f"{resource}.{key}", f"{old.get(key)} → {new.get(key)}"))
    return changes


def _finding_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[Change]:
    changes = []
    for check_id in sorted(after):
        was, now = before.get(check_id), after[check_id]
        if now in FAILING and was not in FAILING:
            changes.append(Change("finding new", check_id, f"{was or 'not evaluated'} → {now}"))
        elif now in FAILING:
            changes.append(Change("finding still open", check_id, now))
        elif was in FAILING and now in ("PASS", "ATTESTED", "ACCEPTED"):
            changes.append(Change("finding resolved", check_id, f"{was} → {now}"))
    return changes

