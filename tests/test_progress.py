from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from audit.models import ResourceRecord, ResourceStatus, TenantManifest
from audit.progress import TenantProgress

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def test_progress_counts_done_in_flight_and_failed() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with TenantProgress(3, 2, console) as progress:
        progress.tenant_done(TenantManifest("t1", "A", NOW, True))
        progress.tenant_done(TenantManifest("t2", "B", NOW, False, "AADSTS7000229"))
        assert (progress.done, progress.failed) == (2, 1)
        progress.tenant_done(TenantManifest("t3", "C", NOW, True, "", (), {
            "guests": ResourceRecord("guests", "users", ResourceStatus.FAILED, reason="503")}))
    assert (progress.done, progress.failed) == (3, 2)
    assert "3/3" in out.getvalue() and "failed 2" in out.getvalue()
