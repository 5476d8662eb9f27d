"""Licensing (seed: "Entitlement Management requires AAD P2"; graph-api.md §7)."""

from __future__ import annotations

import math

import polars as pl

from audit.checks import references as ref
from audit.checks._common import mssp_guests
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Severity, Status
from audit.normalize import TenantData

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
    return int(skus.filter(pl.col("has_p2"))["enabled_units"].fill_null(0).sum())


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
    skus = data.table("subscribed_skus")
    owned = p2_owned(skus)
    counted = mssp_guests(data, ctx.config).height
    current = ctx.customer.current_analysts if ctx.customer.current_analysts is not None else counted
    growth = ctx.customer.projected_growth
    accounts, needed = required_p2(current, growth)
    evidence = [{"sku": r["sku_part_number"], "status": r["capability_status"], "enabled units": r["enabled_units"],
                 "includes P2": r["has_p2"]} for r in skus.iter_rows(named=True)]
    evidence.append({"sku": "sizing (seed formula)", "status": f"{current} analysts"
                     f"{' (counted MSSP guests)' if ctx.customer.current_analysts is None else ''} + {growth} growth",
                     "enabled units": needed, "includes P2": f"{accounts} guest accounts → {needed} P2"})
    if ctx.config.expectations.licence_model == "mau":
        if owned or skus.filter(pl.col("has_p2")).height:
            return Outcome.of(Status.PASS, "The tenant has Entra ID P2 (guests billed by MAU).", evidence)
        return Outcome.of(Status.FAIL, "The tenant has no Entra ID P2 for entitlement management.", evidence)
    if owned >= needed:
        return Outcome.of(Status.PASS, f"{owned} P2 licences cover the {needed} the sizing formula requires.",
                          evidence)
    return Outcome.of(Status.FAIL, f"{owned} P2 licences owned, {needed} required: {needed - owned} short.", evidence)


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
    skus = data.table("subscribed_skus")
    evidence = [{"sku": r["sku_part_number"], "status": r["capability_status"], "enabled units": r["enabled_units"],
                 "includes P2": r["has_p2"]} for r in skus.iter_rows(named=True)]
    if skus.filter(pl.col("has_p2")).height:
        return Outcome.of(Status.PASS, f"Entra ID P2 is licensed ({p2_owned(skus)} units).", evidence)
    return Outcome.of(Status.FAIL, "The tenant has no Entra ID P2: entitlement management and access reviews are "
                                   "unavailable, so the MSSP access model cannot be governed here.", evidence)


CHECKS = (p2_sizing, has_p2)
