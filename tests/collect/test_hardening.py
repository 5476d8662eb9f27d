"""A real night's faults through the real command line, against the emulator over HTTPS: hosts that
never answer, tokens refused before their expiry, page chains that never end, throttling without
end, and a resume while the token endpoint is down. Each ends as that tenant's error with its
reason, within its deadline, and the run goes on."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from audit.demo import demo_config, demo_environment
from audit.emulator.estate import Faults
from audit.snapshot.store import RunStore, read_json

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
EM = "/identityGovernance/entitlementManagement"
# Short deadlines, so that "never answers" costs seconds here and not the minutes of the defaults.
FAST = {"timeout_seconds": 2.0, "connect_timeout_seconds": 2.0, "max_retries": 1}


@pytest.fixture(scope="module")
def env() -> Iterator[Any]:
    with demo_environment(now=NOW, customers=8, seed=7) as environment:
        yield environment


@pytest.fixture()
def faults(env: Any) -> Iterator[dict[str, Faults]]:
    """Faults by customer name; every tenant's faults are reset afterwards."""
    saved = {t: data.faults for t, data in env.estate.tenants.items()}
    fresh = {c.name: Faults() for c in env.estate.customers}
    for customer in env.estate.customers:
        env.estate.tenants[customer.tenant_id].faults = fresh[customer.name]
    env.server.request_log.clear()
    yield fresh
    for tenant_id, original in saved.items():
        env.estate.tenants[tenant_id].faults = original


def tenant_of(env: Any, name: str) -> str:
    return next(c.tenant_id for c in env.estate.customers if c.name == name)


def run_cli(env: Any, data: Path, *args: str, collect: dict[str, Any] | None = None,
            timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], float]:
    config = demo_config(env.estate, env.server, env.certificate_path, data, collect={**FAST, **(collect or {})})
    path = data.parent / f"{data.name}.toml"
    path.write_text(tomli_w.dumps(config.model_dump(mode="json", exclude_none=True)))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "audit", "run", "--config", str(path), *args],
                            capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    return result, time.monotonic() - started


def only_run(data: Path) -> RunStore:
    (run_dir,) = (data / "runs").iterdir()
    return RunStore(data, run_dir.name)


def manifest(data: Path, env: Any, name: str) -> dict[str, Any]:
    return read_json(only_run(data).manifest_path(tenant_of(env, name)))


def results(data: Path, env: Any, name: str) -> dict[str, dict[str, Any]]:
    body = read_json(only_run(data).tenant_dir(tenant_of(env, name)) / "results.json")
    return {r["check_id"]: r for r in body["results"]}


def test_a_black_hole_authority_is_that_tenants_error_within_its_deadline(env, faults, tmp_path) -> None:
    faults["Tailspin Toys"].authority_hang = True
    result, took = run_cli(env, tmp_path / "data", "--customers", "Tailspin Toys,Northwind Traders")
    assert result.returncode == 1, result.stderr
    hung = manifest(tmp_path / "data", env, "Tailspin Toys")
    assert not hung["token_ok"] and "timed out" in hung["token_reason"].lower(), hung["token_reason"]
    assert manifest(tmp_path / "data", env, "Northwind Traders")["token_ok"]
    # Only GDAP is read elsewhere (the partner tenant): every check that needs Tailspin's own tenant errs.
    hung_results = results(tmp_path / "data", env, "Tailspin Toys")
    assert all(r["status"] == "ERROR" for i, r in hung_results.items() if not i.startswith("GDAP-"))
    assert hung_results["GDAP-003"]["status"] == "ERROR"      # no GDAP route, and its B2B route unread
    assert took < 120, took      # connect 2 s + read 2 s per request, never the emulator's hour


def test_a_black_hole_graph_host_is_that_resources_error(env, faults, tmp_path) -> None:
    faults["Northwind Traders"].graph_hang = {"/subscribedSkus"}
    result, took = run_cli(env, tmp_path / "data", "--customers", "Northwind Traders")
    assert result.returncode == 1, result.stderr
    skus = manifest(tmp_path / "data", env, "Northwind Traders")["resources"]["subscribed_skus"]
    assert skus["status"] == "failed" and skus["reason"] == "deadline: no complete answer within 2 s"
    assert results(tmp_path / "data", env, "Northwind Traders")["LIC-002"]["status"] == "ERROR"
    assert took < 120, took


