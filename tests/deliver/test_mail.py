"""Mail to a local SMTP server that requires STARTTLS and authentication; failures lose nothing, and a
PDF that does not carry the recipient customer's tenant id never leaves."""

from __future__ import annotations

import email
import json
import socket
import ssl
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pypdf import PdfWriter

from audit.config import DeliverySettings
from audit.deliver.mail import Decision, Parcel, send_reports
from audit.emulator.certs import make_tls_files


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"mailer" and auth_data.password == b"s3cret"
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(tmp_path: Path):
    tls = make_tls_files(tmp_path / "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    inbox = Inbox()
    port = _free_port()     # aiosmtpd connects to its own port to check it is up: 0 will not do
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=_authenticator, auth_required=True)
    controller.start()
    try:
        yield inbox, port, tls.ca_file
    finally:
        controller.stop()


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
