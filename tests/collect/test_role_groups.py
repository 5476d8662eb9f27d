"""The fan-out over role-holding groups: only groups that hold a watched role are read, each once,
and their members are recorded under the group's id (audit/resources.py, role_group_members)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from audit.collect.tenant import TenantCollector
from audit.graph.client import GraphClient
from audit.models import ResourceStatus, TenantManifest
from audit.resources import GLOBAL_ADMIN, SECURITY_ADMIN, resource
from audit.snapshot.store import RunStore, iter_raw
from tests.checks import tenant_builder as tb
from tests.checks.planted import fixture

DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
ADMINS = "b6c76b64-9a50-45f5-b343-f6c53d69ce61"          # the fixture's role-assignable group
READERS = "grp-readers"


class _Tokens:
    roles = ("RoleManagement.Read.Directory", "GroupMember.Read.All")

    async def token(self, stale: str | None = None) -> str:
        return "token"


def _assignments() -> list[dict[str, Any]]:
    (held,) = fixture("role_group_global_admin")["role_assignments"]
    twice = {**held, "id": "sa-on-the-same-group", "roleDefinitionId": SECURITY_ADMIN}
    unwatched = {**held, "id": "readers", "principalId": READERS, "roleDefinitionId": DIRECTORY_READERS,
                 "principal": {**held["principal"], "id": READERS, "displayName": "Readers"}}
    return [held, twice, unwatched, tb.role_assignment(1, GLOBAL_ADMIN)]


def _collect(tmp_path: Path) -> tuple[TenantManifest, list[str]]:
    asked: list[str] = []
    members = [{k: v for k, v in m.items() if k != "_parent"}
               for m in fixture("role_group_global_admin")["role_group_members"]]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/$batch"):
            items = json.loads(request.content)["requests"]
            asked.extend(item["url"] for item in items)
            return httpx.Response(200, json={"responses": [
                {"id": item["id"], "status": 200, "body": {"value": members}} for item in items]})
        asked.append(request.url.path)
        return httpx.Response(200, json={"value": _assignments()})

    async def collect() -> TenantManifest:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            tokens: Any = _Tokens()
            client = GraphClient(base_url="https://graph.example/v1.0", tokens=tokens, http=http)
            collector = TenantCollector(store=RunStore(tmp_path, "run"), tenant_id=tb.TENANT, customer="Contoso",
                                        specs=(resource("role_assignments"), resource("role_group_members")),
                                        client=client, tokens=tokens, collected_at=tb.NOW)
            return await collector.run()

    return asyncio.run(collect()), asked


def test_only_groups_holding_a_watched_role_are_read_and_each_once(tmp_path: Path) -> None:
    manifest, asked = _collect(tmp_path)
    read = [url for url in asked if "transitiveMembers" in url]
    assert read == ["/" + resource("role_group_members").child_path({"principalId": ADMINS}, None)]
    record = manifest.resources["role_group_members"]
    assert record.status is ResourceStatus.OK and record.items == 2 and record.lower_bound == 1
    pages = list(iter_raw(RunStore(tmp_path, "run").raw_path(tb.TENANT, "role_group_members")))
    assert [p["parent"] for p in pages] == [ADMINS]


def test_users_and_groups_without_a_string_id_are_not_fanned_out() -> None:
    spec = resource("role_group_members")
    assert not any(spec.fans_out_over(a, frozenset()) for a in [tb.role_assignment(1, GLOBAL_ADMIN),
                                                                  {"principalId": 5, "roleDefinitionId": GLOBAL_ADMIN,
                                                                   "principal": {"@odata.type": "#microsoft.graph.group"}}])
