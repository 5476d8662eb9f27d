"""The demo pipeline end to end: real MSAL and httpx over real HTTPS to the emulator, reports read back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from audit.demo import demo_config, demo_environment
from audit.models import Status
from audit.pipeline import RunOutcome, run
from audit.snapshot.store import read_json, sha256_file

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("demo")
    with demo_environment(now=NOW, customers=8, seed=7) as env:
        config = demo_config(env.estate, env.server, env.certificate_path, out,
                             output={"data_dir": str(out), "metrics_file": str(out / "mssp_audit.prom")})
        outcome = run(config, now=NOW)
        log = list(env.server.request_log)
        key_pem = env.certificate_path.read_text()
    return outcome, log, key_pem, env.estate


def test_every_customer_gets_a_pdf_and_a_workbook(demo) -> None:
    outcome, _, _, estate = demo
    assert isinstance(outcome, RunOutcome)
    assert [c.name for c in outcome.customers] == [c.name for c in estate.customers]
    for customer in outcome.customers:
        assert customer.pdf and customer.pdf.exists() and customer.pdf.stat().st_size > 10_000
        assert customer.workbook and customer.workbook.exists()
    assert outcome.portfolio and outcome.portfolio.exists()
    assert (outcome.root / "reports" / "findings.csv").read_text().startswith("customer,tenant_id,check_id,")


def test_pdf_text_shows_customer_findings_and_page_numbers(demo) -> None:
    outcome, *_ = demo
    reachable = next(c for c in outcome.customers if c.reachable)
    reader = PdfReader(reachable.pdf)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert reachable.name in text and reachable.tenant_id in text
    assert "GS-001" in text and "EM-003" in text
    assert re.search(rf"page 1 of {len(reader.pages)}", text, re.IGNORECASE)


def test_unreachable_tenant_is_reported_with_its_aadsts_reason(demo) -> None:
    outcome, *_ = demo
    broken = [c for c in outcome.customers if not c.reachable]
    assert broken, "the demo estate plants a tenant whose consent was revoked"
    for customer in broken:
        assert "AADSTS" in customer.reason
        assert customer.counts[Status.FAIL.value] == 0        # never FAIL for evidence we did not get
        text = "\n".join(p.extract_text() for p in PdfReader(customer.pdf).pages)
        assert "AADSTS" in text


def test_planted_problems_fail(demo) -> None:
    outcome, *_ = demo
    results = {}
    for customer in outcome.customers:
        data = read_json(outcome.root / "tenants" / customer.tenant_id / "results.json")
        for r in data["results"]:
            results.setdefault(r["check_id"], set()).add(r["status"])
    for check_id in ("GS-001", "GS-002", "EM-003", "EM-005", "EM-006", "GA-001", "ADM-002", "LIC-001"):
        assert {"FAIL", "WARN"} & results[check_id], check_id
        assert "PASS" in results[check_id] or check_id in ("GA-001",), check_id


def test_portfolio_licences_are_live_formulas(demo) -> None:
    outcome, *_ = demo
    book = openpyxl.load_workbook(outcome.portfolio)
    assert {"Summary", "Licences", "Expiry", "Findings", "Errors"} <= set(book.sheetnames)
    licences = book["Licences"]
    formulas = [c.value for row in licences.iter_rows(min_row=2) for c in row
                if isinstance(c.value, str) and c.value.startswith("=")]
    assert any("1.5" in f for f in formulas) and any("5" in f for f in formulas)
    expiry = book["Expiry"]
    assert expiry.max_row > 10


def test_only_get_reaches_graph(demo) -> None:
    _, log, _, _ = demo
    graph = [r for r in log if "/v1.0/" in r.path or "/beta/" in r.path]
    assert graph
    assert {r.method for r in graph if r.in_batch} <= {"GET"}
    assert {(r.method, r.path.rsplit("/", 1)[-1]) for r in graph if r.method != "GET"} <= {("POST", "$batch")}


def test_manifests_hash_the_evidence(demo) -> None:
    outcome, *_ = demo
    run_manifest = read_json(outcome.root / "run.json")
    assert run_manifest["status"] == "complete"
    sealed = read_json(outcome.root / "seal.json")["tenants"]        # the seal holds the manifests' hashes
    assert set(sealed) == {p.name for p in (outcome.root / "tenants").iterdir()}
    assert {c.tenant_id for c in outcome.customers} < set(sealed)          # and the partner tenant
    for tenant_id, entry in sealed.items():
        manifest_path = outcome.root / "tenants" / tenant_id / "manifest.json"
        assert sha256_file(manifest_path) == entry["sha256"]
        for record in read_json(manifest_path)["resources"].values():
            if record["status"] == "ok" and record["sha256"]:
                assert sha256_file(manifest_path.parent / record["file"]) == record["sha256"]


def test_no_secret_or_token_is_written(demo) -> None:
    outcome, _, key_pem, _ = demo
    key_body = "".join(l for l in key_pem.splitlines() if l and not l.startswith("-----"))[:64]
    for path in outcome.root.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert b"PRIVATE KEY" not in blob, path
            assert key_body.encode() not in blob, path
            assert not re.search(rb"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.", blob), path


def test_verify_detects_tampering(demo, tmp_path: Path) -> None:
    import shutil

    from audit.snapshot.store import RunStore
    from audit.snapshot.verify import verify_run
    outcome, *_ = demo
    copy = tmp_path / "runs" / outcome.run_id
    shutil.copytree(outcome.root, copy)
    store = RunStore(tmp_path, outcome.run_id)
    checked, problems = verify_run(store)
    assert problems == [] and checked > 50
    reachable = next(c for c in outcome.customers if c.reachable)
    raw = copy / "tenants" / reachable.tenant_id / "raw" / "guests.jsonl"
    raw.write_bytes(raw.read_bytes().replace(b'"Guest"', b'"Member"', 1))
    manifest = copy / "tenants" / reachable.tenant_id / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"items": ', '"items": 1', 1))
    _, problems = verify_run(store)
    assert {p.problem for p in problems} == {"raw evidence changed since collection",
                                             "tenant manifest changed since the run"}


def test_run_leaves_latest_pointer_summary_and_metrics(demo) -> None:
    outcome, *_ = demo
    data_dir = outcome.root.parent.parent
    assert (data_dir / "latest").resolve() == outcome.root.resolve()
    summary = read_json(data_dir / "last-run.json")
    assert summary["run_id"] == outcome.run_id and summary["exit_code"] == 1
    assert summary["tenants_error"] >= 1 and len(summary["customers"]) == 8
    metrics = (data_dir / "mssp_audit.prom").read_text()
    assert 'mssp_audit_tenants{outcome="error"}' in metrics
    assert re.search(r'mssp_audit_findings\{status="FAIL",severity="critical"\} [1-9]', metrics)


def test_pdf_is_pdfa_and_carries_its_evidence(demo) -> None:
    outcome, *_ = demo
    customer = next(c for c in outcome.customers if c.reachable)
    reader = PdfReader(customer.pdf)
    tenant_dir = outcome.root / "tenants" / customer.tenant_id
    assert reader.attachments["manifest.json"] == [(tenant_dir / "manifest.json").read_bytes()]
    assert reader.attachments["results.json"] == [(tenant_dir / "results.json").read_bytes()]
    xmp = reader.xmp_metadata
    assert xmp is not None and b"pdfaid" in xmp.stream.get_data()
