"""The audit app's own permissions, read from the `roles` claim of each tenant's token.

Microsoft says clients should not depend on tokens for APIs they don't own, so this is a hint
from the token, not proof (graph-api.md §11); it is exactly what Graph enforced for this run.
"""

from __future__ import annotations

import re

from audit.checks import references as ref
from audit.checks._framework import Context, Outcome, check
from audit.config import Expectations
from audit.models import CheckSpec, Population, Severity, Status
from audit.normalize import TenantData
from audit.resources import opt_in_flags
from audit.resources import permissions as required_permissions  # what the catalogue's resources need

AREA = "Audit application"
# Any permission that can change something: *.ReadWrite.*, *.Write.*, *.Manage.*, Directory.AccessAsUser…
WRITE = re.compile(r"\.(ReadWrite|Write|Manage|Send|Create|Delete|Update)(\.|$)|ReadWrite|AccessAsUser", re.I)


def opted_in(expectations: Expectations) -> tuple[str, ...]:
    return tuple(flag for flag in opt_in_flags() if getattr(expectations, flag))


def write_permissions(roles: tuple[str, ...]) -> list[str]:
    return sorted(r for r in roles if WRITE.search(r))


@check(CheckSpec(
    id="APP-001", version=1, title="The audit app holds no write permission", area=AREA, severity=Severity.HIGH,
    requirement="The application used by mssp-audit holds only read permissions in the customer tenant.",
    rationale="The audit only reads; a write permission on its credential turns a stolen audit certificate "
              "into a way to change the customer's directory.",
    remediation="Remove the listed application permissions from the app's API permissions and re-consent.",
    references=(ref.PERMISSIONS.at("application permissions, least privileged first"),),
    resources=(),
))
def no_write_permissions(data: TenantData, ctx: Context) -> Outcome:
    roles = data.manifest.granted_roles
    if not roles:
        # An app-only token without a roles claim holds no permission, or the claim was not issued:
        # either way there is nothing to judge (graph-api.md §11: the claim is a hint).
        return Outcome.not_applicable("the tenant's token carried no roles claim",
                                      population=Population("granted permissions", 0))
    writes = write_permissions(roles)
    evidence = [{"permission": r, "kind": "write" if r in writes else "read"} for r in roles]
    population = Population("granted permissions", len(roles), len(roles) - len(writes), "are read-only")
    if writes:
        return Outcome.of(Status.FAIL, f"The audit app holds write permission(s): {', '.join(writes)}.", evidence,
                          population)
    return Outcome.of(Status.PASS, f"The audit app holds {len(roles)} read-only permission(s).", evidence,
                      population)


@check(CheckSpec(
    id="APP-002", version=1, title="The audit app has every permission it needs", area=AREA, severity=Severity.MEDIUM,
    requirement="The application holds every read permission mssp-audit needs, so no check is left without "
                "evidence.",
    rationale="A missing permission leaves checks in ERROR: the customer is not audited where it matters.",
    remediation="Grant the listed permissions and have the customer's administrator consent again "
                "(`mssp-audit permissions` prints the consent URL).",
    references=(ref.PERMISSIONS.at("application permissions the audit needs for each Graph request"),),
    resources=(),
))
def has_needed_permissions(data: TenantData, ctx: Context) -> Outcome:
    roles = set(data.manifest.granted_roles)
    needed = required_permissions(opted_in=opted_in(ctx.config.expectations))
    missing = [p for p in needed if p not in roles]
    evidence = [{"permission": p, "granted": p in roles} for p in needed]
    population = Population("needed permissions", len(needed), len(needed) - len(missing), "are granted")
    if missing:
        return Outcome.of(Status.FAIL, f"Missing permission(s): {', '.join(missing)}.", evidence, population)
    return Outcome.of(Status.PASS, "Every needed permission is granted.", evidence, population)


CHECKS = (no_write_permissions, has_needed_permissions)
