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
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from audit.render._lifeline import watch_main
from audit.render.excel import write_customer_workbook
from audit.render.pdf import DEFAULT_PDF_OPTIONS, PdfOptions, render_customer_pdf
from audit.render.viewmodel import CustomerReport
from audit.snapshot.store import write_json

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


@dataclass(frozen=True)
class _Keys:
    pdf: str
    workbook: str


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


def _reason(what: str, exc: BaseException) -> str:
    return f"{what} rendering failed: {type(exc).__name__}: {str(exc)[:300]}"


class Renderer:
    """Renders customers as they are evaluated: a bounded number of reports waits in memory, so a
    run over thousands of tenants holds a few view-models at a time, not all of them."""

    def __init__(self, out_dir: Path, *, workers: int | None = None) -> None:
        self._cache_path = out_dir / CACHE_FILE
        try:
            self._cache: dict[str, str] = json.loads(self._cache_path.read_text()) if self._cache_path.exists() else {}
        except ValueError:
            self._cache = {}
        self._workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[tuple[Future[dict[Path, str]], RenderJob, _Keys, bool, bool]] = []
        self.written = 0
        self.failed: dict[Path, str] = {}   # file that could not be rendered → why

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self._drain(0)
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=exc[0] is not None)
            write_json(self._cache_path, self._cache)

    def submit(self, job: RenderJob) -> None:
        try:
            self._submit(job)
        except Exception as exc:  # the job could not even be handed over (its key, the pool): it fails alone
            reason = _reason("render job", exc)
            self._done(job, _Keys("", ""), True, True, {job.pdf: reason, job.workbook: reason})

    def _submit(self, job: RenderJob) -> None:
        workbook_key = content_key(job.report)      # one pass over the report serves both keys
        key = _Keys(_with_options(workbook_key, job.pdf_options), workbook_key)
        do_pdf = not job.pdf.exists() or self._cache.get(job.pdf.name) != key.pdf
        do_workbook = not job.workbook.exists() or self._cache.get(job.workbook.name) != key.workbook
        if not (do_pdf or do_workbook):
            return
        if self._workers <= 1:
            self._done(job, key, do_pdf, do_workbook, _render(job, do_pdf, do_workbook))
            return
        if self._pool is None:
            # forkserver, not fork: the parent may run threads (the emulator, MSAL) that fork would copy mid-lock.
            # Each worker watches this process and ends with it, even when it is killed (audit.render._lifeline).
            self._pool = ProcessPoolExecutor(max_workers=self._workers,
                                             mp_context=multiprocessing.get_context("forkserver"),
                                             initializer=watch_main, initargs=(os.getpid(),))
        self._pending.append((self._pool.submit(_render, job, do_pdf, do_workbook), job, key, do_pdf, do_workbook))
        self._drain(2 * self._workers)

    def _drain(self, keep: int) -> None:
        while len(self._pending) > keep:
            future, job, key, do_pdf, do_workbook = self._pending.pop(0)
            try:
                failed = future.result()
            except Exception as exc:
                if isinstance(exc, BrokenProcessPool) and self._pool is not None:
                    # A worker died (killed, out of memory): every job still pending was in this pool
                    # and is lost with it, so all are settled now; a new pool serves the customers to come.
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = None
                    keep = 0
                failed = {path: _reason("render job", exc)
                          for path, wanted in ((job.pdf, do_pdf), (job.workbook, do_workbook)) if wanted}
            self._done(job, key, do_pdf, do_workbook, failed)

    def _done(self, job: RenderJob, key: _Keys, do_pdf: bool, do_workbook: bool, failed: dict[Path, str]) -> None:
        for path, cache_key, wanted in ((job.pdf, key.pdf, do_pdf), (job.workbook, key.workbook, do_workbook)):
            if not wanted:
                continue
            if path in failed:
                # What is at the path now (an earlier evaluation's file) does not show this report.
                if path.is_file():
                    path.unlink()
                self._cache.pop(path.name, None)
                self.failed[path] = failed[path]
                log.error("%s: %s", path.name, failed[path], extra={"tenant": job.report.tenant_id,
                                                                    "customer": job.report.customer})
                continue
            self._cache[path.name] = cache_key
            self.written += 1