def test_the_tenant_deadline_keeps_what_was_read_and_fails_the_rest(env, faults, tmp_path) -> None:
    faults["Contoso Retail"].graph_hang = {"/users", "/groups", "/policies"}
    result, took = run_cli(env, tmp_path / "data", "--customers", "Contoso Retail",
                           collect={"tenant_deadline_seconds": 8, "timeout_seconds": 30})
    assert result.returncode == 1, result.stderr
    contoso = manifest(tmp_path / "data", env, "Contoso Retail")["resources"]
    assert contoso["guests"]["status"] == "failed" and "tenant's deadline of 8 s" in contoso["guests"]["reason"]
    assert contoso["catalogs"]["status"] == "ok"               # what was read before the deadline stays
    by_id = results(tmp_path / "data", env, "Contoso Retail")
    assert by_id["GA-001"]["status"] == "ERROR" and "deadline" in by_id["GA-001"]["reason"]
    assert took < 120, took


def test_a_token_refused_before_its_expiry_is_refreshed_once(env, faults, tmp_path) -> None:
    # Graph stops accepting each token after 2.5 s, though the token endpoint advertises an hour:
    # the client must drop its cached token and ask again, and the evidence comes out whole.
    # (The emulator's iat is in whole seconds, so a token lives 1.5–2.5 s; six sequential pages
    # of guests at 0.4 s each outlive it.)
    faults["Contoso Retail"].token_valid_s = 2.5
    faults["Contoso Retail"].latency_ms = 400
    faults["Contoso Retail"].page_size_cap = 10
    result, _ = run_cli(env, tmp_path / "data", "--customers", "Contoso Retail")
    log = env.server.request_log.snapshot()
    assert any(r.status == 401 for r in log), "the fault did not fire"
    statuses = {n: r["status"] for n, r in manifest(tmp_path / "data", env, "Contoso Retail")["resources"].items()}
    assert "failed" not in statuses.values(), statuses
    assert result.returncode == 0, result.stderr
    tokens = [r for r in log if r.path.endswith("/oauth2/v2.0/token")]
    assert len(tokens) >= 2


def test_a_second_401_is_an_authentication_failure_and_keeps_its_pages(env, faults, tmp_path) -> None:
    contoso = faults["Contoso Retail"]
    contoso.page_size_cap = 20                                # 51 guests: three pages
    contoso.unauthorized_next_pages = {"/users"}
    result, _ = run_cli(env, tmp_path / "data", "--customers", "Contoso Retail")
    assert result.returncode == 1
    data = tmp_path / "data"
    guests = manifest(data, env, "Contoso Retail")["resources"]["guests"]
    assert guests["status"] == "failed" and guests["reason"].startswith("authentication failed")
    assert "missing permission" not in guests["reason"]
    assert guests["file"] == "raw/guests.partial.jsonl" and guests["items"] == 20 and guests["sha256"]
    store = only_run(data)
    assert (store.tenant_dir(tenant_of(env, "Contoso Retail")) / guests["file"]).exists()
    verified = subprocess.run([sys.executable, "-m", "audit", "verify", "--config", str(data.parent / "data.toml"),
                               "--run", store.run_id], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert verified.returncode == 0, verified.stdout
    by_id = results(data, env, "Contoso Retail")
    assert by_id["GA-001"]["status"] == "ERROR" and "authentication failed" in by_id["GA-001"]["reason"]

    # The fault is gone the next morning, but the run was sealed when its collection completed: its
    # evidence is final (DESIGN.md, "Sealed runs"). --resume asks Graph nothing and keeps the failure
    # and its pages; the next night's run reads the guests.
    contoso.unauthorized_next_pages = set()
    env.server.request_log.clear()
    result, _ = run_cli(env, data, "--customers", "Contoso Retail", "--resume", store.run_id)
    assert result.returncode == 1, result.stderr
    assert not [r for r in env.server.request_log.snapshot() if r.path.startswith("/v1.0")]
    assert manifest(data, env, "Contoso Retail")["resources"]["guests"] == guests
    assert (store.tenant_dir(tenant_of(env, "Contoso Retail")) / "raw/guests.partial.jsonl").exists()


def test_a_looping_next_link_ends_the_resource_with_its_pages_kept(env, faults, tmp_path) -> None:
    faults["Northwind Traders"].loop_chain = {f"{EM}/accessPackages"}
    faults["Fabrikam Health"].loop_chain = {f"{EM}/connectedOrganizations"}
    data = tmp_path / "data"
    result, _ = run_cli(env, data, "--customers", "Northwind Traders,Fabrikam Health")
    assert result.returncode == 1
    catalogs = manifest(data, env, "Northwind Traders")["resources"]["access_packages"]
    assert catalogs["status"] == "failed" and catalogs["reason"].startswith("paging loop:")
    assert catalogs["pages"] == 2 and catalogs["file"] == "raw/access_packages.partial.jsonl"
    northwind = tenant_of(env, "Northwind Traders")
    looped = [r for r in env.server.request_log.snapshot()
              if r.path.endswith("/accessPackages") and r.tenant_id == northwind]
    assert len(looped) == 2                                   # followed once, then recognised
    assert results(data, env, "Northwind Traders")["EM-002"]["status"] == "ERROR"


def test_a_chain_past_the_page_cap_is_a_paging_loop(env, faults, tmp_path) -> None:
    faults["Northwind Traders"].page_size_cap = 3              # 11 guests: 4 pages
    result, _ = run_cli(env, tmp_path / "data", "--customers", "Northwind Traders", collect={"max_pages": 3})
    assert result.returncode == 1
    guests = manifest(tmp_path / "data", env, "Northwind Traders")["resources"]["guests"]
    assert guests["status"] == "failed" and "past 3 pages (collect.max_pages)" in guests["reason"]
    assert guests["pages"] == 3


def test_retry_after_sleeping_is_capped_per_tenant(env, faults, tmp_path) -> None:
    faults["Northwind Traders"].http_errors = {"/subscribedSkus": 429}       # Retry-After: 1, for ever
    result, took = run_cli(env, tmp_path / "data", "--customers", "Northwind Traders",
                           collect={"max_retries": 20, "max_retry_wait_seconds": 3})
    assert result.returncode == 1
    skus = manifest(tmp_path / "data", env, "Northwind Traders")["resources"]["subscribed_skus"]
    assert skus["status"] == "failed" and skus["reason"].startswith("retry budget: gave up after")
    assert "collect.max_retry_wait_seconds" in skus["reason"]
    assert skus["requests"] <= 5                              # 3 s of 1 s waits, not 20 retries


def test_resume_of_a_complete_run_needs_no_token_and_keeps_everything(env, faults, tmp_path) -> None:
    data = tmp_path / "data"
    names = "Northwind Traders,Tailspin Toys"
    first, _ = run_cli(env, data, "--customers", names)
    assert first.returncode == 0, first.stderr
    store = only_run(data)
    # Evidence and each customer's reports; the portfolio is the run's own page and is redrawn.
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in store.root.rglob("*")
              if p.is_file() and p.name != "portfolio.xlsx"
              and (p.name == "manifest.json" or p.suffix in (".jsonl", ".pdf", ".xlsx"))}
    for name in names.split(","):
        faults[name].authority_hang = True                    # the token endpoint is down this morning
        faults[name].token_error = "AADSTS7000229"
    env.server.request_log.clear()
    resumed, _ = run_cli(env, data, "--customers", names, "--resume", store.run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert not [r for r in env.server.request_log.snapshot()], "a complete tenant needs no request at all"
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in before}
    assert after == before
    summary = json.loads((store.root / "summary.json").read_text())
    assert summary["tenants_error"] == 0


