"""Every statement true (issue 12) on Graph-shaped tenants that are not the demo's.

No PASS over an empty population; licence-gated features NOT_APPLICABLE by the SKUs whether Graph
answered 403 or an empty 200; every PASS states its population; evidence words what Graph said.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from audit.checks import CATALOGUE, Context, Outcome, run_check
from audit.checks._framework import check
from audit.config import Config
from audit.models import CheckResult, CheckSpec, Population, ResourceStatus, Severity, Status
from audit.normalize.licences import Feature, Level, licence_state
from tests.checks import tenant_builder as tb

BY_ID = {c.spec.id: c for c in CATALOGUE}
EM = ("connected_organizations", "catalogs", "access_packages", "assignments", "assignment_requests", "em_settings")
AR = ("review_definitions", "review_instances", "review_decisions")
P2_CHECKS = [c.spec.id for c in CATALOGUE
             if set(c.spec.resources) - c.unlicensed_is_absent & {*EM, *AR}]
O365_E3 = {"skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900", "skuPartNumber": "ENTERPRISEPACK",
           "capabilityStatus": "Enabled", "consumedUnits": 40,
           "prepaidUnits": {"enabled": 50, "suspended": 0, "warning": 0, "lockedOut": 0},
           "servicePlans": [{"servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0",
                             "servicePlanName": "EXCHANGE_S_ENTERPRISE", "provisioningStatus": "Success"}]}


def evaluate(tmp_path: Path, resources: dict[str, Any], cfg: Config | None = None,
             **build_args: Any) -> dict[str, CheckResult]:
    cfg = cfg or tb.config()
    data = tb.build(tmp_path, resources, **build_args)
    return {c.spec.id: run_check(c, data, Context(tb.NOW, cfg, cfg.customers[0])) for c in CATALOGUE}


def unlicensed_tenant() -> dict[str, Any]:
    """Office 365 E3 only (no Entra ID P1/P2): Graph may still answer 200, with empty lists."""
    t = tb.good_tenant()
    t["subscribed_skus"] = [O365_E3]
    for name in (*EM, *AR):
        t[name] = [] if isinstance(t[name], list) else t[name]
    for guest in t["guests"]:
        guest.pop("signInActivity", None)        # the fallback query without signInActivity
    return t


# -- licences ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["200 with empty lists", "403 AadPremiumLicenseRequired"])
def test_unlicensed_features_are_not_applicable_citing_the_skus(tmp_path: Path, answer: str) -> None:
    statuses = {}
    if answer.startswith("403"):
        statuses = {name: ResourceStatus.NOT_LICENSED for name in (*EM, "review_definitions", "guest_sign_ins")}
        statuses |= {"review_instances": ResourceStatus.SKIPPED, "review_decisions": ResourceStatus.SKIPPED}
    results = evaluate(tmp_path, unlicensed_tenant(), statuses=statuses)
    assert results["LIC-002"].status is Status.FAIL and "ENTERPRISEPACK" in results["LIC-002"].summary
    for check_id in (*P2_CHECKS, "GA-001"):
        result = results[check_id]
        assert result.status is Status.NOT_APPLICABLE, (check_id, result)
        assert "ENTERPRISEPACK (Enabled; no Entra ID P1/P2 plan)" in result.reason, (check_id, result.reason)
    assert "Entra ID P2" in results["EM-001"].summary and "Entra ID P1" in results["GA-001"].summary
    # Partner-side and absence-as-evidence checks still speak: no GDAP-free route through packages.
    assert results["GDAP-003"].status is Status.PASS and results["GA-007"].status is Status.PASS


@pytest.mark.parametrize(("change", "words"), [
    ({"capabilityStatus": "Suspended"}, "AAD_PREMIUM_P2 (Suspended; P2 plan Success, SKU not usable)"),
    ({"capabilityStatus": "LockedOut"}, "SKU not usable"),
    ({"servicePlans": [{"servicePlanId": "eec0eb4f-6444-4f95-aba0-50c24d67f998", "provisioningStatus": "Disabled"}]},
     "P2 plan Disabled, plan not in force: the service is disabled"),
])
def test_a_p2_plan_not_in_force_is_no_p2(tmp_path: Path, change: dict[str, Any], words: str) -> None:
    t = tb.good_tenant()
    t["subscribed_skus"][0].update(change)
    results = evaluate(tmp_path, t)
    assert results["EM-003"].status is Status.NOT_APPLICABLE and words in results["EM-003"].reason
    assert results["LIC-002"].status is Status.FAIL and words in results["LIC-002"].summary


def test_a_sku_in_warning_still_licenses_but_its_units_are_expiring(tmp_path: Path) -> None:
    t = tb.good_tenant()
    t["subscribed_skus"][0]["capabilityStatus"] = "Warning"      # grace period: still in force (§7)
    t["subscribed_skus"][0]["prepaidUnits"] = {"enabled": 0, "warning": 5, "suspended": 0, "lockedOut": 0}
    results = evaluate(tmp_path, t)
    assert results["EM-003"].status is Status.PASS
    assert results["LIC-002"].status is Status.WARN and "all 5 units are expiring" in results["LIC-002"].summary
    assert "(0 units)" not in results["LIC-002"].summary
    lic001 = results["LIC-001"]
    assert lic001.status is Status.WARN and "0 P2 licences owned and 5 expiring" in lic001.summary


@pytest.mark.parametrize(("change", "status", "words"), [
    ({"capabilityStatus": "Warning", "prepaidUnits": {"enabled": 0, "warning": 5}}, Status.WARN, "grace period"),
    ({"capabilityStatus": "Frozen"}, Status.ERROR, "capabilityStatus 'Frozen' is not a documented value"),
    ({"capabilityStatus": "Enabled"}, Status.PASS, "5 units enabled"),
])
def test_the_mau_model_reads_the_same_licence(tmp_path: Path, change: dict[str, Any], status: Status,
                                              words: str) -> None:
    """Under MAU billing LIC-001 asks only whether P2 is in force, with LIC-002's words."""
    t = tb.good_tenant()
    t["subscribed_skus"][0].update(change)
    results = evaluate(tmp_path, t, tb.config(expectations={"licence_model": "mau"}))
    for check_id in ("LIC-001", "LIC-002"):
        said = f"{results[check_id].summary} {results[check_id].reason}"
        assert results[check_id].status is status and words in said, (check_id, results[check_id])


