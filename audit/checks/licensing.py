"""Licensing (seed: "Entitlement Management requires AAD P2"; graph-api.md §7)."""

from __future__ import annotations

import math

from audit.checks import references as ref
from audit.checks._common import mssp_guests
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Population, Severity, Status
from audit.normalize import TenantData
from audit.normalize.licences import Level, LicenceState, Units, licence_state

AREA = "Licensing"
GUESTS_PER_P2 = 5        # seed: "1 AAD P2 license per every 5 MSSP soc analyst accounts"
HEADROOM = 1.5           # seed: "+ 50% scale capability"


def required_p2(current: int, growth: int) -> tuple[int, int]:
    """Seed formula: guest accounts = (current + growth) × 1.5; P2 = ceil(guest accounts / 5).

    20 analysts + 20 growth → 60 guest accounts → 12 P2 (the seed's own example).
    """
    accounts = math.ceil((current + growth) * HEADROOM)
    return accounts, math.ceil(accounts / GUESTS_PER_P2)


def _sku_rows(licence: LicenceState) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for sku in licence.skus or ():
        units, grants = sku.units(Level.P2), sku.grants(Level.P2)
        rows.append({"sku": sku.part_number, "status": sku.capability_status,
                     "P2 units owned": None if units.unreported else units.owned,
                     "P2 units expiring (grace period)": units.expiring,
                     "P2 units suspended or locked out": units.not_owned, "P2 units required": None,
                     "includes P2": "not understood" if grants is None else grants,
                     "licence evidence": sku.describe()})
    return rows


def _skus(licence: LicenceState, predicate: str = "carry Entra ID P2 in force") -> Population:
    skus = licence.skus or ()
    return Population("subscribed SKUs", len(skus), sum(s.grants(Level.P2) is True for s in skus), predicate)


def _not_understood(licence: LicenceState, units: Units | None = None) -> str:
    """Which values of which SKUs the audit did not understand, for an ERROR's reason."""
    if units is None:
        said = list(licence.not_understood(Level.P2))
    else:
        said = [*units.not_understood, *(f"{name}: prepaidUnits.enabled not given" for name in units.unreported)]
    return "subscribedSkus: " + "; ".join(said)


def _error(summary: str, reason: str, evidence: list[dict[str, object]], population: Population) -> Outcome:
    return Outcome(Status.ERROR, summary, tuple(evidence), population, reason)


def _expiring(units: Units) -> str:
    return (f"; {units.expiring} more expiring (grace period after expiry: renew them)" if units.expiring else "")


def _not_counted(licence: LicenceState, units: Units) -> str:
    """The SKUs that carry the P2 plan without it being in force, and the units nobody owns any more."""
    skus = [s.describe() for s in licence.skus or () if s.carries is Level.P2 and s.grants(Level.P2) is False]
    gone = f"{units.not_owned} units suspended or locked out, not owned" if units.not_owned else ""
    said = "; ".join(x for x in (gone, f"not counted: {', '.join(skus)}" if skus else "") if x)
    return f" ({said})" if said else ""


@check(CheckSpec(
    id="LIC-001", version=2, title="Enough Entra ID P2 licences for the MSSP analysts", area=AREA,
    severity=Severity.MEDIUM,
    requirement="Entra ID P2 licences owned cover the seed's sizing: ceil(((current analysts + projected "
                "12-month growth) × 1.5) / 5). Owned are the enabled units of SKUs whose AAD_PREMIUM_P2 plan is "
                "in force; units in the grace period after expiry (warning) are expiring and cover the need only "
                "if renewed (WARN); suspended and locked-out units are not owned.",
    rationale="Entitlement management needs P2; under the legacy 1:5 guest ratio too few licences put the "
              "customer out of compliance as the SOC grows.",
    remediation="Buy the missing P2 licences (or an E5 suite that includes P2), or move guest billing to the "
                "MAU model and set [expectations].licence_model = \"mau\".",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_P2,
                                        "purchase 1 AAD P2 license per every 5 MSSP soc analyst accounts"),
                ref.SUBSCRIBED_SKU.at("servicePlans, prepaidUnits"),
                ref.LICENSE_UNITS.at("enabled, warning, suspended, lockedOut"),
                ref.LICENSING_PLANS.at("AAD_PREMIUM_P2, eec0eb4f-6444-4f95-aba0-50c24d67f998")),
    resources=("subscribed_skus", "guests"),
))
def p2_sizing(data: TenantData, ctx: Context) -> Outcome:
    licence = licence_state(data)
    units = licence.units(Level.P2) or Units(0, 0, 0)
    counted = mssp_guests(data, ctx.config).height
    current = ctx.customer.current_analysts if ctx.customer.current_analysts is not None else counted
    growth = ctx.customer.projected_growth
    accounts, needed = required_p2(current, growth)
    evidence = _sku_rows(licence)
    evidence.append({"sku": "sizing (seed formula)", "status": f"{current} analysts"
                     f"{' (counted MSSP guests)' if ctx.customer.current_analysts is None else ''} + {growth} growth",
                     "P2 units owned": None, "P2 units expiring (grace period)": None,
                     "P2 units suspended or locked out": None, "P2 units required": needed,
                     "includes P2": f"{accounts} guest accounts → {needed} P2", "licence evidence": None})
    population = _skus(licence)
    if ctx.config.expectations.licence_model == "mau":
        return _has_p2(licence, evidence, population)
    if not needed:
        # 0 analysts and 0 growth: "0 licences cover the 0 required" would be true of any tenant.
        return Outcome.not_applicable(f"no analyst is counted or projected ({current} + {growth}): nothing to size",
                                      evidence, population)
    if units.owned >= needed:
        return Outcome.of(Status.PASS, f"{units.owned} P2 licences cover the {needed} the sizing formula requires"
                                       f"{_expiring(units)}{_not_counted(licence, units)}.", evidence, population)
    if not units.exact:
        # A SKU we could not read may hold the missing units: neither short nor covered.
        return _error("The P2 licences owned could not be counted.", _not_understood(licence, units)
                      + f" (counted {units.owned} P2 licences owned, {needed} required)", evidence, population)
    gone = _not_counted(licence, units)
    if units.owned + units.expiring >= needed:
        return Outcome.of(Status.WARN, f"{units.owned} P2 licences owned and {units.expiring} expiring (grace period "
                                       f"after expiry), {needed} required: covered only if the expiring units are "
                                       f"renewed{gone}.", evidence, population)
    return Outcome.of(Status.FAIL, f"{units.owned} P2 licences owned, {needed} required: {needed - units.owned} short"
                                   f"{_expiring(units)}{gone}.", evidence, population)


