"""Mail each customer's PDF to its auditors: SMTP with STARTTLS, credentials from the environment.

Delivery is the last step and never the reason a report is lost: a failure is recorded against
the customer (and in summary.json) while the report stays where the run wrote it.

Reports are keyed by tenant id, never by display name (two customers may share one): a PDF is
mailed only when the tenant id embedded in it is the recipient customer's (audit.deliver.pdf_tenant);
otherwise it is refused, and the refusal recorded like any other outcome.
"""

from __future__ import annotations

import enum
import os
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from audit.config import DeliverySettings
from audit.deliver.pdf_tenant import UnverifiableReport, embedded_tenant_id


class Decision(enum.StrEnum):
    SENT = "sent"
    REFUSED = "refused"       # the PDF is not provably this customer's: never mailed
    FAILED = "failed"         # the file could not be read, or the SMTP server said no


@dataclass(frozen=True)
class Parcel:
    tenant_id: str                   # the key: the PDF must carry this tenant's manifest
    customer: str                    # the display name, for people
    recipients: tuple[str, ...]
    pdf: Path
    run_id: str


@dataclass(frozen=True)
class Delivery:
    tenant_id: str
    customer: str
    recipients: tuple[str, ...]
    decision: Decision
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.decision is Decision.SENT

    def to_json(self) -> dict[str, object]:
        return {"tenant_id": self.tenant_id, "customer": self.customer, "recipients": list(self.recipients),
                "decision": self.decision.value, "ok": self.ok, "reason": self.reason}


def _one_line(text: str) -> str:
    # A header value may not hold a line break (EmailMessage raises); a name from the TOML might.
    return " ".join(text.split())


def _report_message(settings: DeliverySettings, parcel: Parcel, pdf: bytes) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(parcel.recipients)
    message["Subject"] = f"Delegated-access audit: {_one_line(parcel.customer)} (run {parcel.run_id})"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(
        f"Attached is the delegated-access audit report for {_one_line(parcel.customer)} "
        f"(tenant {parcel.tenant_id}), run {parcel.run_id}.\n"
        "The PDF carries its evidence manifest; its hashes tie it to the stored Graph responses.\n")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=parcel.pdf.name)
    return message


def _prepare(settings: DeliverySettings, parcel: Parcel) -> EmailMessage | Delivery:
    """The message to send, or the outcome that stops it. The bytes checked are the bytes attached."""
    def stop(decision: Decision, reason: str) -> Delivery:
        return Delivery(parcel.tenant_id, parcel.customer, parcel.recipients, decision, reason)

    try:
        pdf = parcel.pdf.read_bytes()
    except OSError as exc:
        return stop(Decision.FAILED, f"cannot read the report {parcel.pdf.name}: {exc.strerror or exc}")
    try:
        embedded = embedded_tenant_id(pdf)
    except UnverifiableReport as exc:
        return stop(Decision.REFUSED, f"the tenant of {parcel.pdf.name} cannot be verified: {exc}")
    if embedded != parcel.tenant_id.lower():
        return stop(Decision.REFUSED, f"{parcel.pdf.name} carries the evidence of tenant {embedded}, "
                                      f"not of {parcel.tenant_id}")
    return _report_message(settings, parcel, pdf)


def send_reports(settings: DeliverySettings, parcels: Sequence[Parcel]) -> list[Delivery]:
    """One SMTP session for the whole run; every parcel with recipients gets an outcome, none raises."""
    outcomes: list[Delivery] = []
    outgoing: list[tuple[Parcel, EmailMessage]] = []
    for parcel in parcels:
        if not parcel.recipients:
            continue
        prepared = _prepare(settings, parcel)
        if isinstance(prepared, Delivery):
            outcomes.append(prepared)
        else:
            outgoing.append((parcel, prepared))
    if outgoing:
        outcomes += _send(settings, outgoing)
    return outcomes


def _send(settings: DeliverySettings, outgoing: Sequence[tuple[Parcel, EmailMessage]]) -> list[Delivery]:
    def outcome(parcel: Parcel, decision: Decision, reason: str = "") -> Delivery:
        return Delivery(parcel.tenant_id, parcel.customer, parcel.recipients, decision, reason)

    sent: list[Delivery] = []
    user = os.environ.get(settings.username_env or "", "") if settings.username_env else ""
    password = os.environ.get(settings.password_env or "", "") if settings.password_env else ""
    try:
        context = ssl.create_default_context(cafile=str(settings.ca_bundle) if settings.ca_bundle else None)
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds) as smtp:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if user:
                smtp.login(user, password)
            for parcel, message in outgoing:
                try:
                    smtp.send_message(message)
                    sent.append(outcome(parcel, Decision.SENT))
                except (smtplib.SMTPException, OSError) as exc:
                    sent.append(outcome(parcel, Decision.FAILED, _reason(exc)))
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        sent += [outcome(parcel, Decision.FAILED, _reason(exc)) for parcel, _ in outgoing[len(sent):]]
    return sent


def _reason(exc: BaseException) -> str:
    # smtplib errors can echo the server's reply; never the password, which is only ever sent, not logged.
    return f"{type(exc).__name__}: {exc}"[:300]
