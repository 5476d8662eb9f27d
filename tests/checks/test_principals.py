"""Principals as Entra holds them (issue 17): roles held through role-assignable groups, and B2B
accounts whose userType is Member. Each shape, from the Graph-shaped fixtures of
tests/checks/fixtures/principals, passes, fails and errs: a refused or failed read of the new
evidence is ERROR naming the resource, never a FAIL or a PASS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from audit.checks import CATALOGUE, Context, run_check
from audit.models import CheckResult, ResourceStatus, Status
from audit.normalize.users import account_kind, b2b_marks
from tests.checks import tenant_builder as tb
from tests.checks.planted import fixture

BY_ID = {c.spec.id: c for c in CATALOGUE}
GROUP = "b6c76b64-9a50-45f5-b343-f6c53d69ce61"
SYNCED = "member-type B2B (cross-tenant-synced, or a guest converted to member)"


def with_fixture(name: str, **changes: dict[str, Any]) -> dict[str, Any]:
    """The compliant tenant plus one fixture; `changes` update every item of a resource of it."""
    t = tb.good_tenant()
    for resource, items in fixture(name).items():
        for item in items:
            item.update(changes.get(resource, {}))
        t[resource].extend(items)
    return t


def check(tmp_path: Path, check_id: str, resources: dict[str, Any],
          statuses: dict[str, ResourceStatus] | None = None) -> CheckResult:
    cfg = tb.config()
    data = tb.build(tmp_path, resources, statuses=statuses)
    return run_check(BY_ID[check_id], data, Context(tb.NOW, cfg, cfg.customers[0]))


# -- a role-assignable group holding Global Administrator ---------------------------------------------

def test_a_guest_in_a_role_holding_group_is_a_finding_naming_the_group(tmp_path: Path) -> None:
    result = check(tmp_path, "ADM-002", with_fixture("role_group_global_admin"))
    assert result.status is Status.FAIL
    (row,) = result.evidence
    assert row["principal"] == "Kalyan Krishna" and row["kind"] == "invited guest (B2B)"
    assert row["through group"] == f"Cloud Platform Admins [{GROUP}]" and row["role"] == "Global Administrator"
    assert result.population is not None and result.population.examined == 4      # 2 direct, 2 through the group


def test_people_are_counted_not_assignment_objects(tmp_path: Path) -> None:
    result = check(tmp_path, "ADM-001", with_fixture("role_group_global_admin"))
    assert result.status is Status.PASS and result.summary.startswith("4 accounts hold Global Administrator")
    routes = {r["principal"]: r["through group"] for r in result.evidence}
    assert routes["Admin 1"] == "directly assigned" and routes["Megan Bowen"].startswith("Cloud Platform Admins")


def test_a_group_of_employees_only_passes(tmp_path: Path) -> None:
    t = with_fixture("role_group_global_admin")
    guest = next(m for m in t["role_group_members"] if m["userType"] == "Guest")
    guest.update(userType="Member", creationType=None, externalUserState=None,
                 userPrincipalName="kalyan@contoso.onmicrosoft.com")
    result = check(tmp_path, "ADM-002", t)
    assert result.status is Status.PASS and "None of the 4 privileged role holdings" in result.summary


def test_a_person_direct_and_through_a_group_is_one_holder(tmp_path: Path) -> None:
    t = with_fixture("role_group_global_admin")
    t["role_group_members"][0].update(id="user-1", userPrincipalName="admin1@contoso.onmicrosoft.com")
    result = check(tmp_path, "ADM-001", t)
    assert result.summary.startswith("3 accounts hold Global Administrator") and len(result.evidence) == 4


def test_a_role_holding_group_without_members_holds_nothing(tmp_path: Path) -> None:
    t = with_fixture("role_group_global_admin")
    t["role_group_members"].clear()
    t["role_assignments"] = [a for a in t["role_assignments"] if a["principalId"] == GROUP]
    result = check(tmp_path, "ADM-002", t)
    assert result.status is Status.NOT_APPLICABLE
    assert result.reason == "the privileged roles are assigned only to groups without members"
    assert result.evidence[0]["principal"] == "(the group has no members)"
    assert check(tmp_path / "b", "ADM-001", t).summary == "No account holds Global Administrator."


@pytest.mark.parametrize("check_id", ["ADM-001", "ADM-002", "ADM-003"])
@pytest.mark.parametrize("status", [ResourceStatus.FORBIDDEN, ResourceStatus.FAILED])
def test_unread_group_members_are_an_error_never_a_verdict(tmp_path: Path, check_id: str,
                                                          status: ResourceStatus) -> None:
    result = check(tmp_path, check_id, with_fixture("role_group_global_admin"),
                   statuses={"role_group_members": status})
    assert result.status is Status.ERROR and result.evidence == ()
    assert result.reason.startswith(f"role_group_members: {status.value}")


# -- a cross-tenant-synced member from the corporate tenant -------------------------------------------

def test_a_synced_corporate_member_is_found_and_named_for_its_kind(tmp_path: Path) -> None:
    result = check(tmp_path, "GA-003", with_fixture("synced_corporate_member"))
    assert result.status is Status.FAIL
    (row,) = result.evidence
    assert row["account"] == "Jordan Lee" and row["user type"] == "Member" and row["kind"] == SYNCED
    assert row["home domain"] == "corp.mssp.example"


def test_a_synced_analyst_with_a_package_passes(tmp_path: Path) -> None:
    mail = f"a-analyst1@{tb.ANALYST_DOMAIN}"
    t = with_fixture("synced_corporate_member", external_members={
        "mail": mail, "displayName": "a-Analyst1", "userPrincipalName": f"a-analyst1_{tb.ANALYST_DOMAIN}#EXT#@x"})
    t["guests"] = [g for g in t["guests"] if g["mail"] != mail]
    t["external_members"][0]["id"] = "guest-1"          # the holder of assignment asg-1
    for check_id in ("GA-003", "GA-004", "GA-005", "GA-007"):
        result = check(tmp_path / check_id, check_id, t)
        assert result.status is Status.PASS, (check_id, result.summary)
    kinds = {r["upn"]: r["kind"] for r in check(tmp_path / "r", "GA-004", t).evidence}
    assert kinds[f"a-analyst1_{tb.ANALYST_DOMAIN}#EXT#@x"] == SYNCED


@pytest.mark.parametrize("check_id", ["GA-002", "GA-003", "GA-004", "GA-005", "GA-006", "GA-007", "EM-012"])
@pytest.mark.parametrize("status", [ResourceStatus.FORBIDDEN, ResourceStatus.FAILED])
def test_unread_b2b_members_are_an_error_never_a_verdict(tmp_path: Path, check_id: str,
                                                         status: ResourceStatus) -> None:
    result = check(tmp_path, check_id, with_fixture("synced_corporate_member"),
                   statuses={"external_members": status})
    assert result.status is Status.ERROR and result.evidence == ()
    assert f"external_members: {status.value}" in result.reason


# -- a guest converted to member ------------------------------------------------------------------------

def test_a_converted_guest_gone_stale_is_found(tmp_path: Path) -> None:
    result = check(tmp_path, "GA-001", with_fixture("converted_guest"))
    assert result.status is Status.FAIL
    (row,) = result.evidence
    assert row["kind"] == SYNCED and row["last successful sign-in"] == "2026-06-25"
    assert row["why"] == "last successful sign-in 149 days ago (more than 90)"


def test_a_converted_guest_in_use_passes(tmp_path: Path) -> None:
    recent = {"lastSuccessfulSignInDateTime": tb.iso(tb.days(-3)), "lastSignInDateTime": tb.iso(tb.days(-3))}
    result = check(tmp_path, "GA-001", with_fixture("converted_guest", external_members={"signInActivity": recent}))
    assert result.status is Status.PASS and result.population is not None and result.population.examined == 6


@pytest.mark.parametrize("resource", ["external_members", "external_member_sign_ins"])
def test_unread_sign_ins_of_b2b_members_are_an_error(tmp_path: Path, resource: str) -> None:
    result = check(tmp_path, "GA-001", with_fixture("converted_guest"),
                   statuses={resource: ResourceStatus.FORBIDDEN})
    assert result.status is Status.ERROR and result.reason.startswith(f"{resource}: forbidden")


# -- one external test --------------------------------------------------------------------------------

@pytest.mark.parametrize(("user_type", "upn", "creation", "state", "kind"), [
    ("Guest", "a_x.com#EXT#@t.onmicrosoft.com", "Invitation", "Accepted", "invited guest (B2B)"),
    ("Guest", "a_x.com#EXT#@t.onmicrosoft.com", "Invitation", "PendingAcceptance",
     "invited guest (B2B), invitation pending"),
    ("Guest", "a@t.onmicrosoft.com", None, None, "internal guest (an account of this tenant marked Guest)"),
    ("Member", "a_x.com#EXT#@t.onmicrosoft.com", "Invitation", "Accepted", SYNCED),
    ("Member", "a_x.com#EXT#@t.onmicrosoft.com", None, None, SYNCED),      # only the UPN tells
    ("Member", "a@t.onmicrosoft.com", None, None, "local account"),
    (None, None, "Invitation", None, "B2B account (userType not returned)"),
    (None, None, None, None, "not known (Graph returned no userType, UPN or invitation data)"),
])
def test_the_kind_of_an_account(user_type: str | None, upn: str | None, creation: str | None, state: str | None,
                                kind: str) -> None:
    marks = b2b_marks(upn, creation, state)
    assert account_kind(user_type, marks, state) == kind
    assert bool(marks) == (kind.startswith(("invited", "member-type", "B2B")))


def test_a_holder_graph_said_nothing_about_is_not_called_an_employee(tmp_path: Path) -> None:
    """graph-api.md §9: without permission for a member's object type Graph returns only @odata.type
    and id; such a holder is neither a guest nor shown to be an employee: WARN, named."""
    t = with_fixture("role_group_global_admin")
    t["role_group_members"] = [{"@odata.type": "#microsoft.graph.user", "id": "bare-1", "_parent": GROUP}]
    result = check(tmp_path, "ADM-002", t)
    assert result.status is Status.WARN and "cannot be told" in result.summary
    (row,) = result.evidence
    assert row["kind"].startswith("not known") and row["through group"].startswith("Cloud Platform Admins")
