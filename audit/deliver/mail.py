"""Mail each customer's PDF to its auditors: SMTP with STARTTLS, credentials from the environment.

Delivery is the last step and never the reason a report is lost: a failure is recorded against
the customer (and in summary.json) while the report stays where the run wrote it.

Reports are keyed by tenant id, never by display name (two customers may share one). Each report
gets one decision, recorded and logged:
- withheld: nothing from the customer's own tenant could be evaluated (tenant not reached, every
  check that reads it ERROR; GDAP results come from the partner tenant), so it tells an auditor
  nothing about the controls in the customer's tenant; mailed only with `mail_unevaluated_reports`;
- refused: the tenant id embedded in the PDF is not the recipient customer's, or cannot be read
  (audit.deliver.pdf_tenant);
- sent, or failed when the file or the SMTP server let it down.
The `operators` get one notice per run listing every withheld or refused report, never a PDF.
"""

from __future__ import annotations

import dataclasses
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
    WITHHELD = "withheld"     # nothing in the report was evaluated: the operators hear of it instead
    REFUSED = "refused"       # the PDF is not provably this customer's: never mailed
    FAILED = "failed"         # the file could not be read, or the SMTP server said no


@dataclass(frozen=True)
class Parcel:
    tenant_id: str                   # the key: the PDF must carry this tenant's manifest
    customer: str                    # the display name, for people
    recipients: tuple[str, ...]
    pdf: Path
    run_id: str
    unevaluated: str = ""            # why nothing in the report could be evaluated; "" when something was


@dataclass(frozen=True)
class Delivery:
    """What became of one customer's report, or (`notice`) of the operators' notice about it."""

    tenant_id: str
    customer: str
    recipients: tuple[str, ...]
    decision: Decision
    reason: str = ""
    notice: bool = False

    @property
    def ok(self) -> bool:
        """Nothing went wrong: withholding an unevaluated report is the policy working, not a failure."""
        return self.decision in (Decision.SENT, Decision.WITHHELD)

    def to_json(self) -> dict[str, object]:
        return {"tenant_id": self.tenant_id, "customer": self.customer, "kind": "notice" if self.notice else "report",
                "recipients": list(self.recipients), "decision": self.decision.value, "ok": self.ok,
                "reason": self.reason}


def _one_line(text: str) -> str:
    # A header value may not hold a line break (EmailMessage raises); a name from the TOML might.
    return " ".join(text.split())


def _envelope(settings: DeliverySettings, recipients: Sequence[str], subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    return message


def _report_message(settings: DeliverySettings, parcel: Parcel, pdf: bytes) -> EmailMessage:
    message = _envelope(settings, parcel.recipients,
                        f"Delegated-access audit: {_one_line(parcel.customer)} (run {parcel.run_id})")
    message.set_content(
        f"Attached is the delegated-access audit report for {_one_line(parcel.customer)} "
        f"(tenant {parcel.tenant_id}), run {parcel.run_id}.\n"
        "The PDF carries its evidence manifest; its hashes tie it to the stored Graph responses.\n")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=parcel.pdf.name)
    return message


def _notice_message(settings: DeliverySettings, untold: Sequence[Delivery], run_id: str) -> EmailMessage:
    message = _envelope(settings, settings.operators,
                        f"mssp-audit run {run_id}: {len(untold)} report(s) not mailed to auditors")
    lines = [f"Run {run_id} did not mail these reports to their auditors (the PDFs stay in the run's reports "
             "folder; none is attached here):", ""]
    for d in untold:
        lines.append(f"- {_one_line(d.customer)}, tenant {d.tenant_id}: {d.decision.value}: {_one_line(d.reason)}")
    message.set_content("\n".join(lines) + "\n")
    return message


def _prepare(settings: DeliverySettings, parcel: Parcel) -> EmailMessage | Delivery:
    """The message to send, or the outcome that stops it. The bytes checked are the bytes attached."""
    def stop(decision: Decision, reason: str) -> Delivery:
        return Delivery(parcel.tenant_id, parcel.customer, parcel.recipients, decision, reason)

    if parcel.unevaluated and not settings.mail_unevaluated_reports:
        return stop(Decision.WITHHELD, f"nothing from the customer's own tenant could be evaluated ({parcel.unevaluated}); "
                                       "[delivery] mail_unevaluated_reports is off")
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
    """One SMTP session for the whole run; every parcel with recipients gets an outcome, none raises.

    The outcomes list each report's decision, then (when there are operators and something to tell)
    one `notice` entry per report the operators' notice is about, sent or failed with it.
    """
    decided: list[Delivery] = []
    outgoing: list[tuple[EmailMessage, list[Delivery]]] = []   # a message, and what it settles if it goes
    for parcel in parcels:
        if not parcel.recipients:
            continue
        prepared = _prepare(settings, parcel)
        if isinstance(prepared, Delivery):
            decided.append(prepared)
        else:
            outgoing.append((prepared, [Delivery(parcel.tenant_id, parcel.customer, parcel.recipients,
                                                 Decision.SENT)]))
    untold = [d for d in decided if d.decision in (Decision.WITHHELD, Decision.REFUSED)]
    if untold and settings.operators:
        # One notice per run, not per customer: a night when every tenant is unreachable (an expired
        # app certificate) is one mail to the operators, not thousands.
        outgoing.append((_notice_message(settings, untold, parcels[0].run_id),
                         [Delivery(d.tenant_id, d.customer, settings.operators, Decision.SENT, d.reason, notice=True)
                          for d in untold]))
    return decided + (_send(settings, outgoing) if outgoing else [])


def _send(settings: DeliverySettings, outgoing: Sequence[tuple[EmailMessage, list[Delivery]]]) -> list[Delivery]:
    """Send each message; its deliveries come back as sent, or failed with the reason."""
    def failed(settles: list[Delivery], exc: BaseException) -> list[Delivery]:
        return [dataclasses.replace(d, decision=Decision.FAILED, reason=_reason(exc)) for d in settles]

    done = 0
    outcomes: list[Delivery] = []
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
            for message, settles in outgoing:
                try:
                    smtp.send_message(message)
                    outcomes += settles
                except (smtplib.SMTPException, OSError) as exc:
                    outcomes += failed(settles, exc)
                done += 1
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        for _, settles in outgoing[done:]:
            outcomes += failed(settles, exc)
    return outcomes


def _reason(exc: BaseException) -> str:
    # smtplib errors can echo the server's reply; never the password, which is only ever sent, not logged.
    return f"{type(exc).__name__}: {exc}"[:300]
