"""Writing a period's files: per customer a PDF and a workbook keyed by tenant id, and the portfolio
workbook, in a private output directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audit.period.model import PeriodReport
from audit.period.render import render_period_pdf
from audit.period.workbook import write_customer_workbook, write_portfolio_workbook
from audit.render.filenames import report_filename
from audit.snapshot.store import make_run_dir, private_files

PORTFOLIO_WORKBOOK = "portfolio-period.xlsx"


@dataclass(frozen=True)
class PeriodFiles:
    pdfs: tuple[Path, ...]
    workbooks: tuple[Path, ...]
    portfolio: Path


def default_out(data_dir: Path, report: PeriodReport) -> Path:
    return data_dir / "period" / f"{report.first}_{report.last}"


def write_period(report: PeriodReport, out: Path, group: str | None = None) -> PeriodFiles:
    """Each customer's PDF and workbook (that customer's rows only) and the portfolio workbook."""
    pdfs, workbooks = [], []
    with private_files(group):
        make_run_dir(out, group)
        for period in report.customers:
            pdfs.append(render_period_pdf(period, out / report_filename(
                f"{period.customer}-period", period.tenant_id, suffix=".pdf")))
            workbooks.append(write_customer_workbook(period, out / report_filename(
                f"{period.customer}-period", period.tenant_id, suffix=".xlsx")))
        portfolio = write_portfolio_workbook(report.customers, out / PORTFOLIO_WORKBOOK)
    return PeriodFiles(tuple(pdfs), tuple(workbooks), portfolio)
