"""Cross-tenant access settings for the MSSP analyst tenant (graph-api.md §5).

A partner configuration that is absent (404, evidence of absence: ABSENT_OK) or that leaves a
setting null inherits the tenant's default configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.checks import references as ref
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Population, Severity, Status
from audit.normalize import TenantData

AREA = "Cross-tenant access"


def effective_inbound_trust(data: TenantData) -> tuple[Mapping[str, Any], str]:
    """(inboundTrust in force for the MSSP tenant, where it comes from)."""
    partner = data.singleton("cross_tenant_partner")
    if partner is not None and partner.get("inboundTrust") is not None:
        return partner["inboundTrust"], "partner configuration"
    default = data.singleton("cross_tenant_default") or {}
    source = "default (no partner configuration)" if partner is None else "default (partner setting inherits)"
    # An untouched default has no inboundTrust to show: Microsoft's default trusts no MFA claim.
    return default.get("inboundTrust") or {}, source


@check(CheckSpec(
    id="XT-001", version=1, title="The MSSP tenant's MFA is trusted", area=AREA, severity=Severity.MEDIUM,
    requirement="Inbound trust for the MSSP analyst tenant (its partner configuration, or the default it inherits) "
                "accepts MFA performed in the MSSP tenant (inboundTrust.isMfaAccepted).",
    rationale="Analysts authenticate in the MSSP tenant and the customer only validates the token (seed, "
              "Authentication Flow). If the customer does not accept that MFA, analysts must register a second "
              "MFA method per customer, or a Conditional Access policy requiring MFA cannot be met by them — "
              "both push towards weaker workarounds.",
    remediation="External Identities → Cross-tenant access settings → add the MSSP tenant as an organisation → "
                "Inbound access → Trust settings: 'Trust multifactor authentication from Microsoft Entra tenants'.",
    references=(ref.MSSP_ACCESS.section("Authentication Flow",
                                        "This means the analyst credentials remain within the MSSP AD tenant."),
                ref.CROSS_TENANT_INBOUND_TRUST.at("isMfaAccepted")),
    resources=("cross_tenant_partner", "cross_tenant_default"),
))
def mssp_mfa_trusted(data: TenantData, ctx: Context) -> Outcome:
    trust, source = effective_inbound_trust(data)
    accepted = trust.get("isMfaAccepted") is True
    evidence = [{"setting": "inboundTrust.isMfaAccepted", "value": trust.get("isMfaAccepted"), "from": source,
                 "partner tenant": ctx.config.mssp.analyst_tenant_id}]
    population = Population("inbound trust settings in force for the MSSP tenant", 1, int(accepted),
                            "accept its MFA")
    if accepted:
        return Outcome.of(Status.PASS, f"MFA from the MSSP tenant is accepted ({source}).", evidence, population)
    return Outcome.of(Status.FAIL, f"MFA from the MSSP tenant is not accepted ({source}).", evidence, population)


@check(CheckSpec(
    id="XT-002", version=1, title="Cross-tenant sync from the MSSP tenant", area=AREA, severity=Severity.INFO,
    requirement="Report whether the MSSP tenant may sync users into this tenant; it should not while the MSSP model "
                "relies on invited guests admitted through access packages.",
    rationale="Cross-tenant sync creates member-type B2B users directly from the MSSP tenant: they arrive without "
              "an access-package request, approval, expiry or review, beside the governed guests. The seed's model "
              "admits analysts only through entitlement management, so an open sync policy is a second, ungoverned "
              "door (the XDR seed names sync as an alternative model, not an addition).",
    remediation="If the MSSP does not use cross-tenant sync, turn off 'Allow users sync into this tenant' for the "
                "MSSP organisation; if it does, govern the synced users and record the decision as an accepted "
                "risk.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_PACKAGES),
                ref.XDR_MULTI_TENANT.section("How to setup",
                                             "First you need B2B users in your tenant. You can use Cross-tenant "
                                             "sync or normal guest users."),
                ref.CROSS_TENANT_SYNC.at("userSyncInbound.isSyncAllowed")),
    resources=("identity_sync", "cross_tenant_partner"),
))
def mssp_identity_sync(data: TenantData, ctx: Context) -> Outcome:
    sync = data.singleton("identity_sync")
    partner = data.singleton("cross_tenant_partner") or {}
    allowed = ((sync or {}).get("userSyncInbound") or {}).get("isSyncAllowed") is True
    consent = (partner.get("automaticUserConsentSettings") or {}).get("inboundAllowed")
    evidence: list[dict[str, Any]] = [
        {"setting": "identitySynchronization", "value": "none configured (404)" if sync is None else "present"},
        {"setting": "userSyncInbound.isSyncAllowed", "value": allowed},
        {"setting": "automaticUserConsentSettings.inboundAllowed", "value": consent}]
    population = Population("identity-sync settings for the MSSP tenant", 1, int(not allowed),
                            "allow no user sync into this tenant")
    if allowed:
        return Outcome.of(Status.WARN, "The MSSP tenant may sync users into this tenant, outside the access "
                                       "packages.", evidence, population)
    return Outcome.of(Status.PASS, "No cross-tenant sync from the MSSP tenant is allowed.", evidence, population)


CHECKS = (mssp_mfa_trusted, mssp_identity_sync)
