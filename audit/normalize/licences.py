"""Which Entra ID licence a tenant holds, decided once from `GET /subscribedSkus` (graph-api.md §7).

Everything that asks "does this tenant have P2, and how many units?" asks `licence_state`: the
checks' licence gate, LIC-001/LIC-002, and the reports' licence figures (PDF and the portfolio's
Licences sheet). P2 is detected by its *service plan* (AAD_PREMIUM_P2), never by SKU name, and is in
force only when the plan is provisioned ("Success") on a SKU that is usable ("Enabled" or "Warning").
P2 includes every P1 capability, so either plan grants what P1 grants (sign-in activity).

Units (licenseUnitsDetail): only `enabled` units of a SKU whose plan is in force are owned; `warning`
units are in the grace period after expiry and are counted apart as *expiring* (the manager must
renew them); `suspended` and `lockedOut` units are not owned.

A value the Graph documentation does not list (a capabilityStatus, a provisioningStatus) is not
understood: the SKU then neither grants nor denies the level, and whoever reads it says which value
of which SKU was not understood. When subscribedSkus could not be read the state is *unknown*:
nothing may be concluded from it, neither a licence nor its absence.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from audit.models import ResourceRecord

if TYPE_CHECKING:
    from audit.normalize import TenantData

P2_PLAN = "eec0eb4f-6444-4f95-aba0-50c24d67f998"   # AAD_PREMIUM_P2
P1_PLAN = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"   # AAD_PREMIUM
PLAN_NAMES = {P1_PLAN: "AAD_PREMIUM", P2_PLAN: "AAD_PREMIUM_P2"}

# subscribedSku.capabilityStatus, the values the subscribedSku page lists, with what each means for the
# SKU's plans (the assignedPlan page's "capabilityStatus values" table, in the order a lapsing licence
# goes through them): (usable, meaning).
CAPABILITY: dict[str, tuple[bool, str]] = {
    "Enabled": (True, "available for normal use and assignment"),
    "Warning": (True, "in the grace period after expiry: usable until it is suspended"),
    "Suspended": (False, "unavailable for assignment: the subscription was cancelled"),
    "LockedOut": (False, "unavailable to all administrators and users: the subscription was cancelled"),
    "Deleted": (False, "unavailable; its data may be deleted"),
}
USABLE_SKU = frozenset(status for status, (usable, _) in CAPABILITY.items() if usable)
# servicePlanInfo.provisioningStatus, the values its page lists; only Success puts a plan in force.
PROVISIONING: dict[str, str] = {
    "Success": "fully provisioned",
    "Disabled": "the service is disabled",
    "Error": "not provisioned, in an error state",
    "PendingInput": "not provisioned, awaiting service confirmation",
    "PendingActivation": "awaiting explicit activation by an administrator",
    "PendingProvisioning": "added to the SKU but not activated in the tenant",
}
PLAN_IN_FORCE = "Success"


def _usable(capability_status: str | None) -> bool | None:
    known = CAPABILITY.get(capability_status) if isinstance(capability_status, str) else None
    return None if known is None else known[0]


def _provisioned(provisioning_status: str | None) -> bool | None:
    if not isinstance(provisioning_status, str) or provisioning_status not in PROVISIONING:
        return None
    return provisioning_status == PLAN_IN_FORCE


def plan_in_force(capability_status: str | None, provisioning_status: str | None) -> bool | None:
    """Whether one service plan of one SKU is in force: provisioned on a usable SKU. None when a value
    it rests on is not one the documentation lists (and the other does not already say no)."""
    usable, provisioned = _usable(capability_status), _provisioned(provisioning_status)
    if usable is False or provisioned is False:
        return False
    if usable is None or provisioned is None:
        return None
    return True


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
class Units:
    """Prepaid units of the SKUs that carry a level's plan, by what they are to the customer."""

    owned: int                       # `enabled` units of SKUs whose plan is in force
    expiring: int                    # `warning` units of those SKUs: grace period after expiry, renew them
    not_owned: int                   # `suspended` and `lockedOut` units (and every unit of an unusable SKU)
    unreported: tuple[str, ...] = ()     # SKUs in force whose prepaidUnits.enabled was not given
    not_understood: tuple[str, ...] = ()  # SKUs whose values are not understood (Sku.not_understood)

    @property
    def exact(self) -> bool:
        """Whether `owned` and `expiring` are the whole count, not a lower bound."""
        return not self.unreported and not self.not_understood