def test_a_negative_unit_count_is_not_a_count(tmp_path: Path) -> None:
    t = tb.good_tenant()
    t["subscribed_skus"][0]["prepaidUnits"]["enabled"] = -7
    results = evaluate(tmp_path, t)
    for check_id in ("LIC-001", "LIC-002"):
        result = results[check_id]
        assert result.status is Status.ERROR, result
        assert "AAD_PREMIUM_P2: prepaidUnits.enabled -7 is negative" in result.reason, result.reason


def test_unread_skus_decide_nothing(tmp_path: Path) -> None:
    """subscribedSkus failed: no licence can be concluded, so the gated checks run on what Graph said."""
    failed = {"subscribed_skus": ResourceStatus.FAILED}
    empty = evaluate(tmp_path / "a", unlicensed_tenant(), statuses=failed)
    assert empty["LIC-002"].status is Status.ERROR
    assert empty["EM-001"].status is Status.FAIL                 # an empty 200: the MSSP organisation is absent
    assert empty["EM-003"].status is Status.NOT_APPLICABLE and empty["EM-003"].reason == "no MSSP package policy exists"
    refused = evaluate(tmp_path / "b", unlicensed_tenant(),
                       statuses={**failed, **{name: ResourceStatus.NOT_LICENSED for name in EM}})
    assert refused["EM-001"].status is Status.NOT_APPLICABLE and "in test" in refused["EM-001"].reason  # Graph's word
    assert "subscribedSkus" not in refused["EM-001"].reason


def test_licence_state_is_decided_once(tmp_path: Path) -> None:
    t = tb.good_tenant()
    e5 = {**O365_E3, "skuPartNumber": "SPE_E5", "prepaidUnits": {"enabled": 7},
          "servicePlans": [{"servicePlanId": "eec0eb4f-6444-4f95-aba0-50c24d67f998", "provisioningStatus": "Success"}]}
    t["subscribed_skus"] += [O365_E3, e5]
    state = licence_state(tb.build(tmp_path / "a", t))
    assert state.known and state.p2 and state.p1                 # P2 carries every P1 capability
    units = state.units(Level.P2)
    assert units is not None and (units.owned, units.expiring, units.not_owned, units.exact) == (5 + 7, 0, 0, True)
    assert "ENTERPRISEPACK (Enabled; no Entra ID P1/P2 plan)" in state.evidence
    unread = licence_state(tb.build(tmp_path / "b", t, statuses={"subscribed_skus": ResourceStatus.FORBIDDEN}))
    assert not unread.known and unread.p2 is None
    assert unread.lacks(Feature.ENTITLEMENT_MANAGEMENT) is None        # unknown is not a lack
    assert "forbidden" in unread.evidence


