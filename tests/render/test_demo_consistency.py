"""Every number a customer's PDF prints equals results.json and the workbooks, over the demo estate.

The demo night runs once through the real pipeline (emulator, MSAL, httpx), then once more offline
as of a later date (`evaluate --as-of`). The PDFs are read back with pypdf, the workbooks with
openpyxl: counts per status, score, evidence rows, days left, expiry buckets, licence figures and
populations must be the same wherever they are printed, and "tenant with errors" must mean the same
on the console, in summary.json, in `runs show` and in the portfolio.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import tomli_w
from openpyxl.workbook.workbook import Workbook
from pypdf import PdfReader
from typer.testing import CliRunner

from audit import expiry
from audit.cli import _report, app
from audit.config import Config
from audit.demo import demo_config, demo_environment
from audit.models import Status
from audit.normalize.governance import HOLDS_ACCESS
from audit.pipeline import CustomerOutcome, RunOutcome, evaluate_and_render, run
from audit.render.templates import format_score
from audit.snapshot.store import RunStore, read_json

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
AS_OF = NOW + timedelta(days=12, hours=5)
SEVERITIES = ("Critical", "High", "Medium", "Low", "Info")
STATUS_WORDS = "|".join(s.value for s in Status)
EXPIRY_LABEL = "|".join(re.escape(b) for b in expiry.BUCKETS)


@dataclass(frozen=True)
class Night:
    config: Config
    config_path: Path
    outcome: RunOutcome
    console: str
    evaluated_at: datetime

    @property
    def root(self) -> Path:
        return self.outcome.root


def _console(outcome: RunOutcome) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        _report(outcome)
    return printed.getvalue()


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Night, Night]:
    """The night as collected, and the same evidence evaluated again as of AS_OF in a copy."""
    out = tmp_path_factory.mktemp("night")
    with demo_environment(now=NOW, customers=8, seed=7) as env:
        config = demo_config(env.estate, env.server, env.certificate_path, out / "data")
        outcome = run(config, now=NOW)
    config_path = out / "config.toml"
    config_path.write_text(tomli_w.dumps(config.model_dump(mode="json", exclude_none=True)))
    first = Night(config, config_path, outcome, _console(outcome), NOW)

    later_dir = out / "as-of"
    shutil.copytree(out / "data", later_dir / "data", symlinks=True)
    later_config = config.model_copy(update={"output": config.output.model_copy(update={"data_dir": later_dir / "data"})})
    later_path = later_dir / "config.toml"
    later_path.write_text(tomli_w.dumps(later_config.model_dump(mode="json", exclude_none=True)))
    store = RunStore(later_dir / "data", outcome.run_id)
    later = evaluate_and_render(later_config, store, as_of=AS_OF)
    return first, Night(later_config, later_path, later, _console(later), AS_OF)


@pytest.fixture(scope="module")
def night(nights: tuple[Night, Night]) -> Night:
    return nights[0]


# --- reading back ------------------------------------------------------------------------------------------------

@cache
def pdf_pages(path: Path) -> tuple[str, ...]:
    return tuple((p.extract_text() or "").replace("\u2068", "").replace("\u2069", "").replace("\u200b", "")
                 for p in PdfReader(path).pages)


def flat(text: str) -> str:
    return " ".join(text.split())


@cache
def book(path: Path) -> Workbook:
    return openpyxl.load_workbook(path)


def sheet_rows(path: Path, name: str, header_row: int = 1) -> list[dict[str, Any]]:
    ws = book(path)[name]
    header = [c.value for c in ws[header_row]]
    return [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=header_row + 1, values_only=True)
            if any(v is not None for v in r)]


def results_of(night: Night, customer: CustomerOutcome) -> dict[str, Any]:
    # A later evaluation writes under evaluations/<id>/ (outputs); the night's own beside the evidence.
    return read_json((night.outcome.outputs or night.root) / "tenants" / customer.tenant_id / "results.json")


def summary_page(customer: CustomerOutcome) -> str:
    assert customer.pdf is not None
    return next(p for p in pdf_pages(customer.pdf) if "RESULTS BY STATUS" in p)


def findings_text(customer: CustomerOutcome) -> str:
    assert customer.pdf is not None
    pages = pdf_pages(customer.pdf)
    start = next(i for i, p in enumerate(pages) if "Failed, warning and error results in full" in p)
    end = next(i for i, p in enumerate(pages) if "Methodology and provenance" in p and i > start)
    return "\n".join(pages[start:end])


def customer_summary(customer: CustomerOutcome) -> dict[str, Any]:
    assert customer.workbook is not None
    return {row[0]: row[1] for row in book(customer.workbook)["Summary"].iter_rows(min_row=2, values_only=True)}


def portfolio_row(night: Night, sheet: str, tenant_id: str) -> list[dict[str, Any]]:
    assert night.outcome.portfolio is not None
    return [r for r in sheet_rows(night.outcome.portfolio, sheet) if isinstance(r.get("Tenant ID"), str) and r["Tenant ID"].lower() == tenant_id]


# --- the numbers ---------------------------------------------------------------------------------------------------

def test_counts_per_status_and_the_score_are_the_same_everywhere(night: Night) -> None:
    for customer in night.outcome.customers:
        results = results_of(night, customer)
        counts = Counter(r["status"] for r in results["results"])
        page = summary_page(customer)
        section = page[page.index("RESULTS BY STATUS"):page.index("FAILED AND WARNING RESULTS BY SEVERITY")]
        printed = [int(n) for n in re.findall(r"\b\d+\b", section)]
        assert printed == [counts.get(s.value, 0) for s in Status], customer.name
        score = re.search(r"(\d+(?:\.\d)?|n/a)\s*Score out of 100", page)
        assert score and score.group(1) == format_score(results["score"]), customer.name
        workbook = customer_summary(customer)
        assert all(workbook[f"Results {s.value}"] == counts.get(s.value, 0) for s in Status), customer.name
        assert workbook["Score (0-100)"] == (results["score"] if results["score"] is not None else "n/a")
        (row,) = portfolio_row(night, "Summary", customer.tenant_id)
        assert all(row[s.value] == counts.get(s.value, 0) for s in Status), customer.name
        assert row["Score"] == results["score"], customer.name
        assert customer.counts == {s.value: counts.get(s.value, 0) for s in Status}


def test_failing_results_by_severity_are_the_same_in_the_pdf_and_the_workbook(night: Night) -> None:
    for customer in night.outcome.customers:
        page = summary_page(customer)
        section = page[page.index("FAILED AND WARNING RESULTS BY SEVERITY"):]
        printed = dict(re.findall(rf"({'|'.join(SEVERITIES)}) (\d+)", section)[:5])
        workbook = customer_summary(customer)
        assert {k: int(v) for k, v in printed.items()} == {
            s: workbook[f"FAIL + WARN {s.lower()}"] for s in SEVERITIES}, customer.name


def test_every_evidence_row_is_in_the_workbook_and_the_pdf_counts_them_right(night: Night) -> None:
    for customer in night.outcome.customers:
        assert customer.workbook is not None
        evidence = sheet_rows(customer.workbook, "Evidence")
        text = findings_text(customer)
        for result in results_of(night, customer)["results"]:
            check, count = result["check"], len(result["evidence"])
            mine = [r for r in evidence if r["Check"] == check]
            assert len(mine) == count, (customer.name, check)
            columns = {key for values in result["evidence"] for key in values}     # results.json sorts its keys
            for row, values in zip(mine, result["evidence"], strict=True):
                assert row["Status"] == result["status"]
                fields = {row[f"Field {n}"]: row[f"Value {n}"] for n in range(1, len(columns) + 1)}
                assert set(fields) == columns, (customer.name, check)
                for name, value in values.items():
                    if isinstance(value, int | str) and not isinstance(value, bool) and value != "":
                        assert fields[name] == value, (customer.name, check, value)
            full = re.search(rf"{re.escape(check)} .{{0,300}}?Evidence rows ([\d,]+)", text, re.S)
            brief = re.search(rf"^{re.escape(check)} .*?\b(?:{'|'.join(SEVERITIES)}) (?:{STATUS_WORDS}) ([\d,]+)$",
                              text, re.M | re.S)
            shown = full if full and (not brief or full.start() < brief.start()) else brief
            assert shown, (customer.name, check)
            assert int(shown.group(1).replace(",", "")) == count, (customer.name, check)
        for total, check in re.findall(r"all ([\d,]+) rows: workbook sheet 'Evidence', filter Check = (\S+)",
                                       flat(text)):
            assert len([r for r in evidence if r["Check"] == check]) == int(total.replace(",", "")), check


def _days_left_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for row in result["evidence"] if "days left" in row]


def test_days_left_are_the_same_in_the_checks_the_pdf_and_both_workbooks(nights: tuple[Night, Night]) -> None:
    seen = 0
    for night in nights:
        for customer in night.outcome.customers:
            assert customer.workbook is not None and customer.pdf is not None
            text = flat(findings_text(customer))
            expiring = sheet_rows(customer.workbook, "Expiry", header_row=3)
            portfolio = portfolio_row(night, "Expiry", customer.tenant_id)
            evidence = sheet_rows(customer.workbook, "Evidence")
            for result in results_of(night, customer)["results"]:
                for row in _days_left_rows(result):
                    if row["days left"] is None:
                        continue
                    seen += 1
                    days, package, account = row["days left"], row["package"], row["account"]
                    for sheet in (expiring, portfolio):
                        (match,) = [r for r in sheet if r["Subject"] == account and r["Item"] == package
                                    and r["Kind"] == "Access package assignment"]
                        assert match["Evaluated at (UTC)"] == night.evaluated_at.replace(tzinfo=None)
                        assert match["Days left"] == days == expiry.days_left(match["End (UTC)"], night.evaluated_at)
                    assert any(r["Check"] == result["check"] and days in [v for k, v in r.items()
                                                                          if k.startswith("Value")]
                               for r in evidence)
                    if result["status"] in ("FAIL", "WARN"):
                        assert f"{package} {row['ends']} {days}" in text, (customer.name, result["check"], row)
    assert seen >= 4, "the demo plants assignments that end soon"


def test_the_expiry_chart_counts_what_the_expiry_sheet_lists_and_em006_warns_about(
        nights: tuple[Night, Night]) -> None:
    for night in nights:
        for customer in night.outcome.customers:
            if not customer.reachable:
                continue
            assert customer.workbook is not None
            page = summary_page(customer)
            printed = {label: int(n) for n, label in re.findall(rf"(\d+)\n({EXPIRY_LABEL})\n", page)}
            listed = Counter(r["Bucket"] for r in sheet_rows(customer.workbook, "Expiry", header_row=3)
                             if r["Kind"] == "Access package assignment" and r["State"] in HOLDS_ACCESS)
            if not printed:     # no chart: the assignments were not read (Tailspin: no P2), and none are listed
                assert "the access-package assignments were not read in this run" in flat(page), customer.name
                assert not listed, customer.name
                continue
            assert printed == {b: listed.get(b, 0) for b in expiry.BUCKETS}, customer.name
            total = re.search(r"([\d,]+) delivered assignments? of the", flat(page))
            assert total and int(total.group(1)) == sum(listed.values())
            em006 = next(r for r in results_of(night, customer)["results"] if r["check_id"] == "EM-006")
            window = night.config.thresholds.expiry_warning_days
            assert window == 30
            assert len(em006["evidence"]) == printed[expiry.label(7)] + printed[expiry.label(30)], customer.name


def test_licence_figures_are_the_same_in_the_pdf_results_and_the_portfolio(night: Night) -> None:
    for customer in night.outcome.customers:
        lic = next(r for r in results_of(night, customer)["results"] if r["check_id"] == "LIC-001")
        if lic["status"] == "ERROR":
            continue
        owned = sum(r["P2 units owned"] for r in lic["evidence"] if r["includes P2"] is True)
        (sizing,) = [r for r in lic["evidence"] if r["sku"] == "sizing (seed formula)"]
        (row,) = portfolio_row(night, "Licences", customer.tenant_id)
        assert row["P2 owned"] == owned, customer.name
        # The sheet's formulas: guest accounts = (analysts + growth) × 1.5, P2 needed = ⌈guest accounts / 5⌉.
        assert math.ceil((row["Current analysts"] + row["Projected growth (12 months)"]) * 1.5 / 5) \
            == sizing["P2 units required"], customer.name
        analysts, growth = map(int, re.findall(r"\d+", sizing["status"]))
        assert (row["Current analysts"], row["Projected growth (12 months)"]) == (analysts, growth)
        if lic["status"] == "FAIL":
            stated = re.search(r"(\d+) P2 licences owned, (\d+) required", flat(findings_text(customer)))
            assert stated and (int(stated.group(1)), int(stated.group(2))) == (owned, sizing["P2 units required"])


def test_populations_are_the_same_in_the_pdf_and_both_workbooks(night: Night) -> None:
    for customer in night.outcome.customers:
        assert customer.workbook is not None
        text = flat(findings_text(customer))
        findings = {r["Check"]: r for r in sheet_rows(customer.workbook, "Findings")}
        portfolio = {r["Check"]: r for r in portfolio_row(night, "Findings", customer.tenant_id)}
        for result in results_of(night, customer)["results"]:
            population = result["population"]
            check = result["check"]
            assert check in portfolio, (customer.name, check)          # every result, PASS included
            for row in (findings[check], portfolio[check]):
                if population is None:
                    assert row["Population"] is None
                    continue
                assert (row["Population"], row["Examined"], row["Conforming"]) == (
                    population["text"], population["examined"], population["conforming"]), (customer.name, check)
            if population is not None:     # a line may wrap anywhere in it (after the '-' of a pattern)
                assert "".join(population["text"].split()) in "".join(text.split()), (customer.name, check)


# --- when the report stands ---------------------------------------------------------------------------------------

def test_every_page_states_the_evaluation_instant_and_the_collection_time(nights: tuple[Night, Night]) -> None:
    for night in nights:
        for customer in night.outcome.customers:
            assert customer.pdf is not None
            pages = pdf_pages(customer.pdf)
            collected = "evidence collected" if customer.reachable else "collection attempted"
            header = f"Evaluated as of {night.evaluated_at:%Y-%m-%d %H:%M} UTC · {collected} {NOW:%Y-%m-%d %H:%M} UTC"
            assert all(header in flat(p) for p in pages[1:]), customer.name
            assert f"Results evaluated as of {night.evaluated_at:%Y-%m-%d %H:%M:%S} UTC" in flat(pages[0])
            results = results_of(night, customer)
            assert datetime.fromisoformat(results["evaluated_at"]) == night.evaluated_at
            assert customer_summary(customer)["Results evaluated at (UTC)"] == night.evaluated_at.replace(tzinfo=None)


# --- "tenant with errors" --------------------------------------------------------------------------------------------

def test_tenants_with_errors_mean_the_same_on_the_console_summary_runs_show_and_portfolio(night: Night) -> None:
    outcome = night.outcome
    names = {c.tenant_id: c.name for c in outcome.customers}
    console = {c.name for c in outcome.customers if not re.search(rf"  {re.escape(c.name)}: .*; ok$", night.console,
                                                                   re.M)}
    summary = read_json(night.root / "summary.json")
    in_summary = {c["name"] for c in summary["customers"] if c["in_error"]}
    shown = CliRunner().invoke(app, ["runs", "show", outcome.run_id, "--config", str(night.config_path)])
    assert shown.exit_code == 0, shown.output
    in_runs_show = {names[t] for t, state in re.findall(r"\((\S+)\): score .*; (ok|with errors.*|NOT REACHED.*)$",
                                                        shown.output, re.M) if state != "ok"}
    assert outcome.portfolio is not None
    in_portfolio = {r["Customer"] for r in sheet_rows(outcome.portfolio, "Summary") if r["With errors"] == "yes"}
    assert console == in_summary == in_runs_show == in_portfolio == {"Adatum Logistics", "Wingtip Legal"}
    count = len(in_summary)
    assert f"8 customers, {count} with errors." in night.console
    assert f"8 customers, {count} with errors." in shown.output
    assert summary["tenants_error"] == outcome.tenants_in_error == count
    # Expected answers are not errors: Northwind's 404 for "no sync policy" is not on the Errors sheet.
    errors = sheet_rows(outcome.portfolio, "Errors")
    assert {(r["Customer"], r["Resource"]) for r in errors if r["Customer"] != "Wingtip Legal"} == {
        ("Adatum Logistics", "guest_sign_ins"), ("Adatum Logistics", "external_member_sign_ins")}
    northwind = read_json(night.root / "tenants" / next(t for t, n in names.items() if n == "Northwind Traders")
                          / "manifest.json")
    assert northwind["resources"]["identity_sync"]["status"] == "not_found"