@check(CheckSpec(
    id="LIC-002", version=2, title="The tenant has Entra ID P2 at all", area=AREA, severity=Severity.HIGH,
    requirement="At least one usable SKU (capabilityStatus Enabled or Warning) carries the Entra ID P2 service "
                "plan (AAD_PREMIUM_P2) provisioned (Success), on enabled units; P2 held only on units in the "
                "grace period after expiry is a WARN.",
    rationale="Without P2 there is no entitlement management and no access reviews: Graph answers "
              "AadPremiumLicenseRequired, and every check that depends on them is NOT_APPLICABLE. This is the one "
              "finding that says why — the MSSP model of the seed cannot exist in this tenant.",
    remediation="Buy Entra ID P2 (or an E5 suite that includes it), or renew the subscription whose units are in "
                "the grace period before it is suspended; without P2 analysts' access is ungoverned.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_P2,
                                        "Entitlement Management is an Azure Active Directory (AAD P2) functionality."),
                ref.SUBSCRIBED_SKU.at("servicePlans, capabilityStatus"),
                ref.SERVICE_PLAN.at("provisioningStatus"),
                ref.LICENSING_PLANS.at("AAD_PREMIUM_P2, eec0eb4f-6444-4f95-aba0-50c24d67f998")),
    resources=("subscribed_skus",),
))
def has_p2(data: TenantData, ctx: Context) -> Outcome:
    licence = licence_state(data)
    return _has_p2(licence, _sku_rows(licence), _skus(licence))


def _has_p2(licence: LicenceState, evidence: list[dict[str, object]], population: Population) -> Outcome:
    """LIC-002, and LIC-001 under the MAU model: is Entra ID P2 in force, and on which units."""
    p2 = licence.p2
    if p2 is None:
        return _error("Whether the tenant has Entra ID P2 could not be decided.", _not_understood(licence),
                      evidence, population)
    if not p2:
        return Outcome.of(Status.FAIL, "The tenant has no Entra ID P2 in force: entitlement management and access "
                                       "reviews are unavailable, so the MSSP access model cannot be governed here "
                                       f"({licence.evidence}).", evidence, population)
    units = licence.units(Level.P2) or Units(0, 0, 0)
    if units.owned:
        return Outcome.of(Status.PASS, f"Entra ID P2 is in force: {units.owned} units enabled{_expiring(units)}"
                                       f"{_not_counted(licence, units)}.", evidence, population)
    if units.expiring:
        return Outcome.of(Status.WARN, f"Entra ID P2 is in force only in the grace period after expiry: all "
                                       f"{units.expiring} units are expiring; renew them before the subscription is "
                                       "suspended.", evidence, population)
    if units.unreported and not units.not_understood:
        # capabilityStatus Enabled means at least one enabled unit (subscribedSku); how many is not said.
        return Outcome.of(Status.PASS, "Entra ID P2 is in force (prepaidUnits not reported for "
                                       f"{', '.join(units.unreported)}).", evidence, population)
    if units.not_understood:
        return _error("Entra ID P2 is in force but its units could not be counted.",
                      _not_understood(licence, units), evidence, population)
    return _error("Entra ID P2 is in force but no unit of it is enabled or expiring.",
                  f"subscribedSkus: a SKU in force without enabled or warning units contradicts the documented "
                  f"capabilityStatus ({licence.evidence})", evidence, population)


CHECKS = (p2_sizing, has_p2)
