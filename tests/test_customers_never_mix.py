"""Two customers with one display name, through the whole nightly run and a real SMTP server.

DESIGN.md, "Customers never mix": files, rows and mails are keyed by tenant id, never by display
name, and delivery checks the PDF's tenant before sending. The demo's Northwind Traders and
Tailspin Toys are both called "Contoso" here; Wingtip Legal refuses tokens (nothing evaluated).
The night's mail and summary are kept as they were, so the tests that deliver again (opting in, a
swapped file) can run in any order or on another xdist worker.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from pypdf import PdfReader

from audit.config import Config
from audit.demo import demo_config, demo_environment
from audit.pipeline import RunOutcome, deliver, run
from audit.snapshot.store import RunStore, read_json
from tests.deliver.smtp import PASSWORD, USER, Inbox, smtp_server

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
SHARED_NAME = "Contoso"
RENAMED = ("Northwind Traders", "Tailspin Toys")
UNREACHED = "Wingtip Legal"
OPERATOR = "soc@mssp.example"


def auditor(tenant_id: str) -> str:
    return f"auditor-{tenant_id[:8]}@customer.example"


def manifest_tenant(pdf: bytes) -> str:
    (manifest,) = PdfReader(BytesIO(pdf)).attachments["manifest.json"]
    return json.loads(manifest)["tenant_id"]


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("never-mix")
    mp = pytest.MonkeyPatch()
    mp.setenv("TEST_SMTP_USER", USER)
    mp.setenv("TEST_SMTP_PASSWORD", PASSWORD)
    with smtp_server(out / "smtp-tls") as (inbox, port, ca), demo_environment(now=NOW, customers=8, seed=7) as env:
        base = demo_config(env.estate, env.server, env.certificate_path, out / "data",
                           delivery={"enabled": True, "smtp_host": "127.0.0.1", "smtp_port": port,
                                     "username_env": "TEST_SMTP_USER", "password_env": "TEST_SMTP_PASSWORD",
                                     "sender": "audit@mssp.example", "ca_bundle": str(ca), "timeout_seconds": 10,
                                     "operators": [OPERATOR]})
        customers = tuple(
            c.model_copy(update={"name": SHARED_NAME if c.name in RENAMED else c.name,
                                 "auditors": (auditor(c.tenant_id),)})
            for c in base.customers if c.name in (*RENAMED, UNREACHED))
        config = base.model_copy(update={"customers": customers})
        outcome = run(config, now=NOW)
        yield Night(config, outcome, inbox.snapshot(), read_json(outcome.root / "summary.json"), inbox)
    mp.undo()


@dataclass(frozen=True)
class Night:
    config: Config
    outcome: RunOutcome
    mail: Inbox                     # what the nightly run mailed
    summary: dict[str, Any]         # its summary.json
    inbox: Inbox                    # everything, later deliveries included


def test_same_name_gives_two_pdfs_and_workbooks_each_with_its_own_tenant(night: Night) -> None:
    outcome = night.outcome
    shared = [c for c in outcome.customers if c.name == SHARED_NAME]
    assert len(shared) == 2 and shared[0].tenant_id != shared[1].tenant_id
    for customer in shared:
        assert customer.pdf and customer.workbook and customer.pdf.exists() and customer.workbook.exists()
        assert customer.pdf.name == f"{SHARED_NAME}--{customer.tenant_id}.pdf"
        assert customer.workbook.name == f"{SHARED_NAME}--{customer.tenant_id}.xlsx"
        assert manifest_tenant(customer.pdf.read_bytes()) == customer.tenant_id
        book = openpyxl.load_workbook(customer.workbook, read_only=True)
        cells = {str(c) for row in book.worksheets[0].iter_rows(values_only=True) for c in row if c}
        assert customer.tenant_id in {c.lower() for c in cells}
    assert len({c.pdf for c in outcome.customers}) == len({c.workbook for c in outcome.customers}) == 3


def test_portfolio_summary_and_csv_rows_are_per_tenant(night: Night) -> None:
    outcome = night.outcome
    shared = {c.tenant_id for c in outcome.customers if c.name == SHARED_NAME}
    book = openpyxl.load_workbook(outcome.portfolio, read_only=True)
    summary = [r for r in book["Summary"].iter_rows(min_row=2, values_only=True) if r and r[0] == SHARED_NAME]
    assert {r[1].lower() for r in summary} == shared and len(summary) == 2
    assert {r[-2] for r in summary} == {f"{SHARED_NAME}--{t}.pdf" for t in shared}
    for sheet in ("Findings", "Errors", "Expiry"):
        rows = [r for r in book[sheet].iter_rows(min_row=2, values_only=True) if r and r[0] == SHARED_NAME]
        assert all(r[1] and r[1].lower() in shared for r in rows), sheet
        assert sheet != "Findings" or {r[1].lower() for r in rows} == shared, sheet
    findings = list(csv.DictReader((outcome.root / "reports" / "findings.csv").open(encoding="utf-8")))
    assert {r["tenant_id"].lower() for r in findings if r["customer"] == SHARED_NAME} == shared
    customers = night.summary["customers"]
    assert sorted(c["tenant_id"] for c in customers if c["name"] == SHARED_NAME) == sorted(shared)


def test_each_auditor_gets_only_their_customers_pdf(night: Night) -> None:
    for customer in (c for c in night.outcome.customers if c.name == SHARED_NAME):
        assert customer.pdf is not None
        (message,) = night.mail.to(auditor(customer.tenant_id))
        (attachment,) = message.iter_attachments()
        assert attachment.get_filename() == customer.pdf.name
        assert manifest_tenant(attachment.get_content()) == customer.tenant_id


def test_the_unreached_tenants_report_is_withheld_and_the_operator_told(night: Night) -> None:
    outcome = night.outcome
    wingtip = next(c for c in outcome.customers if c.name == UNREACHED)
    assert not wingtip.reachable and night.mail.to(auditor(wingtip.tenant_id)) == []
    (notice,) = night.mail.to(OPERATOR)
    assert list(notice.iter_attachments()) == []
    body = notice.get_content()
    assert UNREACHED in body and wingtip.tenant_id in body and outcome.run_id in notice["Subject"]
    assert SHARED_NAME not in body                       # only what was not mailed
    decisions = {(d["tenant_id"], d["kind"]): d["decision"] for d in night.summary["delivery"]}
    assert decisions[(wingtip.tenant_id, "report")] == "withheld"
    assert decisions[(wingtip.tenant_id, "notice")] == "sent"
    assert [v for (t, kind), v in decisions.items() if t != wingtip.tenant_id] == ["sent", "sent"]


def test_opting_in_mails_the_unevaluated_report(night: Night) -> None:
    config, outcome, inbox = night.config, night.outcome, night.inbox
    wingtip = next(c for c in outcome.customers if c.name == UNREACHED)
    opted_in = config.model_copy(update={"delivery": config.delivery.model_copy(
        update={"mail_unevaluated_reports": True})})
    before = len(inbox.messages)
    deliver(opted_in, RunStore(config.output.data_dir, outcome.run_id), outcome)
    recipients = sorted(r for rs, _ in inbox.messages[before:] for r in rs)
    assert recipients == sorted(auditor(c.tenant_id) for c in outcome.customers)    # three reports, no notice
    (attachment,) = inbox.to(auditor(wingtip.tenant_id))[-1].iter_attachments()
    assert manifest_tenant(attachment.get_content()) == wingtip.tenant_id


def test_a_pdf_swapped_on_disk_is_refused(night: Night, tmp_path: Path) -> None:
    config, outcome, inbox = night.config, night.outcome, night.inbox
    first, second = (c for c in outcome.customers if c.name == SHARED_NAME)
    assert first.pdf and second.pdf
    kept = tmp_path / "kept.pdf"
    shutil.copyfile(second.pdf, kept)
    shutil.copyfile(first.pdf, second.pdf)               # the second customer's file now holds the first's report
    before = len(inbox.messages)
    try:
        deliver(config, RunStore(config.output.data_dir, outcome.run_id), outcome)
        delivery = read_json(outcome.root / "summary.json")["delivery"]
    finally:
        shutil.copyfile(kept, second.pdf)
    later = Inbox()
    later.messages = inbox.messages[before:]
    assert later.to(auditor(second.tenant_id)) == []                     # nothing mailed to the second
    assert len(later.to(auditor(first.tenant_id))) == 1
    refused = next(d for d in delivery if d["tenant_id"] == second.tenant_id and d["kind"] == "report")
    assert refused["decision"] == "refused" and not refused["ok"] and first.tenant_id in refused["reason"]
    (notice,) = later.to(OPERATOR)
    assert second.tenant_id in notice.get_content() and "refused" in notice.get_content()
