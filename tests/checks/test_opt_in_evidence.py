"""Opt-in beta evidence (Defender RBAC, graph-api.md §10): chosen by [expectations], read from /beta."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from audit.checks.app_permissions import required_permissions
from audit.collect.run import targets
from audit.collect.tenant import TenantCollector
from audit.graph.client import GraphClient
from audit.models import ResourceStatus
from audit.resources import bind
from audit.snapshot.store import RunStore
from tests.checks import tenant_builder as tb

DEFENDER = {"defender_role_definitions", "defender_role_assignments"}


def test_defender_resources_are_collected_only_when_opted_in() -> None:
    off = {s.name for s in targets(tb.config(expectations={"collect_defender_rbac": False}))[0].specs}
    on = {s.name for s in targets(tb.config())[0].specs}
    assert not DEFENDER & off and DEFENDER <= on
    assert "RoleManagement.Read.Defender" not in required_permissions()
    assert "RoleManagement.Read.Defender" in required_permissions(opted_in=["collect_defender_rbac"])


class _Tokens:
    roles = ("RoleManagement.Read.Defender",)

    async def token(self, *, stale: str | None = None) -> str:
        return "token"


def test_beta_resources_are_read_beside_v1(tmp_path: Path) -> None:
    """The client's base ends in /v1.0; a beta spec swaps it for /beta and follows the nextLink."""
    seen: list[str] = []
    base = "https://graph.example/beta/roleManagement/defender/roleDefinitions"

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path != "/beta/roleManagement/defender/roleDefinitions":
            return httpx.Response(404, json={"error": {"code": "BadRequest", "message": "v1.0 has no defender"}})
        if "$skiptoken" in str(request.url):
            return httpx.Response(200, json={"value": [tb.defender_role("role-t2", [tb.LIVE_RESPONSE])]})
        body: dict[str, Any] = {"value": [tb.defender_role("role-t1", tb.SOC_READ)],
                                "@odata.nextLink": f"{base}?$skiptoken=2"}
        return httpx.Response(200, json=body)

    spec = next(s for s in bind(tb.MSSP, ()) if s.name == "defender_role_definitions")

    async def collect() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            tokens: Any = _Tokens()
            client = GraphClient(base_url="https://graph.example/v1.0", tokens=tokens, http=http)
            collector = TenantCollector(store=RunStore(tmp_path, "run"), tenant_id=tb.TENANT, customer="Contoso",
                                        specs=(spec,), client=client, tokens=tokens,
                                        collected_at=datetime(2026, 11, 22, tzinfo=UTC))
            return await collector.run()

    manifest = asyncio.run(collect())
    record = manifest.resources["defender_role_definitions"]
    assert record.status is ResourceStatus.OK and record.items == 2 and record.pages == 2, record
    assert seen == [base, f"{base}?$skiptoken=2"]
