"""A bug while collecting one tenant costs that tenant, not the run, and leaves no half-evidence."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.collect import tenant as tenant_module
from audit.collect.run import collect_all
from audit.config import new_run_id
from audit.demo import demo_config, demo_environment
from audit.graph.auth import load_credential
from audit.snapshot.store import RunStore, read_json

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def test_a_crash_in_one_resource_is_that_tenants_error_and_the_others_complete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    original = tenant_module.TenantCollector._collect
    with demo_environment(now=NOW, customers=3, seed=5, include_broken_tenant=False) as env:
        config = demo_config(env.estate, env.server, env.certificate_path, tmp_path)
        victim = config.customers[1].tenant_id.lower()

        async def buggy(self, spec):  # type: ignore[no-untyped-def]
            if self.tenant_id == victim and spec.name == "catalogs":
                await asyncio.sleep(0)
                raise RuntimeError("a bug")
            return await original(self, spec)

        monkeypatch.setattr(tenant_module.TenantCollector, "_collect", buggy)
        store = RunStore(tmp_path, new_run_id(NOW.isoformat()))
        credential = load_credential(config.app.certificate_path)
        manifests = asyncio.run(collect_all(config, store, credential, NOW))

    crashed = manifests[victim]
    assert not crashed.token_ok and crashed.token_reason == "collection crashed: RuntimeError"
    assert read_json(store.manifest_path(victim))["token_reason"] == "collection crashed: RuntimeError"
    others = [m for tid, m in manifests.items() if tid != victim]
    assert others and all(m.token_ok for m in others)
    assert all(r.status.value == "ok" for m in others for r in m.resources.values() if r.name == "catalogs")
    # The crashed tenant's siblings were cancelled before its HTTP client closed: none failed on a closed client.
    assert "client has been closed" not in caplog.text.lower()
    assert not list(store.tenant_dir(victim).glob("raw/.*.part"))
