"""Edge cases of the catalogue: Graph values that must pass, not-applicable tenants, opt-in evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from audit.checks import CATALOGUE, Context, run_check
from audit.config import Config
from audit.models import CheckResult, ResourceStatus, Status
from tests.checks import tenant_builder as tb
from tests.checks.planted import _policy, _reviews

BY_ID = {c.spec.id: c for c in CATALOGUE}
P2_GATED = ("connected_organizations", "catalogs", "access_packages", "assignments", "assignment_requests",
            "em_settings", "review_definitions")


def run(tmp_path: Path, check_id: str, resources: dict[str, Any] | None = None, cfg: Config | None = None,
        **build_args: Any) -> CheckResult:
    cfg = cfg or tb.config()
    data = tb.build(tmp_path, resources, **build_args)
    return run_check(BY_ID[check_id], data, Context(tb.NOW, cfg, cfg.customers[0]))


def tenant(*mutations: Any) -> dict[str, Any]:
    resources = tb.good_tenant()
    for mutate in mutations:
        mutate(resources)
    return resources


@pytest.mark.parametrize("duration", ["P1Y", "P365D", "PT8760H"])
def test_a_year_written_any_way_passes(tmp_path: Path, duration: str) -> None:
    expiry = _policy(tb.T1, expiration={"type": "afterDuration", "duration": duration})
    assert run(tmp_path, "EM-005", tenant(expiry)).status is Status.PASS


@pytest.mark.parametrize(("kind", "interval"), [("daily", 30), ("weekly", 2), ("absoluteYearly", 1),
                                                ("relativeYearly", None), ("absoluteMonthly", 12)])
def test_reviews_at_least_yearly_pass(tmp_path: Path, kind: str, interval: int | None) -> None:
    recurrence = _reviews(tb.T1, schedule={"recurrence": {"pattern": {"type": kind, "interval": interval}}})
    assert run(tmp_path, "EM-013", tenant(recurrence)).status is Status.PASS


def test_review_expiration_behaviour_follows_the_configuration(tmp_path: Path) -> None:
    keep = tenant(*(_reviews(p, expirationBehavior="keepAccess") for p in tb.PACKAGES))
    assert run(tmp_path / "a", "EM-013", keep).status is Status.FAIL
    cfg = tb.config(expectations={"review_expiration_behavior": "keepAccess"})
    assert run(tmp_path / "b", "EM-013", keep, cfg=cfg).status is Status.PASS


def test_defender_rbac_is_manual_unless_opted_in(tmp_path: Path) -> None:
    off = tb.config(expectations={"collect_defender_rbac": False})
    resources = {k: v for k, v in tb.good_tenant().items() if not k.startswith("defender_")}
    manual = run(tmp_path / "a", "RBAC-002", resources, cfg=off)
    assert manual.status is Status.MANUAL and "collect_defender_rbac" in manual.reason and manual.evidence
    attested = tb.config(expectations={"collect_defender_rbac": False}, customers=[{
        "name": "Contoso", "tenant_id": tb.TENANT,
        "attestations": [{"check_id": "RBAC-002", "by": "SOC lead", "on": "2026-10-01", "evidence": "screenshot 7"}]}])
    assert run(tmp_path / "b", "RBAC-002", resources, cfg=attested).status is Status.ATTESTED
    # Opted in but not collected (e.g. an older snapshot): missing evidence, so ERROR, never FAIL.
    missing = run(tmp_path / "c", "RBAC-002", resources)
    assert missing.status is Status.ERROR and "defender_role" in missing.reason
    assert run(tmp_path / "d", "RBAC-002", resources, cfg=off, token_ok=False).status is Status.ERROR


def test_tenant_without_p2(tmp_path: Path) -> None:
    """No P2: Graph answers AadPremiumLicenseRequired, the review fan-outs are skipped (graph-api.md §2, §3)."""
    statuses = {name: ResourceStatus.NOT_LICENSED for name in P2_GATED}
    statuses |= {"review_instances": ResourceStatus.SKIPPED, "review_decisions": ResourceStatus.SKIPPED}
    no_p2 = tenant(lambda t: t["subscribed_skus"][0]["servicePlans"].clear())
    outcomes = {i: run(tmp_path / i, i, no_p2, statuses=statuses)
                for i in ("EM-001", "EM-011", "EM-013", "AR-001", "AR-002", "AR-003", "GA-005", "LIC-002", "GDAP-003")}
    assert {i: r.status for i, r in outcomes.items() if r.status is not Status.NOT_APPLICABLE} == {
        "LIC-002": Status.FAIL, "GDAP-003": Status.PASS}        # reachable through GDAP still
    # The SKUs say why, whatever Graph answered (here 403, and the review fan-outs skipped).
    assert "no Entra ID P2 for access reviews" in outcomes["AR-002"].reason
    assert "AAD_PREMIUM_P2 (Enabled; no Entra ID P1/P2 plan)" in outcomes["AR-002"].reason
    no_gdap = tenant(lambda t: t["gdap_relationships"].clear())
    unreachable = run(tmp_path / "x", "GDAP-003", no_gdap, statuses=statuses)
    assert unreachable.status is Status.FAIL and "not licensed" in str(unreachable.evidence)


def test_b2b_alone_makes_a_customer_reachable(tmp_path: Path) -> None:
    outcome = run(tmp_path, "GDAP-003", tenant(lambda t: t["gdap_relationships"].clear()))
    assert outcome.status is Status.PASS and "governed B2B" in outcome.summary


def test_no_corporate_domain_configured_is_not_applicable(tmp_path: Path) -> None:
    cfg = tb.config(mssp={"corporate_domains": []})
    assert run(tmp_path, "GA-003", cfg=cfg).status is Status.NOT_APPLICABLE


@pytest.mark.parametrize("partner", [None, {"tenantId": tb.MSSP, "inboundTrust": None}])
def test_mfa_trust_falls_back_to_the_default(tmp_path: Path, partner: dict[str, Any] | None) -> None:
    trusting = {"isServiceDefault": False, "inboundTrust": {"isMfaAccepted": True}}
    outcome = run(tmp_path, "XT-001", tenant(lambda t: t.update(cross_tenant_partner=partner,
                                                                cross_tenant_default=trusting)))
    assert outcome.status is Status.PASS and outcome.evidence[0]["from"].startswith("default")


def test_username_is_read_from_the_upn_when_mail_is_missing(tmp_path: Path) -> None:
    no_mail = {**tb.guest(9, name="john.smith"), "mail": None}
    outcome = run(tmp_path, "GA-004", tenant(lambda t: t["guests"].append(no_mail)))
    assert outcome.status is Status.FAIL and outcome.evidence[0]["username"] == "john.smith"


def test_old_review_cycles_are_history(tmp_path: Path) -> None:
    """inst-1 ended 386 days ago: its unanswered decisions no longer count (thresholds.review_max_age_days)."""
    ignored = tenant(lambda t: t["review_decisions"][0].update(decision="NotReviewed", applyResult="New"))
    assert run(tmp_path, "AR-002", ignored).status is Status.PASS


NEW_CHECKS_WITH_PASS_EVIDENCE = ("EM-010", "EM-011", "EM-012", "EM-013", "EM-014", "AR-002", "AR-003", "GA-004",
                                 "RBAC-001", "RBAC-002", "LIC-002", "GDAP-003", "GDAP-004", "XT-001", "XT-002")


def test_passing_results_show_their_evidence(tmp_path: Path) -> None:
    cfg = tb.config()
    data = tb.build(tmp_path)
    for check_id in NEW_CHECKS_WITH_PASS_EVIDENCE:
        outcome = run_check(BY_ID[check_id], data, Context(tb.NOW, cfg, cfg.customers[0]))
        assert outcome.status is Status.PASS and outcome.evidence, check_id
