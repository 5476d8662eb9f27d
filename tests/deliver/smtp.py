"""A real local SMTP server for the delivery tests: STARTTLS required, AUTH required (mailer / s3cret)."""

from __future__ import annotations

import email
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from audit.emulator.certs import make_tls_files

USER, PASSWORD = "mailer", "s3cret"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"

    def snapshot(self) -> Inbox:
        """What has arrived so far, kept apart from what arrives later."""
        copy = Inbox()
        copy.messages = list(self.messages)
        return copy

    def to(self, address: str) -> list[EmailMessage]:
        """The messages whose envelope named `address`, parsed."""
        return [email.message_from_bytes(raw, policy=policy.default)  # type: ignore[misc]
                for recipients, raw in self.messages if address in recipients]


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(tls_dir: Path) -> Iterator[tuple[Inbox, int, Path]]:
    """(inbox, port, CA file to trust) of a running server."""
    tls = make_tls_files(tls_dir)
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
