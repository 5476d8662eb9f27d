"""200 tenants, ~10 % transient faults, a few hard faults: transient ones complete, hard ones are
reported with their reason, and no check FAILs on evidence it did not get."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime

import pytest

from audit.checks import SPECS
from audit.collect.run import collect_all
from audit.demo import demo_config, demo_environment
from audit.graph.auth import load_credential
from audit.models import ResourceStatus, Status
from audit.pipeline import evaluate_tenant
from audit.snapshot.store import RunStore

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
EM = "/identityGovernance/entitlementManagement"
# Statuses the estate's own profiles plant on purpose (no P2, a missing AuditLog permission…).
PLANTED_STATUSES = {ResourceStatus.OK, ResourceStatus.NOT_LICENSED, ResourceStatus.FORBIDDEN,
                    ResourceStatus.NOT_FOUND, ResourceStatus.SKIPPED}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("matrix")
    with demo_environment(now=NOW, customers=200, seed=21) as env:
        tenants = [c.tenant_id for c in env.estate.customers]
        # Profiles cycle every 8 customers: 16, 17, 18 are licensed (Contoso, Fabrikam, Northwind) ones.
        hard = {"forbidden": tenants[16], "malformed": tenants[17], "truncated": tenants[18]}
        for tenant_id in tenants:
            faults = env.estate.tenants[tenant_id].faults
            faults.transient_503 = 0.08
            faults.reset_rate = 0.02
        env.estate.tenants[hard["forbidden"]].faults.http_errors = {"/subscribedSkus": 403}
        env.estate.tenants[hard["malformed"]].faults.malformed_json = {f"{EM}/assignments"}
        env.estate.tenants[hard["truncated"]].faults.truncate_chain = {"/users"}
        revoked = [t for t in tenants if env.estate.tenants[t].faults.token_error]
        config = demo_config(env.estate, env.server, env.certificate_path, out,
                             collect={"tenant_concurrency": 24, "max_retries": 8})
        store = RunStore(out, "matrix")
        credential = load_credential(config.app.certificate_path, None, None)
        lines = _capture_logs()
        manifests = asyncio.run(collect_all(config, store, credential, NOW))
        log = env.server.request_log.snapshot()
    results = {t: evaluate_tenant(config, store, t)[1] for t in tenants}
    logging.getLogger().removeHandler(lines)
    return manifests, results, hard, revoked, log, tenants, lines


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(self.format(record))


def _capture_logs() -> _Lines:
    """Every log line of every library (msal, httpx, ours) at DEBUG, as an operator would see it."""
    handler = _Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return handler


def test_transient_faults_were_injected_and_overcome(matrix) -> None:
    manifests, _, hard, revoked, log, tenants, _ = matrix
    assert sum(1 for r in log if r.status == 503) > 100 and sum(1 for r in log if r.status == 0) > 10
    for tenant_id in set(tenants) - set(hard.values()) - set(revoked):
        statuses = {name: r.status for name, r in manifests[tenant_id].resources.items()}
        assert ResourceStatus.FAILED not in statuses.values(), (tenant_id, statuses)
        assert set(statuses.values()) <= PLANTED_STATUSES


def test_hard_faults_are_reported_with_their_reason(matrix) -> None:
    manifests, _, hard, revoked, _, _, _ = matrix
    skus = manifests[hard["forbidden"]].resources["subscribed_skus"]
    assert skus.status is ResourceStatus.FORBIDDEN and "LicenseAssignment.Read.All" in skus.reason
    broken = manifests[hard["malformed"]].resources["assignments"]
    assert broken.status is ResourceStatus.FAILED and "JSON" in broken.reason and not broken.sha256
    chain = manifests[hard["truncated"]].resources["guests"]
    assert chain.status is ResourceStatus.FAILED and chain.reason
    assert revoked and all(not manifests[t].token_ok and "AADSTS7000229" in manifests[t].token_reason
                           for t in revoked)


def test_no_fail_without_evidence(matrix) -> None:
    from audit.checks import CATALOGUE
    absent_when_unlicensed = {c.spec.id: set(c.unlicensed_is_absent) for c in CATALOGUE}
    manifests, results, _, _, _, tenants, _ = matrix
    for tenant_id in tenants:
        manifest = manifests[tenant_id]
        for result in results[tenant_id]:
            if result.status in (Status.FAIL, Status.WARN, Status.PASS):
                for resource in SPECS[result.check_id].resources:
                    status = manifest.status_of(resource).status if resource not in (
                        "gdap_relationships", "gdap_access_assignments") else ResourceStatus.OK
                    # "Not licensed" is itself evidence for a few checks (no P2 → no governed B2B access).
                    allowed = {ResourceStatus.OK, ResourceStatus.NOT_FOUND} | (
                        {ResourceStatus.NOT_LICENSED} if resource in absent_when_unlicensed[result.check_id]
                        else set())
                    assert status in allowed, (tenant_id, result)


def test_hard_faults_turn_into_error_not_fail(matrix) -> None:
    _, results, hard, _, _, _, _ = matrix
    by_id = {r.check_id: r for r in results[hard["forbidden"]]}
    assert by_id["LIC-001"].status is Status.ERROR and "subscribed_skus" in by_id["LIC-001"].reason
    by_id = {r.check_id: r for r in results[hard["malformed"]]}
    assert by_id["EM-006"].status is Status.ERROR and "assignments" in by_id["EM-006"].reason


def test_no_token_in_logs_or_snapshot(matrix) -> None:
    manifests, *_, lines = matrix
    jwt = re.compile(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.")
    assert len(lines.text) > 100
    assert not [line for line in lines.text if jwt.search(line) or "PRIVATE KEY" in line]
    for manifest in manifests.values():
        assert not jwt.search(manifest.token_reason)
        for record in manifest.resources.values():
            assert not jwt.search(record.reason)


def test_requests_stay_near_the_lower_bound(matrix) -> None:
    from audit.collect.lower_bound import tenant_requests
    manifests, _, hard, revoked, _, tenants, _ = matrix
    clean = [t for t in tenants if t not in hard.values() and t not in revoked][:20]
    for tenant_id in clean:
        used, bound = tenant_requests(manifests[tenant_id], retries=False)
        assert bound > 0 and used <= bound * 1.10, (tenant_id, used, bound)
