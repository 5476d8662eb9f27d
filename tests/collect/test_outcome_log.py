"""Each tenant's outcome in the log: a resource someone must act on is a warning naming the tenant
and the resource; Graph's "none configured" 404 and a missing licence are info."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from audit.collect.run import log_outcome
from audit.models import ResourceRecord, ResourceStatus, TenantManifest
from audit.resources import bind

TENANT = "11111111-1111-4111-8111-111111111111"
SPECS = bind("22222222-2222-4222-8222-222222222222", ("Tier 1 Analyst",))


def _manifest(**statuses: ResourceStatus) -> TenantManifest:
    return TenantManifest(TENANT, "Contoso", datetime(2026, 11, 22, tzinfo=UTC), True, "", (),
                          {name: ResourceRecord(name, name, status, reason=f"{status.value} reason")
                           for name, status in statuses.items()})


def _lines(caplog: pytest.LogCaptureFixture) -> dict[str | None, tuple[str, str]]:
    """resource (None for the tenant's summary line) → (level, message)."""
    return {getattr(r, "resource", None): (r.levelname, r.getMessage()) for r in caplog.records}


def test_forbidden_failed_and_unexpected_not_found_are_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "audit.collect")
    log_outcome(_manifest(guests=ResourceStatus.OK, guest_sign_ins=ResourceStatus.FORBIDDEN,
                          catalogs=ResourceStatus.NOT_FOUND, groups=ResourceStatus.FAILED,
                          group_members=ResourceStatus.SKIPPED), SPECS)
    lines = _lines(caplog)
    assert lines["guest_sign_ins"] == ("WARNING", f"tenant {TENANT} (Contoso): guest_sign_ins forbidden: "
                                                  "forbidden reason")
    assert lines["catalogs"][0] == "WARNING" and "catalogs not_found" in lines["catalogs"][1]
    assert lines["groups"][0] == "WARNING"
    assert "guests" not in lines and "group_members" not in lines     # read, or skipped for its failed parent
    assert lines[None] == ("WARNING", f"tenant {TENANT} (Contoso): collected, 3 resource(s) not read")
    assert all(r.tenant == TENANT and r.customer == "Contoso" for r in caplog.records)   # type: ignore[attr-defined]


def test_none_configured_and_not_licensed_are_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "audit.collect")
    log_outcome(_manifest(cross_tenant_partner=ResourceStatus.NOT_FOUND, identity_sync=ResourceStatus.NOT_FOUND,
                          access_packages=ResourceStatus.NOT_LICENSED), SPECS)
    lines = _lines(caplog)
    assert {name: level for name, (level, _) in lines.items()} == {
        "cross_tenant_partner": "INFO", "identity_sync": "INFO", "access_packages": "INFO", None: "INFO"}
    assert lines[None][1] == f"tenant {TENANT} (Contoso): collected"


def test_an_unreached_tenant_is_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "audit.collect")
    log_outcome(TenantManifest(TENANT, "Contoso", datetime(2026, 11, 22, tzinfo=UTC), False, "AADSTS7000229"), SPECS)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"tenant {TENANT} (Contoso): not reached: AADSTS7000229")]
