"""The render batch: a file is drawn again only when what it shows changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from audit.render.batch import Renderer, RenderJob, content_key
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