def test_nothing_to_size_is_not_applicable(tmp_path: Path) -> None:
    cfg = tb.config(customers=[{"name": "Contoso", "tenant_id": tb.TENANT, "current_analysts": 0}])
    result = evaluate(tmp_path, tb.good_tenant(), cfg)["LIC-001"]
    assert result.status is Status.NOT_APPLICABLE and "nothing to size" in result.reason


# -- empty populations -------------------------------------------------------------------------------

def test_a_review_less_tenant(tmp_path: Path) -> None:
    t = tb.good_tenant()
    t["review_definitions"], t["review_instances"], t["review_decisions"] = [], [], []
    results = evaluate(tmp_path, t)
    for check_id in ("AR-001", "AR-002"):
        assert results[check_id].status is Status.NOT_APPLICABLE
        assert results[check_id].reason == "no access reviews exist"
        assert results[check_id].summary == "Not applicable: no access reviews exist."
    assert results["AR-003"].status is Status.FAIL                    # the check that requires them
    assert "(no access reviews exist)" in results["AR-003"].summary


def test_no_review_has_ended_yet(tmp_path: Path) -> None:
    t = tb.good_tenant()
    t["review_instances"] = [tb.instance(9, "def-1", start=-5, status="InProgress")]
    t["review_decisions"] = []
    result = evaluate(tmp_path, t)["AR-001"]
    assert result.status is Status.NOT_APPLICABLE and result.reason == "no review instance has ended yet"


def test_a_tenant_without_the_mssp_model(tmp_path: Path) -> None:
    """P2, entitlement management answering, but nothing built: the checks that require the pieces
    FAIL, every check over what would be built on them is NOT_APPLICABLE with the reason."""
    t = tb.good_tenant()
    for name in (*EM, *AR, "groups", "group_members"):
        t[name] = [] if isinstance(t[name], list) else t[name]
    results = evaluate(tmp_path, t)
    fails = {i for i, r in results.items() if r.status is Status.FAIL}
    assert {"EM-001", "EM-002", "RBAC-001", "RBAC-002"} <= fails
    reasons = {i: r.reason for i, r in results.items() if r.status is Status.NOT_APPLICABLE}
    assert reasons["EM-003"] == reasons["EM-005"] == reasons["EM-013"] == "no MSSP package policy exists"
    assert reasons["EM-004"] == reasons["EM-014"] == ("no policy of the 'Tier 1 Analyst' or 'Tier 2 Analyst' "
                                                      "package exists")
    assert reasons["EM-006"] == reasons["EM-007"] == "no MSSP package assignment is delivered"
    assert reasons["EM-008"] == "no access request is pending approval"
    assert reasons["EM-010"] == "no connected organisation exists"
    assert reasons["EM-011"] == "no MSSP group exists"
    assert reasons["EM-012"] == "no policy of the 'MSSP Analyst Approvers' package exists"
    assert reasons["AR-003"] == "no MSSP access package exists"
    assert reasons["GA-006"] == "no access-package assignment is delivered"
    # and never a PASS that rests on nothing
    assert not [i for i, r in results.items() if r.status is Status.PASS
                and (r.population is None or r.population.examined == 0)]
    assert not [r.summary for r in results.values() if "All 0 " in r.summary or " 0 of 0 " in r.summary]


def test_a_tenant_without_guests_or_gdap(tmp_path: Path) -> None:
    t = tb.good_tenant()
    t["guests"], t["gdap_relationships"], t["gdap_access_assignments"] = [], [], []
    results = evaluate(tmp_path, t)
    for check_id, reason in (("GA-001", "the tenant has no enabled guest or member-type B2B account"),
                             ("GA-002", "the tenant has no guest or member-type B2B account"),
                             ("GDAP-001", "no active GDAP relationship with this customer"),
                             ("GDAP-004", "no active GDAP relationship with this customer")):
        assert (results[check_id].status, results[check_id].reason) == (Status.NOT_APPLICABLE, reason)


def test_no_pending_request_is_not_applicable(tmp_path: Path) -> None:
    t = tb.good_tenant()
    t["assignment_requests"] = []
    result = evaluate(tmp_path, t)["EM-008"]
    assert result.status is Status.NOT_APPLICABLE and result.population == Population("pending access requests", 0)


# -- the framework's guarantee ------------------------------------------------------------------------

SPEC = CheckSpec(id="T-001", version=1, title="t", area="t", severity=Severity.LOW, requirement="r", rationale="r",
                 remediation="r", references=(), resources=("guests",))


