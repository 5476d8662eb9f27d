"""The Graph client against the emulator over real HTTPS: paging, $batch, throttling, GET-only."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest

from audit.collect.run import http_client
from audit.demo import demo_config, demo_environment
from audit.emulator.estate import Faults
from audit.graph import client as client_module
from audit.graph.auth import TokenProvider, load_credential, token_claims
from audit.graph.client import GraphClient, GraphError, Tally

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    with demo_environment(now=NOW, customers=1, seed=5, include_broken_tenant=False) as env:
        config = demo_config(env.estate, env.server, env.certificate_path, tmp_path_factory.mktemp("d"))
        yield env, config


def run_with_client(env_config, body, *, tenant: str | None = None):
    env, config = env_config
    tenant_id = tenant or env.estate.customers[0].tenant_id

    async def main():
        tokens = TokenProvider(tenant_id=tenant_id, client_id=config.app.client_id,
                               credential=load_credential(config.app.certificate_path),
                               authority_host=config.cloud.authority, scope=config.cloud.scope,
                               ca_bundle=config.cloud.ca_bundle)
        async with http_client(config) as http:
            client = GraphClient(base_url=config.cloud.base_url, tokens=tokens, http=http, max_retries=4)
            try:
                return await body(client, tokens, env.estate.tenants[tenant_id])
            finally:
                tokens.close()
    return asyncio.run(main())


def test_certificate_token_carries_tenant_and_roles(env) -> None:
    async def body(client, tokens, tenant):
        token = await tokens.token()
        return token_claims(token), tokens.roles
    claims, roles = run_with_client(env, body)
    assert claims["tid"] == env[0].estate.customers[0].tenant_id
    assert "User.Read.All" in roles


def test_paging_follows_next_links_to_the_end(env) -> None:
    async def body(client, tokens, tenant):
        tally = Tally()
        items = [u async for page in client.pages("users?$select=id&$top=7", tally) for u in page["value"]]
        return items, tally, len(tenant.users)
    items, tally, total = run_with_client(env, body)
    assert len(items) == total and len({u["id"] for u in items}) == total
    assert tally.pages == -(-total // 7) and tally.requests == tally.pages


def test_429_retry_after_is_honoured(env) -> None:
    async def body(client, tokens, tenant):
        tenant.faults = Faults(throttle_budget=3, throttle_window_s=1.0)
        try:
            tally = Tally()
            started = time.monotonic()
            for _ in range(6):
                await client.get(client.url("subscribedSkus"), tally)
            return tally, time.monotonic() - started
        finally:
            tenant.faults = Faults()
    tally, elapsed = run_with_client(env, body)
    assert tally.throttled >= 1 and tally.retries >= 1 and elapsed >= 0.9


def test_batch_items_throttled_inside_are_retried_alone(env) -> None:
    async def body(client, tokens, tenant):
        tenant.faults = Faults(throttle_budget=5, throttle_window_s=1.0)
        try:
            tally = Tally()
            replies = await client.batch({str(i): "subscribedSkus" for i in range(12)}, tally)
            return replies, tally
        finally:
            tenant.faults = Faults()
    replies, tally = run_with_client(env, body)
    assert len(replies) == 12 and all(r.status == 200 for r in replies.values())
    assert tally.throttled >= 1 and tally.requests > 12


def test_forbidden_is_not_retried_and_names_the_error(env) -> None:
    async def body(client, tokens, tenant):
        tenant.faults = Faults(http_errors={"/subscribedSkus": 403})
        try:
            tally = Tally()
            with pytest.raises(GraphError) as caught:
                await client.get(client.url("subscribedSkus"), tally)
            return caught.value, tally
        finally:
            tenant.faults = Faults()
    error, tally = run_with_client(env, body)
    assert error.status == 403 and tally.requests == 1


def test_signin_reads_are_paced(env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "SIGNIN_BUDGET", (2, 0.6))

    async def body(client, tokens, tenant):
        tally = Tally()
        started = time.monotonic()
        for _ in range(5):
            await client.get(client.url("users?$select=id,signInActivity&$top=1"), tally)
        return time.monotonic() - started
    assert run_with_client(env, body) >= 1.2     # 5 reads at 2 per 0.6 s need two full windows


def test_only_get_and_batch_can_be_sent() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))

    class Tokens:
        async def token(self, *, stale: str | None = None) -> str:
            return "t"

    async def main() -> None:
        async with httpx.AsyncClient(transport=transport) as http:
            client = GraphClient(base_url="https://graph.example/v1.0", tokens=Tokens(), http=http)  # type: ignore[arg-type]
            with pytest.raises(ValueError):
                await client._send("DELETE", client.url("users/1"), Tally())
            with pytest.raises(ValueError):
                await client._send("POST", client.url("users"), Tally(), {})
    asyncio.run(main())


def test_next_link_to_another_host_is_refused() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200, json={"value": [], "@odata.nextLink": "https://evil.example/v1.0/users"})

    class Tokens:
        async def token(self, *, stale: str | None = None) -> str:
            return "secret-token"

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            client = GraphClient(base_url="https://graph.example/v1.0", tokens=Tokens(), http=http)  # type: ignore[arg-type]
            with pytest.raises(GraphError, match="outside"):
                async for _ in client.pages("users", Tally()):
                    pass
    asyncio.run(main())
    assert sent == ["https://graph.example/v1.0/users"]
