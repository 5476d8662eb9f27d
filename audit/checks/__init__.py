"""The check catalogue: every area's checks, in the order the reports walk them.

Framework mappings are data (mappings.toml), kept out of the checks; they are validated against
the catalogue and filled into each spec here, so every report reads them from `spec.frameworks`.
"""

from __future__ import annotations

import dataclasses

from audit.checks import (admins, app_permissions, cross_tenant, entitlement, entitlement_policies, gdap,
                          guest_settings, guests, licensing, rbac, reviews)
from audit.checks._framework import Check, Context, Outcome, evaluate, run_check, score
from audit.checks.mappings import MappingError, Mappings, load_mappings
from audit.config import Config, ConfigError

_CHECKS: tuple[Check, ...] = (
    *entitlement.CHECKS, *entitlement_policies.CHECKS, *reviews.CHECKS, *guest_settings.CHECKS, *guests.CHECKS,
    *rbac.CHECKS, *admins.CHECKS, *licensing.CHECKS, *gdap.CHECKS, *cross_tenant.CHECKS, *app_permissions.CHECKS,
)
assert len({c.spec.id for c in _CHECKS}) == len(_CHECKS), "check ids must be unique"


def with_frameworks(checks: tuple[Check, ...], mappings: Mappings) -> tuple[Check, ...]:
    return tuple(dataclasses.replace(c, spec=dataclasses.replace(c.spec, frameworks=mappings.for_check(c.spec.id)))
                 for c in checks)


MAPPINGS = load_mappings([c.spec.id for c in _CHECKS])
CATALOGUE: tuple[Check, ...] = with_frameworks(_CHECKS, MAPPINGS)
SPECS = {c.spec.id: c.spec for c in CATALOGUE}


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


__all__ = ["CATALOGUE", "MAPPINGS", "SPECS", "Check", "Context", "MappingError", "Mappings", "Outcome", "evaluate",
           "run_check", "score", "validate_check_ids"]