@pytest.mark.parametrize(("outcome", "status", "reason"), [
    (Outcome.of(Status.PASS, "All fine."), Status.ERROR, "internal error in the check: a PASS must state its"),
    (Outcome.of(Status.PASS, "All 0 review instances are on time.", population=Population("review instances", 0)),
     Status.NOT_APPLICABLE, "nothing to examine: no review instances"),
    (Outcome.of(Status.NOT_APPLICABLE, "Nothing configured."), Status.NOT_APPLICABLE, "Nothing configured."),
    (Outcome.of(Status.PASS, "ok", population=Population("guests", 3, 3, "are fine")), Status.PASS, ""),
])
def test_a_pass_states_its_population_or_is_not_a_pass(tmp_path: Path, outcome: Outcome, status: Status,
                                                      reason: str) -> None:
    item = check(SPEC)(lambda data, ctx: outcome)
    cfg = tb.config()
    result = run_check(item, tb.build(tmp_path), Context(tb.NOW, cfg, cfg.customers[0]))
    assert result.status is status and result.reason.startswith(reason)


def test_every_pass_of_a_compliant_tenant_states_its_population(tmp_path: Path) -> None:
    results = evaluate(tmp_path, tb.good_tenant())
    passes = {i: r.population for i, r in results.items() if r.status is Status.PASS}
    assert len(passes) == len(CATALOGUE) - 1                       # GS-004 is MANUAL
    assert all(p is not None and p.examined > 0 for p in passes.values()), passes
    assert results["GA-001"].population.text == ("5 of 5 enabled guests and member-type B2B accounts signed in "
                                                 "successfully within 90 days or were created within them")


# -- evidence wording ---------------------------------------------------------------------------------

def _guest(n: int, activity: dict[str, Any] | None, created: int = -400) -> dict[str, Any]:
    guest = tb.guest(n, created=tb.days(created), domain=tb.VENDOR_DOMAIN, name=f"vendor{n}")
    if activity is not None:
        guest["signInActivity"] = activity
    return guest


def test_sign_ins_are_worded_as_graph_recorded_them(tmp_path: Path) -> None:
    t = tb.good_tenant()
    t["guests"] += [
        # signed in before Dec 2023 and not since: Graph never backfilled the success
        _guest(20, {"lastSignInDateTime": "2023-05-02T09:00:00Z", "lastNonInteractiveSignInDateTime": None,
                    "lastSuccessfulSignInDateTime": None}),
        # attempts after Dec 2023, none successful
        _guest(21, {"lastSignInDateTime": tb.iso(tb.days(-10)), "lastSuccessfulSignInDateTime": None}),
        _guest(22, None),                                            # no sign-in data at all
        _guest(23, {"lastSuccessfulSignInDateTime": "0001-01-01T00:00:00Z"}),
    ]
    result = evaluate(tmp_path, t)["GA-001"]
    rows = {r["guest"]: r for r in result.evidence}
    old = rows["vendor20"]
    assert old["last sign-in attempt"] == "2023-05-02" and old["last successful sign-in"] is None
    assert "before 1 Dec 2023 when Graph began recording successful sign-ins" in old["why"]
    assert "sign-in attempts (last " in rows["vendor21"]["why"] and "no successful sign-in" in rows["vendor21"]["why"]
    assert rows["vendor22"]["why"].startswith("no sign-in recorded") and rows["vendor23"]["why"].startswith(
        "no sign-in recorded")
    assert "never" not in str(result.evidence) + result.summary
    assert result.population == Population("enabled guests and member-type B2B accounts", 9, 5,
                                           "signed in successfully within 90 days or were created within them")


def test_reviewers_and_approvers_are_named_guid_second(tmp_path: Path) -> None:
    t = tb.good_tenant()
    stage = {"durationBeforeAutomaticDenial": "P14D", "primaryApprovers": [
        {"@odata.type": "#microsoft.graph.singleUser", "userId": "guest-1"},
        {"@odata.type": "#microsoft.graph.singleUser", "userId": "9f0e0000-0000-4000-8000-000000000001"}]}
    for package in t["access_packages"]:
        if package["displayName"] == tb.APPROVERS:
            package["assignmentPolicies"] = [tb.policy(tb.APPROVERS, requestApprovalSettings={
                "isApprovalRequiredForAdd": True, "stages": [stage]})]
    results = evaluate(tmp_path, t)
    reviewed_by = {r["instance"]: r["reviewed by"] for r in results["AR-002"].evidence}
    assert reviewed_by["inst-2"] == "Customer Admin (admin@contoso.onmicrosoft.com) [rev-1]"
    approvers = [r["approver"] for r in results["EM-012"].evidence]
    assert approvers[0] == ("user a-Analyst1 (a-analyst1_soc.mssp.example#EXT#@contoso.onmicrosoft.com) "
                            "[guest-1]")
    assert approvers[1] == "user 9f0e0000-0000-4000-8000-000000000001 (no name in the evidence this check reads)"
    t1 = next(r for r in results["EM-004"].evidence if r["package"] == tb.T1)
    assert t1["approvers"] == f"members of group {tb.APPROVERS} [{tb.APPROVERS_GROUP}]"


