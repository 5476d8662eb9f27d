"""A live line on a terminal while tenants are collected: done, in flight, failed."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from audit.models import ResourceStatus, TenantManifest


class TenantProgress:
    def __init__(self, total: int, in_flight: int, console: Console | None = None) -> None:
        self.total = total
        self.limit = in_flight
        self.done = 0
        self.failed = 0
        self._progress = Progress(TextColumn("[bold]collecting"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                                  console=console or Console(stderr=True), transient=False)
        self._task = self._progress.add_task("tenants", total=total, detail=self._detail())

    def _detail(self) -> str:
        flying = min(self.limit, self.total - self.done)
        return f"in flight {flying} · failed {self.failed}"

    def __enter__(self) -> TenantProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def tenant_done(self, manifest: TenantManifest) -> None:
        self.done += 1
        if not manifest.token_ok or any(r.status is ResourceStatus.FAILED for r in manifest.resources.values()):
            self.failed += 1
        self._progress.update(self._task, completed=self.done, detail=self._detail())
