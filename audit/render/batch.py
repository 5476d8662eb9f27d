"""Render many customers: one process per core, and nothing re-rendered that has not changed.

WeasyPrint layout is CPU-bound and single-threaded (stack-notes.md: ~0.27 s per dense page), so
PDFs go to a process pool. A report whose view-model is unchanged since its file was written
(same content, whatever the generation time) is not rendered again: re-evaluating a stored run
only redraws the customers whose results changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from audit.render.excel import write_customer_workbook
from audit.render.pdf import render_customer_pdf
from audit.render.viewmodel import CustomerReport
from audit.snapshot.store import write_json

CACHE_FILE = ".render-cache.json"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RenderJob:
    pdf_report: CustomerReport       # bounded tables for the PDF
    full_report: CustomerReport      # every row, for the workbook
    pdf: Path
    workbook: Path


def content_key(report: CustomerReport) -> str:
    """What the file shows, minus when it was generated."""
    return hashlib.sha256(repr(dataclasses.replace(report, generated_at=_EPOCH)).encode()).hexdigest()


def _render(job: RenderJob, do_pdf: bool, do_workbook: bool) -> None:
    if do_pdf:
        render_customer_pdf(job.pdf_report, job.pdf)
    if do_workbook:
        write_customer_workbook(job.full_report, job.workbook)


def render_customers(jobs: Sequence[RenderJob], out_dir: Path, *, workers: int | None = None) -> int:
    """Render what changed; returns how many files were (re)written."""
    cache_path = out_dir / CACHE_FILE
    try:
        cache: dict[str, str] = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    except ValueError:
        cache = {}
    todo: list[tuple[RenderJob, bool, bool]] = []
    for job in jobs:
        do_pdf = not job.pdf.exists() or cache.get(job.pdf.name) != content_key(job.pdf_report)
        do_workbook = not job.workbook.exists() or cache.get(job.workbook.name) != content_key(job.full_report)
        if do_pdf or do_workbook:
            todo.append((job, do_pdf, do_workbook))
    workers = min(workers or os.cpu_count() or 1, len(todo))
    if workers <= 1:
        for job, do_pdf, do_workbook in todo:
            _render(job, do_pdf, do_workbook)
    else:
        # forkserver, not fork: the parent may run threads (the emulator, MSAL) that fork would copy mid-lock.
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
            futures: list[Future[None]] = [pool.submit(_render, *item) for item in todo]
            for future in futures:
                future.result()
    for job, do_pdf, do_workbook in todo:
        if do_pdf:
            cache[job.pdf.name] = content_key(job.pdf_report)
        if do_workbook:
            cache[job.workbook.name] = content_key(job.full_report)
    write_json(cache_path, cache)
    return sum(int(p) + int(w) for _, p, w in todo)
