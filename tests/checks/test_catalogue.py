"""Every check: passes on a compliant tenant, fails on a planted problem, ERRORs without evidence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from audit.checks import CATALOGUE, SPECS, Context, run_check
from audit.config import Config
from audit.models import ResourceStatus, Status
from tests.checks import tenant_builder as tb

BY_ID = {c.spec.id: c for c in CATALOGUE}


def result(tmp_path: Path, check_id: str, resources: dict[str, Any] | None = None, cfg: Config | None = None,
           **build_args: Any):
    cfg = cfg or tb.config()
    data = tb.build(tmp_path, resources, **build_args)
    return run_check(BY_ID[check_id], data, Context(tb.NOW, cfg, cfg.customers[0]))


def test_compliant_tenant_passes_every_check(tmp_path: Path) -> None:
    cfg = tb.config()
    data = tb.build(tmp_path)
    results = {c.spec.id: run_check(c, data, Context(tb.NOW, cfg, cfg.customers[0])) for c in CATALOGUE}
    not_passing = {k: (r.status, r.summary, r.reason) for k, r in results.items()
                   if r.status is not Status.PASS and k != "GS-004"}
    assert not_passing == {}
    assert results["GS-004"].status is Status.MANUAL


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    resource, _, key = path.partition(".")

    def mutate(t: dict[str, Any]) -> None:
        t[resource][key] = value
    return mutate


def _policy(package: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(t: dict[str, Any]) -> None:
        for pkg in t["access_packages"]:
            if pkg["displayName"] == package:
                pkg["assignmentPolicies"] = [tb.policy(package, **changes)]
    return mutate


def _append(resource: str, item: Any) -> Callable[[dict[str, Any]], None]:
    return lambda t: t[resource].append(item)


FAILURES: dict[str, tuple[str, Callable[[dict[str, Any]], None], Status]] = {
    "proposed MSSP org": ("EM-001", lambda t: t["connected_organizations"][0].update(state="proposed"), Status.FAIL),
    "no MSSP org": ("EM-001", lambda t: t["connected_organizations"].clear(), Status.FAIL),
    "Tier 2 package missing": ("EM-002", lambda t: t["access_packages"].pop(1), Status.FAIL),
    "package without policy": ("EM-002", lambda t: t["access_packages"][0].update(assignmentPolicies=[]), Status.FAIL),
    "open to all external users": ("EM-003", _policy("Tier 1 Analyst", allowedTargetScope="allExternalUsers",
                                                     specificAllowedTargets=[]), Status.FAIL),
    "all configured orgs": ("EM-003", _policy("Tier 2 Analyst",
                                              allowedTargetScope="allConfiguredConnectedOrganizationUsers"),
                            Status.FAIL),
    "other connected org": ("EM-003", _policy("Tier 1 Analyst", specificAllowedTargets=[
        {"@odata.type": "#microsoft.graph.connectedOrganizationMembers", "connectedOrganizationId": "other"}]),
        Status.FAIL),
    "no approval": ("EM-004", _policy("Tier 1 Analyst", requestApprovalSettings={
        "isApprovalRequiredForAdd": False, "stages": []}), Status.FAIL),
    "approvers group missing": ("EM-004", lambda t: t["groups"].pop(0), Status.FAIL),
    "no expiration": ("EM-005", _policy("Tier 1 Analyst", expiration={"type": "noExpiration"}), Status.FAIL),
    "P730D": ("EM-005", _policy("Tier 2 Analyst", expiration={"type": "afterDuration", "duration": "P730D"}),
              Status.FAIL),
    "PT8760H plus a day": ("EM-005", _policy("Tier 2 Analyst", expiration={"type": "afterDuration",
                                                                          "duration": "PT8784H"}), Status.FAIL),
    "expiring next week": ("EM-006", _append("assignments", tb.assignment(9, end=tb.days(7))), Status.WARN),
    "no end date": ("EM-007", _append("assignments", tb.assignment(9, end=None, expiration_type="noExpiration")),
                    Status.FAIL),
    "two years out": ("EM-007", _append("assignments", tb.assignment(9, end=tb.days(700))), Status.FAIL),
    "old pending request": ("EM-008", _append("assignment_requests", {
        "id": "req-1", "state": "pendingApproval", "requestType": "userAdd", "createdDateTime": tb.iso(tb.days(-20)),
        "requestor": {"displayName": "a-Analyst9", "email": "x@y"}, "accessPackage": {"displayName": "Tier 1 Analyst"}}),
        Status.WARN),
    "block and delete": ("EM-009", _set("em_settings.externalUserLifecycleAction", "blockSignInAndDelete"), Status.FAIL),
    "overdue review": ("AR-001", _append("review_instances", {"id": "inst-2", "startDateTime": tb.iso(tb.days(-40)),
                                                              "endDateTime": tb.iso(tb.days(-10)),
                                                              "status": "InProgress", "_parent": "def-1"}), Status.FAIL),
    "guests can invite": ("GS-001", _set("authorization_policy.allowInvitesFrom", "everyone"), Status.FAIL),
    "members can invite": ("GS-001", _set("authorization_policy.allowInvitesFrom", "adminsGuestInvitersAndAllMembers"),
                           Status.FAIL),
    "unknownFutureValue inviters": ("GS-001", _set("authorization_policy.allowInvitesFrom", "unknownFutureValue"),
                                    Status.WARN),
    "member-equivalent guests": ("GS-002", _set("authorization_policy.guestUserRoleId",
                                                "a0b1b346-4d3e-4e8b-98f8-753987be4970"), Status.FAIL),
    "self sign-up": ("GS-003", _set("authorization_policy.allowedToSignUpEmailBasedSubscriptions", True), Status.FAIL),
    "stale guest": ("GA-001", _append("guests", tb.guest(9, last=tb.days(-120))), Status.FAIL),
    "never signed in, old": ("GA-001", _append("guests", tb.guest(9, last=None, created=tb.days(-200))), Status.FAIL),
    "0001-01-01 means never": ("GA-001", _append("guests", {**tb.guest(9, created=tb.days(-200)), "signInActivity": {
        "lastSuccessfulSignInDateTime": "0001-01-01T00:00:00Z"}}), Status.FAIL),
    "one Global Admin": ("ADM-001", lambda t: t["role_assignments"].pop(), Status.FAIL),
    "six Global Admins": ("ADM-001", lambda t: t["role_assignments"].extend(
        tb.role_assignment(i, tb.GA) for i in range(3, 7)), Status.FAIL),
    "guest Global Admin": ("ADM-002", _append("role_assignments", tb.role_assignment(
        8, tb.GA, user_type="Guest", upn="x_y.com#EXT#@contoso.onmicrosoft.com")), Status.FAIL),
    "setup admin left": ("ADM-003", _append("role_assignments", tb.role_assignment(
        9, tb.GA, upn="mssp-setup-admin@contoso.onmicrosoft.com")), Status.FAIL),
    "too few P2": ("LIC-001", lambda t: t["subscribed_skus"][0]["prepaidUnits"].update(enabled=1), Status.FAIL),
    "P2 plan disabled": ("LIC-001", lambda t: t["subscribed_skus"][0]["servicePlans"][0].update(
        provisioningStatus="Disabled"), Status.FAIL),
    "GDAP lapsing": ("GDAP-001", lambda t: t["gdap_relationships"][0].update(
        endDateTime=tb.iso(tb.days(10)), autoExtendDuration="PT0S"), Status.WARN),
    "GDAP with Global Admin": ("GDAP-002", lambda t: t["gdap_relationships"][0]["accessDetails"].update(
        unifiedRoles=[{"roleDefinitionId": tb.GA}]), Status.FAIL),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_planted_problem_is_found(tmp_path: Path, case: str) -> None:
    check_id, mutate, expected = FAILURES[case]
    resources = tb.good_tenant()
    mutate(resources)
    outcome = result(tmp_path, check_id, resources)
    assert outcome.status is expected, (outcome.summary, outcome.reason)
    assert outcome.summary


def test_every_check_has_a_failure_case() -> None:
    covered = {check_id for check_id, _, _ in FAILURES.values()}
    # GS-004 is MANUAL by nature (test_manual_and_attested); APP-* read the token (test_app_permissions)
    assert covered == set(SPECS) - {"GS-004", "APP-001", "APP-002"}


def test_app_permissions(tmp_path: Path) -> None:
    from audit.checks.app_permissions import required_permissions
    needed = required_permissions()
    over = result(tmp_path / "a", "APP-001", roles=(*needed, "User.ReadWrite.All"))
    assert over.status is Status.FAIL and "User.ReadWrite.All" in over.summary
    short = result(tmp_path / "b", "APP-002", roles=tuple(p for p in needed if p != "AuditLog.Read.All"))
    assert short.status is Status.FAIL and "AuditLog.Read.All" in short.summary
    assert result(tmp_path / "c", "APP-001", roles=needed).status is Status.PASS


@pytest.mark.parametrize("check_id", [c.spec.id for c in CATALOGUE if c.spec.resources])
def test_missing_evidence_is_error_never_fail(tmp_path: Path, check_id: str) -> None:
    for resource in SPECS[check_id].resources:
        outcome = result(tmp_path / resource, check_id, statuses={resource: ResourceStatus.FORBIDDEN})
        assert outcome.status is Status.ERROR, (resource, outcome)
        assert resource in outcome.reason and outcome.evidence == ()


@pytest.mark.parametrize("check_id", [c.spec.id for c in CATALOGUE if c.spec.resources])
def test_failed_collection_is_error(tmp_path: Path, check_id: str) -> None:
    resource = SPECS[check_id].resources[0]
    outcome = result(tmp_path, check_id, statuses={resource: ResourceStatus.FAILED})
    assert outcome.status is Status.ERROR and "failed" in outcome.reason


def test_unlicensed_tenant_is_not_applicable(tmp_path: Path) -> None:
    outcome = result(tmp_path, "EM-003", statuses={"access_packages": ResourceStatus.NOT_LICENSED,
                                                   "connected_organizations": ResourceStatus.NOT_LICENSED})
    assert outcome.status is Status.NOT_APPLICABLE


def test_unreachable_tenant_is_error_everywhere(tmp_path: Path) -> None:
    cfg = tb.config()
    data = tb.build(tmp_path, token_ok=False)
    for check in CATALOGUE:
        outcome = run_check(check, data, Context(tb.NOW, cfg, cfg.customers[0]))
        assert outcome.status is Status.ERROR and "AADSTS7000229" in outcome.reason


def test_manual_and_attested(tmp_path: Path) -> None:
    assert result(tmp_path / "a", "GS-004").status is Status.MANUAL
    cfg = tb.config(customers=[{"name": "Contoso", "tenant_id": tb.TENANT, "attestations": [
        {"check_id": "GS-004", "by": "J. Auditor", "on": "2026-06-01", "evidence": "ticket 42"}]}])
    attested = result(tmp_path / "b", "GS-004", cfg=cfg)
    assert attested.status is Status.ATTESTED and "J. Auditor" in attested.reason
    stale = tb.config(customers=[{"name": "Contoso", "tenant_id": tb.TENANT, "attestations": [
        {"check_id": "GS-004", "by": "J. Auditor", "on": "2025-06-01", "evidence": "ticket 41"}]}])
    assert result(tmp_path / "c", "GS-004", cfg=stale).status is Status.MANUAL


def test_accepted_risk_applies_until_it_expires(tmp_path: Path) -> None:
    resources = tb.good_tenant()
    resources["authorization_policy"]["allowInvitesFrom"] = "everyone"
    risk = {"check_id": "GS-001", "rationale": "migration", "owner": "CISO", "expires": "2026-12-31"}
    cfg = tb.config(customers=[{"name": "Contoso", "tenant_id": tb.TENANT, "accepted_risks": [risk]}])
    assert result(tmp_path / "a", "GS-001", resources, cfg=cfg).status is Status.ACCEPTED
    expired = tb.config(customers=[{"name": "Contoso", "tenant_id": tb.TENANT,
                                    "accepted_risks": [{**risk, "expires": "2026-11-01"}]}])
    outcome = result(tmp_path / "b", "GS-001", resources, cfg=expired)
    assert outcome.status is Status.FAIL and "expired" in outcome.reason


def test_licence_formula_matches_the_seed_example(tmp_path: Path) -> None:
    from audit.checks.licensing import required_p2
    assert required_p2(20, 20) == (60, 12)
    assert required_p2(0, 0) == (0, 0)
    assert required_p2(3, 1) == (6, 2)
