"""A whole night of 200 tenants through the real command line, with every fault a real night brings
mixed in: transient 503s and dropped connections everywhere, and in single tenants a black-hole
authority, a black-hole Graph resource, tokens refused before their expiry, a 401 mid-chain, a
looping nextLink, throttling without end, a missing permission, broken JSON, a broken chain, a
value of the wrong type, two customers with one display name.

Every tenant ends complete or ERROR with its reason; against a clean collection of the same
estate, no result turns into a FAIL, WARN or PASS it would not have had (0 false FAIL, 0 false
PASS); the run finishes with exit 1, and no process is left behind."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from audit.collect.lower_bound import tenant_requests
from audit.collect.run import collect_all
from audit.demo import demo_config, demo_environment
from audit.graph.auth import load_credential
from audit.models import ResourceStatus
from audit.pipeline import evaluate_tenant
from audit.snapshot.store import RunStore, manifest_from_json, read_json
from tests._procs import MARK, marked

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
EM = "/identityGovernance/entitlementManagement"
JWT = re.compile(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.")
# Deadlines short enough that a black hole costs seconds, long enough that a loaded 2-core machine
# (the emulator shares it with the run) answers every honest request within them.
COLLECT = {"tenant_concurrency": 24, "max_retries": 8, "timeout_seconds": 10.0, "connect_timeout_seconds": 5.0,
           "max_retry_wait_seconds": 20.0, "tenant_deadline_seconds": 240.0}
# The estate's profiles repeat every 8 customers; these indices fall on licensed ones (Contoso,
# Fabrikam, Northwind, Woodgrove, Adatum, Litware), so a fault is not hidden by a missing licence.
HARD = {"forbidden": 16, "malformed": 17, "truncated": 18, "authority_hang": 24, "graph_hang": 25,
        "token_refused": 26, "unauthorized": 32, "loop": 33, "throttled": 34, "type_drift": 40,
        "same_name_a": 48, "same_name_b": 49}
# Statuses the estate's own profiles plant on purpose (no P2, a missing AuditLog permission…).
PLANTED = {ResourceStatus.OK, ResourceStatus.NOT_LICENSED, ResourceStatus.FORBIDDEN, ResourceStatus.NOT_FOUND,
           ResourceStatus.SKIPPED}


def _plant(env: Any, tenants: list[str]) -> None:
    for tenant_id in tenants:
        faults = env.estate.tenants[tenant_id].faults
        faults.transient_503 = 0.08
        faults.reset_rate = 0.02
    faults = {name: env.estate.tenants[tenants[index]].faults for name, index in HARD.items()}
    faults["forbidden"].http_errors = {"/subscribedSkus": 403}
    faults["malformed"].malformed_json = {f"{EM}/assignments"}
    faults["truncated"].truncate_chain = {"/users"}
    faults["authority_hang"].authority_hang = True
    faults["graph_hang"].graph_hang = {"/subscribedSkus"}
    faults["token_refused"].token_valid_s = 4.0
    faults["token_refused"].latency_ms = 300
    faults["token_refused"].page_size_cap = 10
    faults["unauthorized"].unauthorized_next_pages = {"/users"}
    faults["unauthorized"].page_size_cap = 10
    faults["loop"].loop_chain = {f"{EM}/accessPackages"}
    faults["throttled"].http_errors = {"/groups": 429}
    drifted = env.estate.tenants[tenants[HARD["type_drift"]]]
    guest = next(u for u in drifted.users if u.get("userType") == "Guest")
    guest["accountEnabled"] = "yes"


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("night")
    with demo_environment(now=NOW, customers=200, seed=21) as env:
        tenants = [c.tenant_id for c in env.estate.customers]
        # The baseline: the same estate with nothing but its planted problems, collected and evaluated.
        clean = demo_config(env.estate, env.server, env.certificate_path, out / "clean", collect=COLLECT)
        store = RunStore(out / "clean", "clean")
        asyncio.run(collect_all(clean, store, load_credential(clean.app.certificate_path), NOW))
        baseline = {t: {r.check_id: r.status.value for r in evaluate_tenant(clean, store, t)[1]} for t in tenants}

        _plant(env, tenants)
        config = demo_config(env.estate, env.server, env.certificate_path, out / "data", collect=COLLECT)
        data = config.model_dump(mode="json", exclude_none=True)
        data["customers"][HARD["same_name_b"]]["name"] = data["customers"][HARD["same_name_a"]]["name"]
        path = out / "night.toml"
        path.write_text(tomli_w.dumps(data))
        env.server.request_log.clear()
        mark = uuid.uuid4().hex
        # The estate's dates are relative to NOW: the night is evaluated as of NOW, like the baseline.
        result = subprocess.run([sys.executable, "-m", "audit", "run", "--config", str(path),
                                 "--as-of", NOW.isoformat()],
                                capture_output=True, text=True, cwd=ROOT, timeout=1500,
                                env={**os.environ, MARK: mark})
        log = env.server.request_log.snapshot()
    (run_dir,) = (out / "data" / "runs").iterdir()
    night_store = RunStore(out / "data", run_dir.name)
    results = {t: {r["check_id"]: r for r in read_json(night_store.tenant_dir(t) / "results.json")["results"]}
               for t in tenants}
    manifests = {t: manifest_from_json(read_json(night_store.manifest_path(t))) for t in tenants}
    return {"result": result, "baseline": baseline, "results": results, "manifests": manifests, "log": log,
            "tenants": tenants, "store": night_store, "mark": mark, "config": data}


def test_the_night_finishes_with_exit_1_and_leaves_no_process(night) -> None:
    result = night["result"]
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith(f"Run {night['store'].run_id}: 200 customers")
    assert not marked(night["mark"])
    assert (night["store"].reports_dir / "portfolio.xlsx").exists()


def test_no_result_turns_into_a_fail_or_pass_it_would_not_have_had(night) -> None:
    changed: Counter[tuple[str, str]] = Counter()
    for tenant_id in night["tenants"]:
        for check_id, result in night["results"][tenant_id].items():
            before, after = night["baseline"][tenant_id][check_id], result["status"]
            if after == before:
                continue
            assert after == "ERROR" and result["reason"], (tenant_id, check_id, before, result)
            changed[(before, after)] += 1
    assert changed, "the faults made nothing ERROR: they did not fire"
    false_fail = sum(n for (before, after), n in changed.items() if after in ("FAIL", "WARN"))
    false_pass = sum(n for (before, after), n in changed.items() if after == "PASS")
    assert (false_fail, false_pass) == (0, 0)


def test_every_tenant_is_complete_or_says_why_not(night) -> None:
    hard = {night["tenants"][i] for i in HARD.values()}
    for tenant_id, manifest in night["manifests"].items():
        if not manifest.token_ok:
            assert manifest.token_reason, tenant_id
            continue
        for name, record in manifest.resources.items():
            assert record.status is ResourceStatus.OK or record.reason, (tenant_id, name)
            if tenant_id not in hard:          # transient faults only: overcome, never failed
                assert record.status in PLANTED, (tenant_id, name, record)
    log = night["log"]
    assert sum(1 for r in log if r.status == 503) > 100 and sum(1 for r in log if r.status == 0) > 10


def test_each_hard_fault_is_reported_with_its_reason(night) -> None:
    m = {name: night["manifests"][night["tenants"][i]] for name, i in HARD.items()}
    res = {name: night["results"][night["tenants"][i]] for name, i in HARD.items()}

    def reason(name: str, resource: str) -> str:
        record = m[name].resources[resource]
        assert record.status is not ResourceStatus.OK, (name, resource)
        return record.reason

    assert "missing permission LicenseAssignment.Read.All" in reason("forbidden", "subscribed_skus")
    assert "JSON" in reason("malformed", "assignments")
    assert reason("truncated", "guests")
    assert not m["authority_hang"].token_ok and "timed out" in m["authority_hang"].token_reason.lower()
    # Each try ends at its deadline; the retries' back-off may spend the waiting budget first.
    assert "no complete answer within 10 s" in reason("graph_hang", "subscribed_skus")
    assert all(r.status is not ResourceStatus.FAILED for r in m["token_refused"].resources.values())
    assert reason("unauthorized", "guests").startswith("authentication failed")
    assert reason("loop", "access_packages").startswith("paging loop")
    assert "429" in reason("throttled", "groups")          # retries or the waiting budget ran out first
    drift = res["type_drift"]["GA-001"]
    assert drift["status"] == "ERROR" and "accountEnabled" in drift["reason"] and "guests" in drift["reason"]


def test_two_customers_with_one_name_keep_two_reports(night) -> None:
    reports = night["store"].reports_dir
    a, b = (night["tenants"][HARD[k]] for k in ("same_name_a", "same_name_b"))
    assert len(list(reports.glob(f"*--{a}.pdf"))) == 1 and len(list(reports.glob(f"*--{b}.pdf"))) == 1
    summary = json.loads((night["store"].root / "summary.json").read_text())
    assert {c["tenant_id"] for c in summary["customers"]} >= {a, b}


def test_no_token_in_the_log_or_the_snapshot(night) -> None:
    stderr = night["result"].stderr
    assert len(stderr.splitlines()) > 100
    assert not JWT.search(stderr) and "PRIVATE KEY" not in stderr
    for path in night["store"].root.rglob("*.json"):
        assert not JWT.search(path.read_text(errors="replace")), path


def test_requests_stay_near_the_lower_bound(night) -> None:
    hard = {night["tenants"][i] for i in HARD.values()}
    clean = [t for t in night["tenants"] if t not in hard and night["manifests"][t].token_ok][:20]
    for tenant_id in clean:
        used, bound = tenant_requests(night["manifests"][tenant_id], retries=False)
        assert bound > 0 and used <= bound * 1.10, (tenant_id, used, bound)
