"""Licensing (seed: "Entitlement Management requires AAD P2"; graph-api.md §7)."""

from __future__ import annotations

import math

import polars as pl

from audit.checks import references as ref
from audit.checks._common import mssp_guests
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Population, Severity, Status
from audit.normalize import TenantData
from audit.normalize.licences import Level, LicenceState, licence_from_skus, licence_state

AREA = "Licensing"
GUESTS_PER_P2 = 5        # seed: "1 AAD P2 license per every 5 MSSP soc analyst accounts"
HEADROOM = 1.5           # seed: "+ 50% scale capability"


def required_p2(current: int, growth: int) -> tuple[int, int]:
    """Seed formula: guest accounts = (current + growth) × 1.5; P2 = ceil(guest accounts / 5).

    20 analysts + 20 growth → 60 guest accounts → 12 P2 (the seed's own example).
    """
    accounts = math.ceil((current + growth) * HEADROOM)
    return accounts, math.ceil(accounts / GUESTS_PER_P2)


def p2_owned(skus: pl.DataFrame) -> int:
    """Enabled units of the SKUs whose P2 plan is in force (audit.normalize.licences decides)."""
    return licence_from_skus(skus).units(Level.P2) or 0


def _sku_rows(licence: LicenceState) -> list[dict[str, object]]:
    return [{"sku": s.part_number, "status": s.capability_status, "enabled units": s.enabled_units,
             "includes P2": s.grants(Level.P2), "licence evidence": s.describe()} for s in licence.skus or ()]


def _skus(licence: LicenceState, predicate: str = "carry Entra ID P2 in force") -> Population:
    skus = licence.skus or ()
    return Population("subscribed SKUs", len(skus), sum(s.grants(Level.P2) for s in skus), predicate)


@check(CheckSpec(
    id="LIC-001", version=1, title="Enough Entra ID P2 licences for the MSSP analysts", area=AREA,
    severity=Severity.MEDIUM,
    requirement="Entra ID P2 licences owned (service plan AAD_PREMIUM_P2 across all SKUs) cover the seed's "
                "sizing: ceil(((current analysts + projected 12-month growth) × 1.5) / 5).",
    rationale="Entitlement management needs P2; under the legacy 1:5 guest ratio too few licences put the "
              "customer out of compliance as the SOC grows.",
    remediation="Buy the missing P2 licences (or an E5 suite that includes P2), or move guest billing to the "
                "MAU model and set [expectations].licence_model = \"mau\".",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_P2,
                                        "purchase 1 AAD P2 license per every 5 MSSP soc analyst accounts"),
                ref.SUBSCRIBED_SKU.at("servicePlans, prepaidUnits"),
                ref.LICENSING_PLANS.at("AAD_PREMIUM_P2, eec0eb4f-6444-4f95-aba0-50c24d67f998")),
    resources=("subscribed_skus", "guests"),
))
def p2_sizing(data: TenantData, ctx: Context) -> Outcome:
    licence = licence_state(data)
    owned = licence.units(Level.P2) or 0
    counted = mssp_guests(data, ctx.config).height
    current = ctx.customer.current_analysts if ctx.customer.current_analysts is not None else counted
    growth = ctx.customer.projected_growth
    accounts, needed = required_p2(current, growth)
    evidence = _sku_rows(licence)
    evidence.append({"sku": "sizing (seed formula)", "status": f"{current} analysts"
                     f"{' (counted MSSP guests)' if ctx.customer.current_analysts is None else ''} + {growth} growth",
                     "enabled units": needed, "includes P2": f"{accounts} guest accounts → {needed} P2",
                     "licence evidence": None})
    population = _skus(licence)
    if ctx.config.expectations.licence_model == "mau":
        if licence.p2:
            return Outcome.of(Status.PASS, "The tenant has Entra ID P2 (guests billed by MAU).", evidence, population)
        return Outcome.of(Status.FAIL, "The tenant has no Entra ID P2 for entitlement management.", evidence,
                          population)
    if not needed:
        # 0 analysts and 0 growth: "0 licences cover the 0 required" would be true of any tenant.
        return Outcome.not_applicable(f"no analyst is counted or projected ({current} + {growth}): nothing to size",
                                      evidence, population)
    if owned >= needed:
        return Outcome.of(Status.PASS, f"{owned} P2 licences cover the {needed} the sizing formula requires.",
                          evidence, population)
    return Outcome.of(Status.FAIL, f"{owned} P2 licences owned, {needed} required: {needed - owned} short.", evidence,
                      population)


@check(CheckSpec(
    id="LIC-002", version=1, title="The tenant has Entra ID P2 at all", area=AREA, severity=Severity.HIGH,
    requirement="At least one enabled SKU carries the Entra ID P2 service plan (AAD_PREMIUM_P2).",
    rationale="Without P2 there is no entitlement management and no access reviews: Graph answers "
              "AadPremiumLicenseRequired, and every check that depends on them is NOT_APPLICABLE. This is the one "
              "finding that says why — the MSSP model of the seed cannot exist in this tenant.",
    remediation="Buy Entra ID P2 (or an E5 suite that includes it); until then analysts' access is ungoverned.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_P2,
                                        "Entitlement Management is an Azure Active Directory (AAD P2) functionality."),
                ref.SUBSCRIBED_SKU.at("servicePlans, capabilityStatus"),
                ref.LICENSING_PLANS.at("AAD_PREMIUM_P2, eec0eb4f-6444-4f95-aba0-50c24d67f998")),
    resources=("subscribed_skus",),
))
def has_p2(data: TenantData, ctx: Context) -> Outcome:
    licence = licence_state(data)
    evidence = _sku_rows(licence)
    population = _skus(licence)
    if licence.p2:
        return Outcome.of(Status.PASS, f"Entra ID P2 is licensed ({licence.units(Level.P2)} units).", evidence,
                          population)
    return Outcome.of(Status.FAIL, "The tenant has no Entra ID P2 in force: entitlement management and access "
                                   "reviews are unavailable, so the MSSP access model cannot be governed here "
                                   f"({licence.evidence}).", evidence, population)


CHECKS = (p2_sizing, has_p2)
