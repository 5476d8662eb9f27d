"""Mail to a local SMTP server that requires STARTTLS and authentication; failures lose nothing."""

from __future__ import annotations

import email
import socket
import ssl
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from audit.config import DeliverySettings
from audit.deliver.mail import Parcel, send_reports
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


def settings(port: int, ca: Path, **changes) -> DeliverySettings:
    return DeliverySettings(enabled=True, smtp_host="127.0.0.1", smtp_port=port, username_env="TEST_SMTP_USER",
                            password_env="TEST_SMTP_PASSWORD", sender="audit@mssp.example", ca_bundle=ca,
                            timeout_seconds=10, **changes)


def test_pdf_arrives_intact_over_starttls(smtp_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port, ca = smtp_server
    monkeypatch.setenv("TEST_SMTP_USER", "mailer")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    pdf = tmp_path / "Contoso.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n")
    outcome = send_reports(settings(port, ca), [Parcel("Contoso", ("auditor@contoso.example",), pdf, "run-1")])
    assert [d.ok for d in outcome] == [True]
    (recipients, raw), = inbox.messages
    assert recipients == ["auditor@contoso.example"]
    message = email.message_from_bytes(raw, policy=policy.default)
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "Contoso.pdf" and attachment.get_content() == pdf.read_bytes()
    assert "Contoso" in message["Subject"] and "run-1" in message["Subject"]


def test_wrong_password_is_reported_and_the_report_kept(smtp_server, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port, ca = smtp_server
    monkeypatch.setenv("TEST_SMTP_USER", "mailer")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
    pdf = tmp_path / "Contoso.pdf"
    pdf.write_bytes(b"%PDF-1.7 report")
    (outcome,) = send_reports(settings(port, ca).model_copy(update={"timeout_seconds": 3}),
                              [Parcel("Contoso", ("a@b.example",), pdf, "r")])
    assert not outcome.ok and outcome.reason and "wrong" not in outcome.reason
    assert pdf.read_bytes() == b"%PDF-1.7 report" and inbox.messages == []


def test_unreachable_server_is_reported_not_raised(tmp_path: Path) -> None:
    pdf = tmp_path / "Contoso.pdf"
    pdf.write_bytes(b"%PDF")
    (outcome,) = send_reports(DeliverySettings(enabled=True, smtp_host="127.0.0.1", smtp_port=1, timeout_seconds=2),
                              [Parcel("Contoso", ("a@b.example",), pdf, "r")])
    assert not outcome.ok and outcome.reason and pdf.exists()
