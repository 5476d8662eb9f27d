"""Which Entra ID licence a tenant holds, decided once from `GET /subscribedSkus` (graph-api.md §7).

Everything that asks "does this tenant have P2?" asks `licence_state`: the checks' licence gate,
LIC-001/LIC-002, and the reports' licence figures. P2 is detected by its *service plan*
(AAD_PREMIUM_P2), never by SKU name, and counts only when the plan is provisioned ("Success") on a
SKU that is usable ("Enabled" or "Warning"). P2 includes every P1 capability, so either plan
grants what P1 grants (sign-in activity).

When subscribedSkus could not be read the state is *unknown*: nothing may be concluded from it,
neither a licence nor its absence.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from audit.normalize import TenantData

P2_PLAN = "eec0eb4f-6444-4f95-aba0-50c24d67f998"   # AAD_PREMIUM_P2
P1_PLAN = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"   # AAD_PREMIUM
USABLE_SKU = frozenset({"Enabled", "Warning"})      # capabilityStatus of a SKU whose plans are in force
PLAN_IN_FORCE = "Success"                           # servicePlans[].provisioningStatus


def plan_in_force(capability_status: str | None, provisioning_status: str | None) -> bool:
    """Whether one service plan of one SKU is in force: provisioned on a usable SKU."""
    return capability_status in USABLE_SKU and provisioning_status == PLAN_IN_FORCE


class Level(enum.Enum):
    """A licence level, by the service plan that carries it."""

    P1 = ("Entra ID P1", (P1_PLAN, P2_PLAN))       # P2 carries every P1 capability
    P2 = ("Entra ID P2", (P2_PLAN,))

    def __init__(self, title: str, plans: tuple[str, ...]) -> None:
        self.title, self.plans = title, plans


class Feature(enum.Enum):
    """A licence-gated Graph feature the audit reads, and the level it needs (graph-api.md §1–§3)."""

    ENTITLEMENT_MANAGEMENT = ("entitlement management", Level.P2)
    ACCESS_REVIEWS = ("access reviews", Level.P2)
    SIGN_IN_ACTIVITY = ("sign-in activity (signInActivity)", Level.P1)

    def __init__(self, title: str, level: Level) -> None:
        self.title, self.level = title, level


# Collected resources that exist only with the feature. Graph answers a tenant without the licence
# with 403 (AadPremiumLicenseRequired, Authentication_RequestFromNonPremiumTenantOrB2CTenant) or,
# in some tenants, with 200 and empty lists; the SKUs decide either way.
RESOURCE_FEATURES: dict[str, Feature] = {
    **dict.fromkeys(("connected_organizations", "catalogs", "access_packages", "assignments",
                     "assignment_requests", "em_settings"), Feature.ENTITLEMENT_MANAGEMENT),
    **dict.fromkeys(("review_definitions", "review_instances", "review_decisions"), Feature.ACCESS_REVIEWS),
    "guest_sign_ins": Feature.SIGN_IN_ACTIVITY,
}


@dataclass(frozen=True)
class Sku:
    """One subscribed SKU as far as licences go."""

    part_number: str | None
    capability_status: str | None
    p1_plan: str | None              # provisioningStatus of AAD_PREMIUM on this SKU; None: not on it
    p2_plan: str | None              # provisioningStatus of AAD_PREMIUM_P2 on this SKU; None: not on it
    enabled_units: int | None        # prepaidUnits.enabled
    suspended_units: int | None = None
    warning_units: int | None = None
    locked_out_units: int | None = None

    def grants(self, level: Level) -> bool:
        statuses = {P1_PLAN: self.p1_plan, P2_PLAN: self.p2_plan}
        return any(plan_in_force(self.capability_status, statuses[plan]) for plan in level.plans)

    @property
    def carries(self) -> Level | None:
        """The highest level whose plan this SKU carries, in force or not."""
        return Level.P2 if self.p2_plan is not None else Level.P1 if self.p1_plan is not None else None

    def describe(self) -> str:
        """'SPE_E5 (Enabled; P2 plan Success)', 'EMSPREMIUM (Suspended; P2 plan Success, SKU not usable)'…"""
        name = self.part_number or "unnamed SKU"
        status = self.capability_status or "status not given"
        level = self.carries
        if level is None:
            return f"{name} ({status}; no Entra ID P1/P2 plan)"
        plan = self.p2_plan if level is Level.P2 else self.p1_plan
        note = "" if self.grants(level) else (
            ", SKU not usable" if self.capability_status not in USABLE_SKU else ", plan not provisioned")
        return f"{name} ({status}; {'P2' if level is Level.P2 else 'P1'} plan {plan}{note})"


@dataclass(frozen=True)
class LicenceState:
    """The tenant's Entra ID licences; `skus` is None when subscribedSkus could not be read."""

    skus: tuple[Sku, ...] | None
    unknown_reason: str = ""

    @property
    def known(self) -> bool:
        return self.skus is not None

    def has(self, level: Level) -> bool | None:
        """True/False from the SKUs; None when they could not be read."""
        return None if self.skus is None else any(s.grants(level) for s in self.skus)

    @property
    def p2(self) -> bool | None:
        return self.has(Level.P2)

    @property
    def p1(self) -> bool | None:
        return self.has(Level.P1)

    def units(self, level: Level) -> int | None:
        """Enabled units of the SKUs that grant the level (a P2 licence per unit); None when unknown."""
        if self.skus is None:
            return None
        return sum(s.enabled_units or 0 for s in self.skus if s.grants(level))

    @property
    def evidence(self) -> str:
        """What the decision rests on, in one line: the SKUs seen and their plans."""
        if self.skus is None:
            return f"subscribedSkus could not be read ({self.unknown_reason})"
        if not self.skus:
            return "subscribedSkus lists no SKU"
        return "subscribedSkus: " + "; ".join(s.describe() for s in self.skus)

    def lacks(self, feature: Feature) -> str | None:
        """Why the tenant is not licensed for the feature; None when it is, or when that is unknown."""
        if self.has(feature.level) is not False:
            return None
        return f"the tenant has no {feature.level.title} for {feature.title} ({self.evidence})"


def licence_state(data: TenantData) -> LicenceState:
    """The tenant's licence state from its collected subscribedSkus."""
    record = data.record("subscribed_skus")
    table = data.tables.get("subscribed_skus")
    if table is None:
        why = record.reason or record.status.value
        return LicenceState(None, f"{record.status.value}: {why}" if record.reason else why)
    return licence_from_skus(table)


def licence_from_skus(skus: pl.DataFrame) -> LicenceState:
    """The state from a normalised subscribed_skus table (audit.normalize.directory.SKUS)."""
    return LicenceState(tuple(_sku(row) for row in skus.iter_rows(named=True)))


def _sku(row: dict[str, Any]) -> Sku:
    return Sku(row["sku_part_number"], row["capability_status"], row["p1_plan_status"], row["p2_plan_status"],
               row["enabled_units"], row["suspended_units"], row["warning_units"], row["locked_out_units"])


def features_of(resources: Iterable[str]) -> list[Feature]:
    """The licence-gated features a set of resources belongs to, in a stable order."""
    found = {RESOURCE_FEATURES[r] for r in resources if r in RESOURCE_FEATURES}
    return [f for f in Feature if f in found]
