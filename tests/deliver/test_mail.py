"""Mail to a local SMTP server that requires STARTTLS and authentication; failures lose nothing, and a
PDF that does not carry the recipient customer's tenant id never leaves."""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

import pytest
from pypdf import PdfWriter

from audit.config import DeliverySettings
from audit.deliver.mail import Decision, Parcel, send_reports
from tests.deliver.smtp import smtp_server as serve_smtp


@pytest.fixture
def smtp_server(tmp_path: Path):
    with serve_smtp(tmp_path / "tls") as server:
        yield server


CONTOSO = "0a1b2c3d-0000-4000-8000-00000000000a"
FABRIKAM = "0a1b2c3d-0000-4000-8000-00000000000b"


def report_pdf(path: Path, tenant_id: str, *, pages: int = 1) -> Path:
    """A PDF shaped like ours where it matters here: manifest.json attached, naming its tenant."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    writer.add_attachment("manifest.json", json.dumps({"tenant_id": tenant_id, "customer": "x"}).encode())
    writer.write(path)
    return path


def settings(port: int, ca: Path, **changes) -> DeliverySettings:
    return DeliverySettings(enabled=True, smtp_host="127.0.0.1", smtp_port=port, username_env="TEST_SMTP_USER",
                            password_env="TEST_SMTP_PASSWORD", sender="audit@mssp.example", ca_bundle=ca,
                            timeout_seconds=10, **changes)


def test_pdf_arrives_intact_over_starttls(smtp_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port, ca = smtp_server
    monkeypatch.setenv("TEST_SMTP_USER", "mailer")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    pdf = report_pdf(tmp_path / f"Contoso--{CONTOSO}.pdf", CONTOSO, pages=40)
    outcome = send_reports(settings(port, ca), [Parcel(CONTOSO, "Contoso", ("auditor@contoso.example",), pdf, "run-1")])
    assert [(d.ok, d.decision, d.tenant_id) for d in outcome] == [(True, Decision.SENT, CONTOSO)]
    (recipients, raw), = inbox.messages
    assert recipients == ["auditor@contoso.example"]
    message = email.message_from_bytes(raw, policy=policy.default)
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == pdf.name and attachment.get_content() == pdf.read_bytes()
    assert "Contoso" in message["Subject"] and "run-1" in message["Subject"]


def test_wrong_password_is_reported_and_the_report_kept(smtp_server, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port, ca = smtp_server
    monkeypatch.setenv("TEST_SMTP_USER", "mailer")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
    pdf = report_pdf(tmp_path / "Contoso.pdf", CONTOSO)
    kept = pdf.read_bytes()
    (outcome,) = send_reports(settings(port, ca).model_copy(update={"timeout_seconds": 3}),
                              [Parcel(CONTOSO, "Contoso", ("a@b.example",), pdf, "r")])
    assert not outcome.ok and outcome.decision is Decision.FAILED and outcome.reason and "wrong" not in outcome.reason
    assert pdf.read_bytes() == kept and inbox.messages == []


def test_unreachable_server_is_reported_not_raised(tmp_path: Path) -> None:
    pdf = report_pdf(tmp_path / "Contoso.pdf", CONTOSO)
    (outcome,) = send_reports(DeliverySettings(enabled=True, smtp_host="127.0.0.1", smtp_port=1, timeout_seconds=2),
                              [Parcel(CONTOSO, "Contoso", ("a@b.example",), pdf, "r")])
    assert not outcome.ok and outcome.decision is Decision.FAILED and outcome.reason and pdf.exists()


def test_a_pdf_of_another_tenant_is_refused_and_the_rest_still_sent(smtp_server, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port, ca = smtp_server
    monkeypatch.setenv("TEST_SMTP_USER", "mailer")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    fabrikams = report_pdf(tmp_path / "Fabrikam.pdf", FABRIKAM)
    parcels = [Parcel(CONTOSO, "Contoso", ("auditor@contoso.example",), fabrikams, "run-1"),   # the mix-up
               Parcel(FABRIKAM, "Fabrikam", ("auditor@fabrikam.example",), fabrikams, "run-1")]
    refused, sent = send_reports(settings(port, ca), parcels)
    assert (refused.decision, refused.ok, refused.tenant_id) == (Decision.REFUSED, False, CONTOSO)
    assert FABRIKAM in refused.reason and CONTOSO in refused.reason
    assert sent.decision is Decision.SENT
    assert [recipients for recipients, _ in inbox.messages] == [["auditor@fabrikam.example"]]


@pytest.mark.parametrize("content", [b"%PDF-1.7 not really", b"", None], ids=["damaged", "empty", "no-manifest"])
def test_a_pdf_whose_tenant_cannot_be_read_is_refused(smtp_server, tmp_path: Path, content: bytes | None) -> None:
    inbox, port, ca = smtp_server
    pdf = tmp_path / "Contoso.pdf"
    if content is None:
        writer = PdfWriter()
        writer.add_blank_page(595, 842)
        writer.write(pdf)
    else:
        pdf.write_bytes(content)
    (outcome,) = send_reports(settings(port, ca), [Parcel(CONTOSO, "Contoso", ("a@b.example",), pdf, "r")])
    assert outcome.decision is Decision.REFUSED and "cannot be verified" in outcome.reason
    assert inbox.messages == []


def test_an_unevaluated_report_is_withheld_and_the_operators_told_without_it(smtp_server, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port, ca = smtp_server
    monkeypatch.setenv("TEST_SMTP_USER", "mailer")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    unreached = Parcel(CONTOSO, "Contoso", ("auditor@contoso.example",), report_pdf(tmp_path / "c.pdf", CONTOSO),
                       "run-7", unevaluated="tenant not reached: AADSTS7000229")
    mixed_up = Parcel(FABRIKAM, "Fabrikam", ("auditor@fabrikam.example",), unreached.pdf, "run-7")
    outcomes = send_reports(settings(port, ca, operators=("soc@mssp.example",)), [unreached, mixed_up])
    assert [(d.tenant_id, d.notice, d.decision, d.ok) for d in outcomes] == [
        (CONTOSO, False, Decision.WITHHELD, True), (FABRIKAM, False, Decision.REFUSED, False),
        (CONTOSO, True, Decision.SENT, True), (FABRIKAM, True, Decision.SENT, True)]
    assert "AADSTS7000229" in outcomes[0].reason and outcomes[2].recipients == ("soc@mssp.example",)
    (recipients, raw), = inbox.messages                       # one notice, nothing to any auditor
    assert recipients == ["soc@mssp.example"]
    notice = email.message_from_bytes(raw, policy=policy.default)
    assert list(notice.iter_attachments()) == [] and "run-7" in notice["Subject"]
    body = notice.get_content()
    for text in ("Contoso", CONTOSO, "withheld", "AADSTS7000229", "Fabrikam", FABRIKAM, "refused"):
        assert text in body


def test_opting_in_mails_an_unevaluated_report_to_its_auditors(smtp_server, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port, ca = smtp_server
    monkeypatch.setenv("TEST_SMTP_USER", "mailer")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    parcel = Parcel(CONTOSO, "Contoso", ("auditor@contoso.example",), report_pdf(tmp_path / "c.pdf", CONTOSO),
                    "run-7", unevaluated="every check that reads the tenant is ERROR")
    (outcome,) = send_reports(settings(port, ca, operators=("soc@mssp.example",), mail_unevaluated_reports=True),
                              [parcel])
    assert outcome.decision is Decision.SENT and not outcome.notice
    assert [recipients for recipients, _ in inbox.messages] == [["auditor@contoso.example"]]


def test_without_operators_a_withheld_report_is_only_recorded(smtp_server, tmp_path: Path) -> None:
    inbox, port, ca = smtp_server
    parcel = Parcel(CONTOSO, "Contoso", ("auditor@contoso.example",), tmp_path / "never-read.pdf", "r",
                    unevaluated="tenant not reached: AADSTS700016")
    (outcome,) = send_reports(settings(port, ca), [parcel])
    assert outcome.decision is Decision.WITHHELD and outcome.to_json()["kind"] == "report"
    assert inbox.messages == []
