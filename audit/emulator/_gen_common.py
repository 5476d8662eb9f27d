"""Shared helpers of the estate generator: seeded ids and dates relative to "now"."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

GraphObject = dict[str, Any]

# Entra shows "never" as this value in some tenants instead of leaving signInActivity out
# (graph-api.md §1, [community]); the generator plants both forms.
NEVER = "0001-01-01T00:00:00Z"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"

ANALYST_DOMAIN = "soc.mssp-analysts.example"     # the MSSP's dedicated analyst tenant (seed)
CORPORATE_DOMAIN = "mssp-corp.example"           # the MSSP's corporate tenant: guests from it are a finding
MSSP_DISPLAY = "Proseware SOC analysts"

FIRST_NAMES = (
    "Adele", "Alex", "Allan", "Bianca", "Brian", "Cameron", "Christie", "Debra", "Diego", "Emily",
    "Enrico", "Grady", "Henrietta", "Irvin", "Isaiah", "Johanna", "Joni", "Lee", "Lidia", "Lynne",
    "Megan", "Miriam", "Nestor", "Patti", "Pradeep", "Raul", "Sanjay", "Sofia", "Tomas", "Yuki",
)
LAST_NAMES = (
    "Vance", "Wilber", "Deyoung", "Kowalski", "Hall", "Mercer", "Cline", "Berry", "Siciliani",
    "Braun", "Rossi", "Archie", "Cantrell", "Bellew", "Langer", "Lang", "Sherman", "Gu", "Holloway",
    "Zrinski", "Bowen", "Clinton", "Wilke", "Fernandez", "Gupta", "Ortega", "Rao", "Lindqvist",
    "Novak", "Tanaka",
)
ANALYST_FIRST_NAMES = (
    "Josh", "Ava", "Omar", "Lena", "Ravi", "Mia", "Kai", "Nora", "Ivan", "Zoe", "Theo", "Lina",
)
JOB_TITLES = (
    "Store Manager", "Buyer", "Accountant", "Engineer", "Analyst", "Consultant", "Planner",
    "HR Partner", "Sales Lead", "Dispatcher", "Nurse", "Paralegal", "IT Administrator",
)
OFFICES = ("Seattle", "Redmond", "London", "Paris", "Oslo", "Madrid", "Remote")
VENDOR_DOMAINS = (
    "relecloud.example", "vanarsdel.example", "lamna-consulting.example", "trey-research.example",
    "margie-travel.example", "fourthcoffee.example", "outlook.example", "gmail.example",
)


# Bit masks uuid.UUID(int=..., version=4) applies; done by hand because a 1,000-tenant
# estate draws ~1.5 million ids and the UUID object costs more than the string.
_VERSION_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_SET = (0x4000 << 64) | (0x8000 << 48)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def new_uuid(rng: random.Random) -> str:
    """A v4-shaped UUID from a seeded RNG, so the estate is reproducible.

    Same value as ``str(uuid.UUID(int=rng.getrandbits(128), version=4))``.
    """
    h = "%032x" % ((rng.getrandbits(128) & _VERSION_CLEAR) | _VERSION_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass
class Ctx:
    """Randomness and the clock of one tenant's generation."""

    rng: random.Random
    now: datetime
    _day_names: dict[int, str] = field(default_factory=dict, repr=False)

    def uuid(self) -> str:
        return new_uuid(self.rng)

    def at(self, days: float = 0.0, *, hours: float = 0.0) -> str:
        """``now`` shifted by ``days`` (negative = past), Graph's ISO form with a ``Z``.

        Whole seconds, formatted by hand with a per-day cache: strftime dominated generation.
        """
        seconds = int((self.now - _EPOCH).total_seconds() + days * 86400 + hours * 3600)
        day, rest = divmod(seconds, 86400)
        name = self._day_names.get(day)
        if name is None:
            name = self._day_names[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
        return f"{name}T{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}Z"

    def date(self, days: float = 0.0) -> str:
        return (self.now + timedelta(days=days)).strftime("%Y-%m-%d")

    def between(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability


def guest_upn(mail: str, domain: str) -> str:
    # Graph: '@' of the external address becomes '_' and '#EXT#@<tenant>' is appended (§1).
    return f"{mail.replace('@', '_')}#EXT#@{domain}"


def user_identity(user: GraphObject) -> GraphObject:
    """The ``userIdentity`` complex type access reviews use for principals and reviewers."""
    return {
        "@odata.type": "#microsoft.graph.userIdentity",
        "id": user["id"],
        "displayName": user["displayName"],
        "userPrincipalName": user["userPrincipalName"],
    }
