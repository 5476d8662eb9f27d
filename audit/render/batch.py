"""Render many customers: one process per core, and nothing re-rendered that has not changed.

WeasyPrint layout is CPU-bound and single-threaded (stack-notes.md: ~0.27 s per dense page), so
PDFs go to a process pool. A report whose view-model is unchanged since its file was written
(same content, whatever the generation time) is not rendered again: re-evaluating a stored run
only redraws the customers whose results changed.

A file that cannot be rendered (the writer raises, in a worker or here, or the worker dies) is
recorded in `Renderer.failed` with the reason and logged; no file is left at its path, and the
other files and customers are rendered as usual.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from audit.render.excel import write_customer_workbook
from audit.render.pdf import DEFAULT_PDF_OPTIONS, PdfOptions, render_customer_pdf
from audit.render.viewmodel import CustomerReport
from audit.snapshot.store import write_json
from audit.workers import TaskFailed, WorkerPool

CACHE_FILE = ".render-cache.json"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
log = logging.getLogger("audit.render")


@dataclass(frozen=True)
class RenderJob:
    report: CustomerReport           # every row: the PDF shows the first ones, the workbook all
    pdf: Path
    workbook: Path
    pdf_options: PdfOptions = DEFAULT_PDF_OPTIONS


def content_key(report: CustomerReport, options: PdfOptions | None = None) -> str:
    """What a file shows, minus when it was generated: the workbook's key is the report's, the PDF's
    also covers the options that bound its tables."""
    key = hashlib.sha256(repr(dataclasses.replace(report, generated_at=_EPOCH)).encode()).hexdigest()
    return key if options is None else _with_options(key, options)


def _with_options(report_key: str, options: PdfOptions) -> str:
    return hashlib.sha256(f"{report_key} {options!r}".encode()).hexdigest()


def _render(job: RenderJob, do_pdf: bool, do_workbook: bool) -> dict[Path, str]:
    """Write what is asked; return what could not be written and why. One file's failure does not
    stop the other (a PDF layout error still leaves the workbook with every row)."""
    failed: dict[Path, str] = {}
    if do_pdf:
        try:
            render_customer_pdf(job.report, job.pdf, job.pdf_options)
        except Exception as exc:  # the reason goes back to the parent: a worker has no log handler
            failed[job.pdf] = _reason("PDF", exc)
    if do_workbook:
        try:
            write_customer_workbook(job.report, job.workbook)
        except Exception as exc:
            failed[job.workbook] = _reason("workbook", exc)
    return failed


def _reason(what: str, exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {str(exc)[:300]}"
    return f"{what} rendering failed: {text}"


@dataclass(frozen=True)
class Rendered:
    """What drawing one job did: each file written with the cache key of what it shows, and each file
    that could not be written with the reason (no file is left at such a path)."""

    tenant_id: str
    customer: str
    written: dict[Path, str]
    failed: dict[Path, str]


def render_changed(job: RenderJob, cached: Mapping[str, str]) -> Rendered:
    """Draw those of the job's files whose content differs from what `cached` (file name → key) says
    is on disk, or that are missing. Runs in a worker process or here; never raises for a file."""
    workbook_key = content_key(job.report)          # one pass over the report serves both keys
    keys = {job.pdf: _with_options(workbook_key, job.pdf_options), job.workbook: workbook_key}
    wanted = {path: key for path, key in keys.items() if not path.exists() or cached.get(path.name) != key}
    failed = _render(job, job.pdf in wanted, job.workbook in wanted) if wanted else {}
    for path in failed:
        # What is at the path now (an earlier evaluation's file) does not show this report.
        if path.is_file():
            path.unlink()
    return Rendered(job.report.tenant_id, job.report.customer,
                    {path: key for path, key in wanted.items() if path not in failed}, failed)


class RenderCache:
    """Which report each file in a reports directory shows (`.render-cache.json`), and what the
    renders of one evaluation wrote and could not write."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / CACHE_FILE
        try:
            self._keys: dict[str, str] = json.loads(self.path.read_text()) if self.path.exists() else {}
        except ValueError:
            self._keys = {}
        self.written = 0
        self.failed: dict[Path, str] = {}   # file that could not be rendered → why

    def known(self, paths: Iterable[Path]) -> dict[str, str]:
        """The part of the cache a worker needs for these files."""
        return {p.name: self._keys[p.name] for p in paths if p.name in self._keys}

    def settle(self, rendered: Rendered) -> None:
        for path, reason in rendered.failed.items():
            if path.is_file():
                path.unlink()
            self._keys.pop(path.name, None)
            self.failed[path] = reason
            log.error("%s: %s", path.name, reason, extra={"tenant": rendered.tenant_id,
                                                          "customer": rendered.customer})
        for path, key in rendered.written.items():
            self._keys[path.name] = key
            self.written += 1

    def lost(self, job: RenderJob, reason: str) -> None:
        """The job never reached its end (it could not be handed over, or its worker died): neither
        file is claimed."""
        failure = _reason("render job", reason)
        self.settle(Rendered(job.report.tenant_id, job.report.customer, {},
                             {job.pdf: failure, job.workbook: failure}))

    def save(self) -> None:
        write_json(self.path, self._keys)


class Renderer:
    """Renders customers' reports in worker processes: a bounded number of reports waits in memory,
    so a run over thousands of tenants holds a few view-models at a time, not all of them."""

    def __init__(self, out_dir: Path, *, workers: int | None = None) -> None:
        self._cache = RenderCache(out_dir)
        self._pool = WorkerPool(workers)

    @property
    def written(self) -> int:
        return self._cache.written

    @property
    def failed(self) -> dict[Path, str]:
        return self._cache.failed

    def __enter__(self) -> Renderer:
        self._pool.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._pool.__exit__(*exc)
        finally:
            self._cache.save()

    def submit(self, job: RenderJob) -> None:
        def settle(result: Rendered | TaskFailed) -> None:
            if isinstance(result, TaskFailed):
                self._cache.lost(job, str(result))
            else:
                self._cache.settle(result)

        try:
            self._pool.submit(render_changed, (job, self._cache.known((job.pdf, job.workbook))), settle)
        except Exception as exc:  # the job could not even be handed over (the pool): it fails alone
            self._cache.lost(job, f"{type(exc).__name__}: {str(exc)[:300]}")