@dataclass(frozen=True)
class Sku:
    """One subscribed SKU as far as licences go."""

    part_number: str | None
    capability_status: str | None
    p1_plan: str | None              # provisioningStatus of AAD_PREMIUM on this SKU; None: not on it, "": not given
    p2_plan: str | None              # provisioningStatus of AAD_PREMIUM_P2 on this SKU; None: not on it, "": not given
    enabled_units: int | None        # prepaidUnits.enabled
    suspended_units: int | None = None
    warning_units: int | None = None
    locked_out_units: int | None = None

    @property
    def name(self) -> str:
        return self.part_number or "unnamed SKU"

    def _plans(self, level: Level) -> list[tuple[str, str]]:
        """(plan id, provisioningStatus) of the level's plans this SKU carries."""
        statuses = {P1_PLAN: self.p1_plan, P2_PLAN: self.p2_plan}
        return [(plan, status) for plan in level.plans if (status := statuses[plan]) is not None]

    def grants(self, level: Level) -> bool | None:
        """True: a plan of the level is in force; False: none is; None: a value it rests on is not understood."""
        found = [plan_in_force(self.capability_status, status) for _, status in self._plans(level)]
        return True if True in found else None if None in found else False

    def not_understood(self, level: Level) -> str | None:
        """Which of this SKU's values kept `grants(level)` from deciding, said for a report."""
        if self.grants(level) is not None:
            return None
        problems = []
        if _usable(self.capability_status) is None:
            problems.append("capabilityStatus not given" if self.capability_status is None else
                            f"capabilityStatus {self.capability_status!r} is not a documented value")
        problems += [f"provisioningStatus of its {PLAN_NAMES[plan]} plan not given" if not status else
                     f"provisioningStatus {status!r} of its {PLAN_NAMES[plan]} plan is not a documented value"
                     for plan, status in self._plans(level) if _provisioned(status) is None]
        return f"{self.name}: {'; '.join(problems)}"

    @property
    def carries(self) -> Level | None:
        """The highest level whose plan this SKU carries, in force or not."""
        return Level.P2 if self.p2_plan is not None else Level.P1 if self.p1_plan is not None else None

    def describe(self) -> str:
        """'SPE_E5 (Enabled; P2 plan Success)', 'EMSPREMIUM (Suspended; P2 plan Success, SKU not usable)'…"""
        status = self.capability_status or "capabilityStatus not given"
        level = self.carries
        if level is None:
            return f"{self.name} ({status}; no Entra ID P1/P2 plan)"
        plan = self.p2_plan if level is Level.P2 else self.p1_plan
        grants = self.grants(level)
        if grants:
            note = ", grace period after expiry" if self.capability_status == "Warning" else ""
        elif grants is False:
            note = (", SKU not usable" if _usable(self.capability_status) is False else
                    f", plan not in force: {PROVISIONING.get(plan or '', plan)}")
        else:
            note = ", not understood: " + (self.not_understood(level) or "").removeprefix(f"{self.name}: ")
        shown = plan or "provisioningStatus not given"
        return f"{self.name} ({status}; {'P2' if level is Level.P2 else 'P1'} plan {shown}{note})"

    def units(self, level: Level) -> Units:
        """This SKU's prepaid units as far as the level goes (zero when it does not carry the level's plan)."""
        grants = self.grants(level)
        if grants is None:
            return Units(0, 0, 0, not_understood=(self.not_understood(level) or self.name,))
        if not any(_provisioned(status) for _, status in self._plans(level)):
            return Units(0, 0, 0)          # the plan is not on this SKU, or not provisioned: not this level's units
        counts = {"enabled": self.enabled_units, "warning": self.warning_units, "suspended": self.suspended_units,
                  "lockedOut": self.locked_out_units}
        negative = [f"prepaidUnits.{name} {value}" for name, value in counts.items() if value is not None and value < 0]
        if negative:                       # Int32 counts of licences: a negative one is not a count
            return Units(0, 0, 0, not_understood=(f"{self.name}: {', '.join(negative)} is negative",))
        gone = (self.suspended_units or 0) + (self.locked_out_units or 0)
        if not grants:                     # provisioned on an unusable SKU: nothing of it is owned
            return Units(0, 0, gone + (self.enabled_units or 0) + (self.warning_units or 0))
        return Units(self.enabled_units or 0, self.warning_units or 0, gone,
                     unreported=() if self.enabled_units is not None else (self.name,))


@dataclass(frozen=True)
class LicenceState:
    """The tenant's Entra ID licences; `skus` is None when subscribedSkus could not be read."""

    skus: tuple[Sku, ...] | None
    unknown_reason: str = ""

    @property
    def known(self) -> bool:
        return self.skus is not None

    def has(self, level: Level) -> bool | None:
        """True/False from the SKUs; None when they could not be read, or when no SKU grants the level and
        one of them carries a value that is not understood."""
        if self.skus is None:
            return None
        found = [s.grants(level) for s in self.skus]
        return True if True in found else None if None in found else False

    @property
    def p2(self) -> bool | None:
        return self.has(Level.P2)

    @property
    def p1(self) -> bool | None:
        return self.has(Level.P1)

    def not_understood(self, level: Level) -> tuple[str, ...]:
        """What the SKUs say about the level that is not understood, one line per SKU."""
        return tuple(why for s in self.skus or () if (why := s.not_understood(level)))

    def units(self, level: Level) -> Units | None:
        """The units of the level across all SKUs; None when subscribedSkus could not be read."""
        if self.skus is None:
            return None
        parts = [s.units(level) for s in self.skus]
        return Units(sum(p.owned for p in parts), sum(p.expiring for p in parts), sum(p.not_owned for p in parts),
                     tuple(n for p in parts for n in p.unreported), tuple(n for p in parts for n in p.not_understood))

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
    """The tenant's licence state from its collected subscribedSkus (computed once per tenant)."""
    return data.licence


def licence_from_record(record: ResourceRecord, table: pl.DataFrame | None) -> LicenceState:
    """The state from the subscribedSkus record and its normalised table (None: not read)."""
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
