"""The check catalogue: every area's checks, in the order the reports walk them."""

from __future__ import annotations

from audit.checks import (admins, app_permissions, cross_tenant, entitlement, entitlement_policies, gdap,
                          guest_settings, guests, licensing, rbac, reviews)
from audit.checks._framework import Check, Context, Outcome, evaluate, run_check, score

CATALOGUE: tuple[Check, ...] = (
    *entitlement.CHECKS, *entitlement_policies.CHECKS, *reviews.CHECKS, *guest_settings.CHECKS, *guests.CHECKS,
    *rbac.CHECKS, *admins.CHECKS, *licensing.CHECKS, *gdap.CHECKS, *cross_tenant.CHECKS, *app_permissions.CHECKS,
)
SPECS = {c.spec.id: c.spec for c in CATALOGUE}
assert len(SPECS) == len(CATALOGUE), "check ids must be unique"

__all__ = ["CATALOGUE", "SPECS", "Check", "Context", "Outcome", "evaluate", "run_check", "score"]
