"""Whose report a PDF is, read from the PDF itself: the last look before a mail leaves.

Every customer PDF embeds its tenant's manifest.json (a PDF/A-3b associated file, see
audit.render.pdf), and that manifest names the tenant the evidence was collected from. Delivery
compares it with the recipient customer's tenant id, so a mix-up anywhere upstream (a file name,
the render cache, a hand-copied report) cannot mail one customer's findings to another's auditor.
"""

from __future__ import annotations

import io
import json

from pypdf import PdfReader

MANIFEST_ATTACHMENT = "manifest.json"


class UnverifiableReport(Exception):
    """The PDF does not say, readably and once, which tenant it is about; the message says why."""


def embedded_tenant_id(pdf: bytes) -> str:
    """The lower-case `tenant_id` of the manifest.json attached to `pdf`."""
    try:
        copies = PdfReader(io.BytesIO(pdf)).attachments.get(MANIFEST_ATTACHMENT, [])
    except Exception as exc:  # pypdf raises many kinds on a damaged file; each means "cannot vouch for it"
        raise UnverifiableReport(f"not a readable PDF ({type(exc).__name__}: {exc})"[:300]) from None
    if not copies:
        raise UnverifiableReport(f"no {MANIFEST_ATTACHMENT} is attached")
    if len(set(copies)) > 1:
        raise UnverifiableReport(f"{len(copies)} different {MANIFEST_ATTACHMENT} files are attached")
    try:
        tenant_id = json.loads(copies[0]).get("tenant_id")
    except (ValueError, AttributeError):
        raise UnverifiableReport(f"the attached {MANIFEST_ATTACHMENT} is not a JSON object") from None
    if not isinstance(tenant_id, str) or not tenant_id:
        raise UnverifiableReport(f"the attached {MANIFEST_ATTACHMENT} names no tenant_id")
    return tenant_id.lower()
