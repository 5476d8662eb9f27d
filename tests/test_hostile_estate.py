"""Every string from a tenant is hostile: a whole run over an estate full of them renders safely."""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, datetime

import openpyxl
from pypdf import PdfReader

from audit.demo import demo_config, demo_environment
from audit.pipeline import run

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
HOSTILE = [
    "<script>alert(1)</script>",
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd",
    "../../etc/passwd",
    "\u202eevil\u202c.exe",
    "x" * 10_000,
]


def test_hostile_strings_are_rendered_inert(tmp_path) -> None:
    with demo_environment(now=NOW, customers=1, seed=9, include_broken_tenant=False) as env:
        tenant = env.estate.tenants[env.estate.customers[0].tenant_id]
        guests = [u for u in tenant.users if u.get("userType") == "Guest"]
        for guest, name in zip(guests, HOSTILE, strict=False):
            guest["displayName"] = name
        tenant.authorization_policy["allowInvitesFrom"] = "<b>everyone</b>"
        config = demo_config(env.estate, env.server, env.certificate_path, tmp_path)
        # The evidence appendix prints every guest's name, so the hostile ones reach the PDF's layout.
        config = config.model_copy(update={
            "customers": (config.customers[0].model_copy(update={"name": "../../<script>Evil</script> =cmd"}),),
            "output": config.output.model_copy(update={"pdf_appendix_rows": 1000, "pdf_evidence_rows": 3})})
        outcome = run(config, now=NOW)

    customer = outcome.customers[0]
    reports = outcome.root / "reports"
    assert customer.pdf.parent == reports and customer.workbook.parent == reports
    assert ".." not in customer.pdf.name and "/" not in customer.pdf.name and "<" not in customer.pdf.name
    reader = PdfReader(customer.pdf)
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "<script>alert(1)</script>" in text           # shown as text, never interpreted
    # [output] reaches the PDF: three evidence rows under a finding, and the appendix.
    assert re.search(r"showing 3 of (\d+) — all \1 rows: workbook sheet 'Evidence', filter Check = \S+",
                     " ".join(text.split()))
    assert "Evidence appendix" in [item.title for item in reader.outline if not isinstance(item, list)]
    assert "<b>everyone</b>" in text

    for path in (customer.workbook, outcome.portfolio):
        with zipfile.ZipFile(path) as archive:
            sheets = b"".join(archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/"))
        formulas = re.findall(rb"<f>([^<]*)</f>", sheets)
        assert not [f for f in formulas if b"HYPERLINK" in f or b"cmd" in f or b"SUM(1+1)" in f], path.name
        book = openpyxl.load_workbook(path)
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str) and cell.value.startswith(("=HYPERLINK", "+cmd", "@SUM")):
                        assert cell.data_type == "s", (path.name, sheet.title, cell.coordinate)
