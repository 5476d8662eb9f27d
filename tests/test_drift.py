"""Nights over the emulator: with changes in between, every kind of drift appears exactly once; with
only timestamps moved (by minutes), no change is reported."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from freezegun import freeze_time
from pypdf import PdfReader

from audit.demo import demo_config, demo_environment
from audit.history import apply_retention, list_runs
from audit.pipeline import run
from audit.snapshot.store import read_json

NIGHT_1 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
NIGHT_2 = NIGHT_1 + timedelta(days=1)
NIGHT_3 = NIGHT_2 + timedelta(days=1)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def minutes_later(value: str, minutes: int) -> str:
    """`value` moved by `minutes`, on the same day (earlier when later would cross midnight)."""
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    moved = at + timedelta(minutes=minutes)
    return iso(moved if moved.date() == at.date() else at - timedelta(minutes=minutes))


def move_timestamps(tenant: Any) -> None:
    """What a quiet night changes: end dates re-stamped within their day, sign-ins a few minutes on."""
    for assignment in tenant.assignments:
        expiration = assignment["schedule"]["expiration"]
        if expiration.get("endDateTime"):
            expiration["endDateTime"] = minutes_later(expiration["endDateTime"], 7)
    for user in tenant.users:
        activity = user.get("signInActivity") or {}
        for key, value in list(activity.items()):
            if key.endswith("DateTime") and isinstance(value, str) and value[:1] != "0":
                activity[key] = minutes_later(value, 13)


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("nights")
    with demo_environment(now=NIGHT_1, customers=1, seed=7, include_broken_tenant=False) as env:
        config = demo_config(env.estate, env.server, env.certificate_path, out)
        tenant = env.estate.tenants[env.estate.customers[0].tenant_id]
        with freeze_time(NIGHT_1, tick=True):
            first = run(config, now=NIGHT_1)

        guests = [u for u in tenant.users if u.get("userType") == "Guest"]
        added = copy.deepcopy(guests[0])
        added.update(id="0c0c0c0c-0000-4000-8000-000000000001", displayName="a-New9",
                     userPrincipalName="a-new9_soc.mssp-analysts.example#EXT#@x.onmicrosoft.com")
        removed = guests[1]
        tenant.users.remove(removed)
        tenant.users.append(added)
        delivered = [a for a in tenant.assignments if a["state"] == "delivered"
                     and a["schedule"]["expiration"].get("endDateTime")]
        extended, expired, gone = delivered[0], delivered[1], delivered[2]
        extended["schedule"]["expiration"]["endDateTime"] = iso(NIGHT_2 + timedelta(days=300))
        expired["state"] = "expired"
        tenant.assignments.remove(gone)
        granted = copy.deepcopy(delivered[3])
        granted["id"] = "0c0c0c0c-0000-4000-8000-000000000002"
        tenant.assignments.append(granted)
        tenant.authorization_policy["allowInvitesFrom"] = "everyone"   # a setting change and a new finding

        with freeze_time(NIGHT_2, tick=True):
            second = run(config, now=NIGHT_2)

        move_timestamps(tenant)
        with freeze_time(NIGHT_3, tick=True):
            third = run(config, now=NIGHT_3)
    return first, second, {"added": added, "removed": removed, "extended": extended, "expired": expired,
                           "gone": gone, "granted": granted, "third": third}


def test_every_kind_of_drift_appears_exactly_once_in_json(nights) -> None:
    first, second, changed = nights
    tenant_id = second.customers[0].tenant_id
    drift = read_json(second.root / "tenants" / tenant_id / "results.json")["drift"]
    assert drift["previous_run"] == first.run_id
    kinds = [c["kind"] for c in drift["changes"] if c["kind"] != "finding still open"]
    for kind in ("guest added", "guest removed", "assignment granted", "assignment extended",
                 "assignment expired", "assignment removed", "setting changed"):
        assert kinds.count(kind) == 1, (kind, kinds)
    pairs = [(c["kind"], c["subject"]) for c in drift["changes"]]
    assert len(pairs) == len(set(pairs))
    subjects = {c["kind"]: c["subject"] for c in drift["changes"]}
    assert changed["added"]["userPrincipalName"] in subjects["guest added"]
    assert subjects["setting changed"] == "authorization_policy.allowInvitesFrom"
    assert ("finding new", "GS-001") in pairs
    first_drift = read_json(first.root / "tenants" / tenant_id / "results.json")["drift"]
    assert first_drift == {"previous_run": None, "changes": []}


def test_drift_is_in_the_pdf_and_the_workbook(nights) -> None:
    _, second, changed = nights
    customer = second.customers[0]
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(customer.pdf).pages).split())
    assert "Changes since the previous run" in text
    assert "allowInvitesFrom" in text and ("a-New9" in text or "a-new9" in text)
    book = openpyxl.load_workbook(customer.workbook, read_only=True)
    sheet = next(book[n] for n in book.sheetnames if n.startswith("Changes"))
    rows = [tuple(r) for r in sheet.iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(rows) if r[:3] == ("Change", "Subject", "Detail"))
    kinds = [r[0] for r in rows[header + 1:]]
    assert kinds.count("assignment extended") == 1 and kinds.count("guest removed") == 1


def test_portfolio_summary_shows_the_score_trend(nights) -> None:
    first, second, _ = nights
    sheet = openpyxl.load_workbook(second.portfolio)["Summary"]
    rows = [tuple(r) for r in sheet.iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(rows) if r and r[0] == "Customer")
    columns = rows[header]
    row = dict(zip(columns, rows[header + 1], strict=False))
    assert row["Previous score"] == first.customers[0].score
    assert row["Change"] == round(second.customers[0].score - first.customers[0].score, 1)
    assert row["Change"] < 0                   # allowInvitesFrom = everyone made it worse


def test_a_night_where_only_timestamps_moved_reports_no_change(nights) -> None:
    _, second, changed = nights
    third = changed["third"]
    tenant_id = third.customers[0].tenant_id
    drift = read_json(third.root / "tenants" / tenant_id / "results.json")["drift"]
    assert drift["previous_run"] == second.run_id
    assert drift["changes"], "the findings still open are listed"
    assert {c["kind"] for c in drift["changes"]} == {"finding still open"}, drift["changes"]
    assert all("→" not in c["detail"] for c in drift["changes"])
    second_drift = read_json(second.root / "tenants" / tenant_id / "results.json")["drift"]
    still_open = [c for c in second_drift["changes"] if c["kind"] in ("finding still open", "finding new")]
    assert [c["subject"] for c in drift["changes"]] == [c["subject"] for c in still_open]
    book = openpyxl.load_workbook(third.customers[0].workbook, read_only=True)
    sheet = next(book[n] for n in book.sheetnames if n.startswith("Changes"))
    assert {r[0] for r in sheet.iter_rows(values_only=True) if r[0]} >= {"finding still open"}


def test_runs_are_listed_and_retention_keeps_the_newest(nights, tmp_path: Path) -> None:
    first, second, changed = nights
    third = changed["third"]
    data_dir = second.root.parent.parent
    assert [r.run_id for r in list_runs(data_dir)] == [first.run_id, second.run_id, third.run_id]
    assert apply_retention(data_dir, keep_runs=2, keep_days=3650, now=NIGHT_3) == [first.run_id]
    assert [r.run_id for r in list_runs(data_dir)] == [second.run_id, third.run_id]

