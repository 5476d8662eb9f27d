"""The check catalogue: every area's checks, in the order the reports walk them."""

from __future__ import annotations

from audit.checks import (admins, app_permissions, cross_tenant, entitlement, entitlement_policies, gdap,
                          guest_settings, guests, licensing, rbac, reviews)
from audit.checks._framework import Check, Context, Outcome, evaluate, run_check, score
from audit.config import Config, ConfigError

CATALOGUE: tuple[Check, ...] = (
    *entitlement.CHECKS, *entitlement_policies.CHECKS, *reviews.CHECKS, *guest_settings.CHECKS, *guests.CHECKS,
    *rbac.CHECKS, *admins.CHECKS, *licensing.CHECKS, *gdap.CHECKS, *cross_tenant.CHECKS, *app_permissions.CHECKS,
)
SPECS = {c.spec.id: c.spec for c in CATALOGUE}
assert len(SPECS) == len(CATALOGUE), "check ids must be unique"



def validate_check_ids(config: Config) -> None:
    """Attestations and accepted risks must name checks of the catalogue: one for an unknown id can
    never apply, and would silently leave the check it was meant for unsettled. (audit.config is
    below the checks and cannot know the ids; the command line calls this right after loading.)"""
    for index, customer in enumerate(config.customers):
        for kind, entries in (("attestations", customer.attestations), ("accepted_risks", customer.accepted_risks)):
            for number, entry in enumerate(entries):
                if entry.check_id not in SPECS:
                    raise ConfigError(f"key 'customers[{index}].{kind}[{number}].check_id': {entry.check_id!r} is not "
                                      f"a check; known: {', '.join(SPECS)}")


__all__ = ["CATALOGUE", "SPECS", "Check", "Context", "Outcome", "evaluate", "run_check", "score", "validate_check_ids"]
