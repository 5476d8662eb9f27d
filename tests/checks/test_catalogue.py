"""Every check: passes on a compliant tenant, fails on a planted problem, ERRORs without evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from audit.checks import CATALOGUE, SPECS, Context, run_check
from audit.config import Config
from audit.models import ResourceStatus, Status
from tests.checks import tenant_builder as tb
from tests.checks.planted import FAILURES

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
        if resource in BY_ID[check_id].optional:
            continue                  # test_missing_optional_evidence_never_fails
        outcome = result(tmp_path / resource, check_id, statuses={resource: ResourceStatus.FORBIDDEN})
        assert outcome.status is Status.ERROR, (resource, outcome)
        assert resource in outcome.reason and outcome.evidence == ()


def test_missing_optional_evidence_never_fails(tmp_path: Path) -> None:
    """GDAP-003 without the customer's assignments: GDAP alone still proves a route (PASS, the B2B row
    says why it is unknown); with no GDAP route the FAIL it would be is an ERROR naming assignments."""
    forbidden = {"assignments": ResourceStatus.FORBIDDEN}
    via_gdap = result(tmp_path / "a", "GDAP-003", statuses=forbidden)
    assert via_gdap.status is Status.PASS and "Reachable through GDAP" in via_gdap.summary
    assert "could not be read (forbidden" in via_gdap.evidence[-1]["status"]
    no_gdap = tb.good_tenant()
    no_gdap["gdap_relationships"].clear()
    unknown = result(tmp_path / "b", "GDAP-003", no_gdap, statuses=forbidden)
    assert unknown.status is Status.ERROR and unknown.reason.startswith("assignments: forbidden")


@pytest.mark.parametrize("check_id", [c.spec.id for c in CATALOGUE if c.spec.resources])
def test_failed_collection_is_error(tmp_path: Path, check_id: str) -> None:
    resource = SPECS[check_id].resources[0]
    outcome = result(tmp_path, check_id, statuses={resource: ResourceStatus.FAILED})
    assert outcome.status is Status.ERROR and "failed" in outcome.reason


def test_unlicensed_tenant_is_not_applicable(tmp_path: Path) -> None:
    outcome = result(tmp_path, "EM-003", statuses={"access_packages": ResourceStatus.NOT_LICENSED,
                                                   "connected_organizations": ResourceStatus.NOT_LICENSED})
    assert outcome.status is Status.NOT_APPLICABLE


def test_unreachable_tenant_is_error_where_its_tenant_is_needed(tmp_path: Path) -> None:
    """GDAP relationships are read in the partner tenant: they are judged even when the customer's own
    tenant refused the token; every check that needs the customer's tenant is ERROR with the reason."""
    cfg = tb.config()
    data = tb.build(tmp_path, token_ok=False)
    outcomes = {c.spec.id: run_check(c, data, Context(tb.NOW, cfg, cfg.customers[0])) for c in CATALOGUE}
    partner_side = {i for i in outcomes if i.startswith("GDAP-")}
    for check_id, outcome in outcomes.items():
        if check_id in partner_side:
            assert outcome.status is Status.PASS and outcome.population, (check_id, outcome)
        else:
            assert outcome.status is Status.ERROR and "AADSTS7000229" in outcome.reason, check_id
    assert "AADSTS7000229" in outcomes["GDAP-003"].evidence[-1]["status"]   # the B2B route: not read


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