def test_gdap_access_assignments_are_read_for_the_audited_customers_only(env, faults, tmp_path) -> None:
    result, _ = run_cli(env, tmp_path / "data", "--customers", "Northwind Traders")
    assert result.returncode == 0, result.stderr
    partner = env.estate.tenants[env.estate.partner_tenant_id]
    northwind = tenant_of(env, "Northwind Traders")
    mine = {r["id"] for r in partner.delegated_admin_relationships if r["customer"]["tenantId"] == northwind}
    asked = {r.path.split("/")[-2] for r in env.server.request_log.snapshot() if r.path.endswith("/accessAssignments")}
    assert mine and asked == mine
    assert len(partner.delegated_admin_relationships) > len(mine)


def test_a_token_endpoint_failing_mid_collection_fails_resources_not_the_tenant(env, faults, tmp_path) -> None:
    # The first token is issued; then Graph starts refusing it and the authority refuses new ones
    # (consent revoked mid-night). The refresh's failure is each waiting resource's error, retried
    # like a transient one; what was read with the first token stays.
    contoso = faults["Contoso Retail"]
    contoso.token_valid_s = 1.0
    contoso.latency_ms = 300
    contoso.page_size_cap = 10
    config = demo_config(env.estate, env.server, env.certificate_path, tmp_path / "data", collect=FAST)
    path = tmp_path / "data.toml"
    path.write_text(tomli_w.dumps(config.model_dump(mode="json", exclude_none=True)))
    process = subprocess.Popen([sys.executable, "-m", "audit", "run", "--config", str(path), "--customers",
                                "Contoso Retail"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    tenant = tenant_of(env, "Contoso Retail")
    deadline = time.monotonic() + 120
    while not any(r.path.endswith("/oauth2/v2.0/token") and r.tenant_id == tenant and r.status == 200
                  for r in env.server.request_log.snapshot()):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.005)
    contoso.token_error = "AADSTS7000229"
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr[-2000:]
    assert "collection crashed" not in stderr and "Traceback" not in stderr
    resources = manifest(tmp_path / "data", env, "Contoso Retail")["resources"]
    failed = {n: r["reason"] for n, r in resources.items() if r["status"] == "failed"}
    assert failed and all(reason.startswith("no token: AADSTS7000229") for reason in failed.values()), failed
