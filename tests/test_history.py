"""Drift is true (audit/history.py): values compared as the report prints them, what a run did not
see is "not observed", every status transition named for what it is, and `runs diff` prints every
row it counts. Runs are written to disk as the pipeline leaves them, from Graph-shaped tenants."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from audit import cli
from audit.history import Change, compute_drift, finding_change
from audit.models import ResourceStatus, TenantManifest
from audit.normalize import write_normalized
from audit.snapshot.store import manifest_to_json, write_json
from tests.checks import tenant_builder as tb

RESULTS = {"GA-001": "PASS", "GS-001": "FAIL", "EM-003": "WARN", "RV-001": "PASS"}


def night(data_dir: Path, run_id: str, resources: dict[str, Any] | None = None, *,
          results: dict[str, str] | None = None, statuses: dict[str, ResourceStatus] | None = None,
          unreadable: tuple[str, ...] = (), reached: bool = True) -> Path:
    """One run of one tenant as the pipeline leaves it: manifest, normalized tables, results.json."""
    root = data_dir / "runs" / run_id
    tenant_dir = root / "tenants" / tb.TENANT
    write_json(root / "run.json", {"run_id": run_id, "status": "complete", "collected_at": tb.NOW.isoformat(),
                                   "tenants": {tb.TENANT: {}}})
    if reached:
        data = tb.build(data_dir / "evidence" / run_id, resources or tb.good_tenant(), statuses=statuses)
        write_normalized(tenant_dir, data)
        for table in unreadable:         # collected, but a value could not be read: no table
            (tenant_dir / "normalized" / f"{table}.parquet").unlink()
        manifest = data.manifest
    else:
        manifest = TenantManifest(tb.TENANT, "Contoso", tb.NOW, False, "AADSTS7000229: consent revoked")
    write_json(tenant_dir / "manifest.json", manifest_to_json(manifest))
    statuses_of = RESULTS if results is None else results
    write_json(tenant_dir / "results.json", {"results": [{"check_id": c, "status": s} for c, s in statuses_of.items()]})
    return root


def drift(before: Path, after: Path) -> list[tuple[str, str, str]]:
    return [(c.kind, c.subject, c.detail) for c in compute_drift(before, after, tb.TENANT, before.name).changes]


def moved(resources: dict[str, Any], **minutes: int) -> dict[str, Any]:
    """The same tenant with only its timestamps moved by minutes (end dates stay on their day)."""
    out = copy.deepcopy(resources)
    for a in out["assignments"]:
        end = a["schedule"]["expiration"].get("endDateTime")
        if end:
            a["schedule"]["expiration"]["endDateTime"] = end.replace("T02:00:00Z", f"T02:{minutes['end']:02d}:00Z")
    for g in out["guests"]:
        activity = g.get("signInActivity") or {}
        for key in [k for k in activity if k.endswith("DateTime")]:
            activity[key] = tb.iso(tb.NOW + timedelta(minutes=minutes["sign_in"]))
    return out


def still_open() -> list[tuple[str, str, str]]:
    return [("finding still open", "EM-003", "WARN"), ("finding still open", "GS-001", "FAIL")]


def test_only_timestamps_moved_is_no_change(tmp_path: Path) -> None:
    tenant = tb.good_tenant()
    before = night(tmp_path, "r1", tenant)
    after = night(tmp_path, "r2", moved(tenant, end=47, sign_in=-30))
    assert drift(before, after) == still_open()


def test_an_end_date_is_compared_to_the_day_it_is_printed_at(tmp_path: Path) -> None:
    tenant = tb.good_tenant()
    later, earlier = copy.deepcopy(tenant), tenant["assignments"][1]
    later["assignments"][0]["schedule"]["expiration"]["endDateTime"] = tb.iso(tb.days(230))
    later["assignments"][1]["schedule"]["expiration"]["endDateTime"] = tb.iso(tb.days(100))
    rows = drift(night(tmp_path, "r1", tenant), night(tmp_path, "r2", later))
    extended, shortened = rows[0], rows[1]
    assert extended[0] == "assignment extended"
    assert extended[2] == f"{tb.days(200):%Y-%m-%d} → {tb.days(230):%Y-%m-%d}"
    assert shortened[0] == "assignment shortened" and earlier["target"]["principalName"] in shortened[1]
    assert rows[2:] == still_open()


def test_an_expiry_is_said_as_it_happened(tmp_path: Path) -> None:
    tenant = tb.good_tenant()
    ended = copy.deepcopy(tenant)
    for n, end in ((0, tb.days(-1)), (1, tb.days(150))):
        ended["assignments"][n]["state"] = "expired"
        ended["assignments"][n]["schedule"]["expiration"]["endDateTime"] = tb.iso(end)
    ended["assignments"][2]["state"] = "deliveryFailed"
    rows = drift(night(tmp_path, "r1", tenant), night(tmp_path, "r2", ended))
    assert [(kind, detail) for kind, _, detail in rows[:3]] == [
        ("assignment expired", f"ended {tb.days(-1):%Y-%m-%d}"),
        ("assignment expired", f"before its scheduled end {tb.days(150):%Y-%m-%d}"),
        ("assignment state changed", "delivered → deliveryFailed")]


def test_a_tenant_not_reached_in_either_run_is_not_observed(tmp_path: Path) -> None:
    reached = night(tmp_path, "r1")
    unreached = night(tmp_path, "r2", reached=False, results=dict.fromkeys(RESULTS, "ERROR"))
    forward = drift(reached, unreached)
    assert forward[0] == ("not observed", "tenant", "not reached in run r2: AADSTS7000229: consent revoked")
    assert not [r for r in forward if r[0].startswith(("guest", "assignment", "setting"))]
    # What was failing or passing could not be evaluated: said for each check, not dropped.
    assert forward[1:] == [("could not be evaluated", c, f"{s} → ERROR") for c, s in sorted(RESULTS.items())]
    back = drift(unreached, night(tmp_path, "r3"))
    assert back[0] == ("not observed", "tenant", "not reached in run r2: AADSTS7000229: consent revoked")
    assert {kind for kind, *_ in back[1:]} == {"evaluated again"}


def test_a_resource_not_collected_in_one_run_yields_no_added_or_removed_rows(tmp_path: Path) -> None:
    tenant = tb.good_tenant()
    fewer = copy.deepcopy(tenant)
    fewer["guests"] = fewer["guests"][:2]
    fewer["assignments"] = fewer["assignments"][:1]
    before = night(tmp_path, "r1", tenant)
    after = night(tmp_path, "r2", fewer, statuses={"guests": ResourceStatus.FORBIDDEN}, unreadable=("assignments",))
    rows = drift(before, after)
    assert rows[:2] == [("not observed", "guests", "forbidden in run r2: forbidden in test"),
                        ("not observed", "assignments", "collected in run r2 but not readable")]
    assert rows[2:] == still_open()


def test_settings_are_compared_property_by_property(tmp_path: Path) -> None:
    tenant = tb.good_tenant()
    changed = copy.deepcopy(tenant)
    changed["cross_tenant_partner"]["inboundTrust"]["isMfaAccepted"] = False
    changed["identity_sync"] = {"userSyncInbound": {"isSyncAllowed": True}}
    changed["authorization_policy"]["allowInvitesFrom"] = "everyone"
    rows = drift(night(tmp_path, "r1", tenant),
                 night(tmp_path, "r2", changed, statuses={"em_settings": ResourceStatus.NOT_LICENSED}))
    assert rows[:4] == [
        ("setting changed", "authorization_policy.allowInvitesFrom", "adminsAndGuestInviters → everyone"),
        ("not observed", "em_settings", "not_licensed in run r2: not_licensed in test"),
        ("setting changed", "cross_tenant_partner.inboundTrust.isMfaAccepted", "true → false"),
        ("setting changed", "identity_sync", "not configured → configured")]


@pytest.mark.parametrize(("was", "now", "kind"), [
    ("PASS", "FAIL", "finding new"), ("NOT_APPLICABLE", "WARN", "finding new"),
    ("FAIL", "FAIL", "finding still open"), ("FAIL", "WARN", "finding still open"),
    ("FAIL", "PASS", "finding resolved"), ("ACCEPTED", "PASS", "finding resolved"),
    ("FAIL", "ACCEPTED", "accepted risk"), ("WARN", "ACCEPTED", "accepted risk"),
    ("ACCEPTED", "FAIL", "acceptance ended"),
    ("FAIL", "ERROR", "could not be evaluated"), ("PASS", "ERROR", "could not be evaluated"),
    ("ERROR", "FAIL", "evaluated again"), ("ERROR", "PASS", "evaluated again"),
    ("MANUAL", "ATTESTED", "attested"), ("ATTESTED", "MANUAL", "attestation lapsed"),
    ("FAIL", "MANUAL", "needs attestation"), ("FAIL", "NOT_APPLICABLE", "no longer applicable"),
    ("NOT_APPLICABLE", "PASS", "now applicable"), ("MANUAL", "PASS", "now evaluated"),
    ("MANUAL", "FAIL", "now evaluated"), (None, "PASS", "first evaluated"), ("FAIL", None, "no longer evaluated"),
    ("PASS", "PASS", None), ("ACCEPTED", "ACCEPTED", None), ("ERROR", "ERROR", None),
])
def test_each_status_transition_has_its_own_true_name(was: str | None, now: str | None, kind: str | None) -> None:
    assert finding_change(was, now) == kind


def test_every_transition_between_two_statuses_is_named() -> None:
    statuses = ("PASS", "FAIL", "WARN", "ERROR", "NOT_APPLICABLE", "MANUAL", "ATTESTED", "ACCEPTED", None)
    for was in statuses:
        for now in statuses:
            named = finding_change(was, now)
            assert (named is None) == (was == now and now not in ("FAIL", "WARN")), (was, now, named)
            assert named != "finding resolved" or now == "PASS", (was, now)


def test_accepted_and_unevaluated_findings_in_a_drift(tmp_path: Path) -> None:
    before = night(tmp_path, "r1", results={"GS-001": "FAIL", "EM-003": "FAIL", "RV-001": "WARN"})
    after = night(tmp_path, "r2", results={"GS-001": "ACCEPTED", "EM-003": "ERROR", "RV-001": "PASS"})
    assert drift(before, after) == [("could not be evaluated", "EM-003", "FAIL → ERROR"),
                                              ("accepted risk", "GS-001", "FAIL → ACCEPTED"),
                                              ("finding resolved", "RV-001", "WARN → PASS")]


R1, R2 = "20261101T020000Z-aaaaaa", "20261102T020000Z-bbbbbb"   # run ids: never paths


def test_runs_diff_prints_every_row_it_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = tb.good_tenant()
    fewer = copy.deepcopy(tenant)
    fewer["guests"] = fewer["guests"][1:]
    before, after = night(tmp_path, R1, tenant), night(tmp_path, R2, fewer)
    changes = compute_drift(before, after, tb.TENANT, R1).changes
    assert Change("finding still open", "GS-001", "FAIL") in changes
    config = tb.config(output={"data_dir": str(tmp_path)})
    monkeypatch.setattr(cli, "load_config", lambda _: config)
    printed = CliRunner().invoke(cli.app, ["runs", "diff", R1, R2, "--config", "unused.toml"])
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    assert lines[0] == f"Contoso ({tb.TENANT}): {len(changes)} row(s)"
    assert len(lines) == 1 + len(changes)
    for line, change in zip(lines[1:], changes, strict=True):
        assert line.split() == [*change.kind.split(), *change.subject.split(), *change.detail.split()]