# -- GDAP is partner-side evidence --------------------------------------------------------------------

def test_an_unreachable_customer_is_judged_on_its_gdap(tmp_path: Path) -> None:
    t = tb.good_tenant()
    t["gdap_relationships"][0]["accessDetails"]["unifiedRoles"].append({"roleDefinitionId": tb.GA})
    t["gdap_relationships"][0].update(endDateTime=tb.iso(tb.days(5)), autoExtendDuration="PT0S")
    results = evaluate(tmp_path / "a", t, token_ok=False)
    assert results["GDAP-001"].status is Status.WARN and results["GDAP-002"].status is Status.FAIL
    assert results["GDAP-003"].status is Status.PASS and results["GDAP-004"].status is Status.PASS
    assert results["EM-001"].status is Status.ERROR and "AADSTS7000229" in results["EM-001"].reason
    t["gdap_access_assignments"].clear()              # no GDAP route: B2B unknown, so no FAIL
    results = evaluate(tmp_path / "b", t, token_ok=False)
    assert results["GDAP-004"].status is Status.FAIL
    assert results["GDAP-003"].status is Status.ERROR and "assignments: failed" in results["GDAP-003"].reason


# -- GA-007: analysts sign in at the MSSP tenant ------------------------------------------------------

def _member(n: int, local: str, **changes: Any) -> dict[str, Any]:
    item = {"@odata.type": "#microsoft.graph.user", "id": f"m-{n}", "displayName": local,
            "userPrincipalName": f"{local}@contoso.onmicrosoft.com", "mail": None, "userType": "Member",
            "creationType": None, "externalUserState": None, "_parent": "grp-t1"}
    item.update(changes)
    return item


@pytest.mark.parametrize(("member", "status"), [
    # cross-tenant synced: Member, #EXT# UPN (graph-api.md §5)
    (_member(1, "a-kai4_soc.mssp.example#EXT#"), Status.PASS),
    (_member(2, "a-kai4", externalUserState="Accepted"), Status.PASS),      # converted B2B guest
    (_member(3, "a-kai4", creationType="Invitation"), Status.PASS),
    (_member(4, "a-kai4"), Status.FAIL),                                    # a local account
])
def test_only_local_accounts_fail(tmp_path: Path, member: dict[str, Any], status: Status) -> None:
    t = tb.good_tenant()
    t["group_members"].append(member)
    result = evaluate(tmp_path, t)["GA-007"]
    assert result.status is status, result
    if status is Status.FAIL:
        (row,) = result.evidence
        assert row["local"] is True and row["analyst access"] == ("member of Tier 1 Analyst; username matches the "
                                                                  "analyst pattern")


def test_local_accounts_without_p2_are_still_found(tmp_path: Path) -> None:
    t = unlicensed_tenant()
    t["group_members"].append(_member(4, "dana.ops"))
    result = evaluate(tmp_path, t, statuses={"assignments": ResourceStatus.NOT_LICENSED})["GA-007"]
    assert result.status is Status.FAIL and result.population.examined == 5


def test_local_analyst_check_errs_and_empties_honestly(tmp_path: Path) -> None:
    failed = evaluate(tmp_path / "a", tb.good_tenant(), statuses={"assignments": ResourceStatus.FAILED})["GA-007"]
    assert failed.status is Status.ERROR and "assignments" in failed.reason
    t = tb.good_tenant()
    t["group_members"], t["assignments"], t["guests"] = [], [], []
    empty = evaluate(tmp_path / "b", t)["GA-007"]
    assert empty.status is Status.NOT_APPLICABLE and empty.population.examined == 0


def test_an_unreachable_customer_has_no_score(tmp_path: Path) -> None:
    """Its GDAP checks pass, yet 4 partner-side results rate none of the customer's own controls."""
    from audit.checks import SPECS, score
    results = evaluate(tmp_path, tb.good_tenant(), token_ok=False)
    assert {r.status for i, r in results.items() if i.startswith("GDAP-")} == {Status.PASS}
    assert score(list(results.values()), SPECS) is None
