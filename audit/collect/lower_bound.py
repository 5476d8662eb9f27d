"""Requests spent against the fewest any client could spend, per tenant (issue: ≤ 1.10 ×)."""

from __future__ import annotations

from audit.models import ResourceStatus, TenantManifest


def tenant_requests(manifest: TenantManifest, *, retries: bool = True) -> tuple[int, int]:
    """(requests spent, lower bound) over the tenant's completed resources.

    `retries=False` leaves out requests repeated because of throttling or injected faults, which
    no client can avoid; what remains measures the collector's own choices (page sizes, $batch).
    """
    used = bound = 0
    for record in manifest.resources.values():
        if record.status is not ResourceStatus.OK or not record.lower_bound:
            continue
        used += record.requests - (0 if retries else record.retries)
        bound += record.lower_bound
    return used, bound
