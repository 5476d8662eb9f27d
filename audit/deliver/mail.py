"""Mail each customer's PDF to its auditors: SMTP with STARTTLS, credentials from the environment.

Delivery is the last step and never the reason a report is lost: a failure is recorded against
the customer (and in summary.json) while the report stays where the run wrote it.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from audit.config import DeliverySettings


@dataclass(frozen=True)
class Parcel:
    customer: str
    recipients: tuple[str, ...]
    pdf: Path
    run_id: str


@dataclass(frozen=True)
class Delivery:
    customer: str
    recipients: tuple[str, ...]
    ok: bool
    reason: str = ""

    def to_json(self) -> dict[str, object]:
        return {"customer": self.customer, "recipients": list(self.recipients), "ok": self.ok, "reason": self.reason}


def _message(settings: DeliverySettings, parcel: Parcel) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(parcel.recipients)
    message["Subject"] = f"Delegated-access audit: {parcel.customer} (run {parcel.run_id})"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(
        f"Attached is the delegated-access audit report for {parcel.customer}, run {parcel.run_id}.\n"
        "The PDF carries its evidence manifest; its hashes tie it to the stored Graph responses.\n")
    message.add_attachment(parcel.pdf.read_bytes(), maintype="application", subtype="pdf",
                           filename=parcel.pdf.name)
    return message


def send_reports(settings: DeliverySettings, parcels: Sequence[Parcel]) -> list[Delivery]:
    """One SMTP session for the whole run; every parcel gets an outcome, none raises."""
    outcomes: list[Delivery] = []
    todo = [p for p in parcels if p.recipients and p.pdf.exists()]
    if not todo:
        return outcomes
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
            for parcel in todo:
                try:
                    smtp.send_message(_message(settings, parcel))
                    outcomes.append(Delivery(parcel.customer, parcel.recipients, True))
                except (smtplib.SMTPException, OSError) as exc:
                    outcomes.append(Delivery(parcel.customer, parcel.recipients, False, _reason(exc)))
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        done = {o.customer for o in outcomes}
        outcomes += [Delivery(p.customer, p.recipients, False, _reason(exc)) for p in todo if p.customer not in done]
    return outcomes


def _reason(exc: BaseException) -> str:
    # smtplib errors can echo the server's reply; never the password, which is only ever sent, not logged.
    return f"{type(exc).__name__}: {exc}"[:300]
