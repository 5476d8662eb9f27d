"""The render batch: a file is drawn again only when what it shows changed."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from audit.render.batch import CACHE_FILE, Renderer, RenderJob, content_key
from audit.render.pdf import PdfOptions

from . import factories


def test_the_pdf_key_covers_its_options_and_the_workbook_key_does_not() -> None:
    report = factories.customer_report(guests=3)
    later = replace(report, generated_at=report.generated_at + timedelta(hours=5))
    assert content_key(report) == content_key(later)                      # generation time is not content
    assert content_key(report, PdfOptions()) == content_key(later, PdfOptions())
    assert content_key(report, PdfOptions()) != content_key(report, PdfOptions(evidence_rows=3))
    assert content_key(report, PdfOptions()) != content_key(report)
    assert content_key(report) != content_key(replace(report, score=12.5))


def test_unchanged_reports_are_not_drawn_again_and_new_pdf_options_redraw_only_the_pdf(tmp_path: Path) -> None:
    report = factories.customer_report(guests=3)
    pdf, book = tmp_path / "c.pdf", tmp_path / "c.xlsx"
    with Renderer(tmp_path, workers=1) as renderer:
        renderer.submit(RenderJob(report, pdf, book))
    assert renderer.written == 2 and pdf.exists() and book.exists()
    first_pdf, first_book = pdf.read_bytes(), book.read_bytes()

    with Renderer(tmp_path, workers=1) as again:                          # the cache file carries over
        again.submit(RenderJob(replace(report, generated_at=report.generated_at + timedelta(days=1)), pdf, book))
    assert again.written == 0 and pdf.read_bytes() == first_pdf and book.read_bytes() == first_book

    with Renderer(tmp_path, workers=1) as options_changed:
        options_changed.submit(RenderJob(report, pdf, book, PdfOptions(evidence_rows=2)))
    assert options_changed.written == 1 and book.read_bytes() == first_book

    with Renderer(tmp_path, workers=1) as content_changed:
        content_changed.submit(RenderJob(replace(report, score=1.0), pdf, book, PdfOptions(evidence_rows=2)))
    assert content_changed.written == 2


def _in_the_way(path: Path) -> None:
    """A directory where the file goes: writing it fails for real, at the atomic rename."""
    (path / "in-the-way").mkdir(parents=True)


def test_a_file_that_cannot_be_rendered_is_recorded_and_the_others_are_drawn(tmp_path: Path) -> None:
    report = factories.customer_report(guests=3)
    for workers in (2, 1):                                     # in a worker, and in this process
        out = tmp_path / f"workers-{workers}"
        out.mkdir()
        _in_the_way(out / "bad.pdf")
        with Renderer(out, workers=workers) as renderer:
            renderer.submit(RenderJob(report, out / "bad.pdf", out / "bad.xlsx"))
            renderer.submit(RenderJob(report, out / "good.pdf", out / "good.xlsx"))
        assert list(renderer.failed) == [out / "bad.pdf"], workers
        assert renderer.failed[out / "bad.pdf"] == f"PDF rendering failed: StorageError: cannot write {out / 'bad.pdf'}: Is a directory"
        assert (out / "bad.xlsx").is_file() and (out / "good.pdf").is_file() and (out / "good.xlsx").is_file()
        assert renderer.written == 3
        cache = json.loads((out / CACHE_FILE).read_text())
        assert "bad.pdf" not in cache and {"bad.xlsx", "good.pdf", "good.xlsx"} <= cache.keys()


    # Once the obstacle is gone, the next run draws the failed file, and only it.
    shutil.rmtree(out / "bad.pdf")
    with Renderer(out, workers=1) as again:
        again.submit(RenderJob(report, out / "bad.pdf", out / "bad.xlsx"))
        again.submit(RenderJob(report, out / "good.pdf", out / "good.xlsx"))
    assert again.written == 1 and not again.failed and (out / "bad.pdf").is_file()


def test_a_failed_file_leaves_no_earlier_file_at_its_path(tmp_path: Path) -> None:
    report = factories.customer_report(guests=3)
    pdf, book = tmp_path / "c.pdf", tmp_path / "c.xlsx"
    with Renderer(tmp_path, workers=1) as renderer:
        renderer.submit(RenderJob(report, pdf, book))
    book.unlink()
    _in_the_way(book)                                          # the next evaluation cannot write the workbook
    changed = replace(report, score=1.0)
    with Renderer(tmp_path, workers=1) as again:
        again.submit(RenderJob(changed, pdf, book))
    assert list(again.failed) == [book] and again.failed[book].startswith("workbook rendering failed")
    assert pdf.is_file() and again.written == 1


class _KillsTheWorker:
    """Unpickled in a render worker, it ends that process the way an out-of-memory kill would."""

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return os._exit, (3,)


def test_a_dead_worker_loses_only_the_jobs_it_held(tmp_path: Path) -> None:
    report = factories.customer_report(guests=3)
    killer = replace(report, extra={"kills": _KillsTheWorker()})
    jobs = [RenderJob(killer, tmp_path / "killer.pdf", tmp_path / "killer.xlsx")] + [
        RenderJob(report, tmp_path / f"c{i}.pdf", tmp_path / f"c{i}.xlsx") for i in range(5)]
    with Renderer(tmp_path, workers=2) as renderer:
        for job in jobs:                # the fifth job settles the killer's: the pool is found broken
            renderer.submit(job)
    assert {tmp_path / "killer.pdf", tmp_path / "killer.xlsx"} <= renderer.failed.keys()
    assert all("BrokenProcessPool" in reason for reason in renderer.failed.values())
    for job in jobs[1:]:                # lost with the pool, or drawn: never claimed without a file
        for path in (job.pdf, job.workbook):
            assert (path in renderer.failed) != path.is_file(), path
    assert jobs[-1].pdf.is_file() and jobs[-1].workbook.is_file()    # a new pool drew the one after
