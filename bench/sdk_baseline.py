"""Baseline collector written with the official Microsoft Graph SDK for Python (msgraph-sdk).

Collects the same resources as the catalogue in audit/resources.py, the plain way an SDK user would:
one GraphServiceClient per tenant, the fluent request builders with typed query parameters,
`@odata.nextLink` followed with `with_url(...)`, no `$batch`, resources one after another
within a tenant, tenants concurrently (the same tenant concurrency as our collector). The SDK's
default middleware (retry handler honouring Retry-After, redirects, telemetry) is kept.

Runs in its own venv (bench/setup-sdk.sh), never imports `audit`, and is started by run.py:

    /tmp/sdkvenv/bin/python bench/sdk_baseline.py --emulator OUT/tls/bench-emulator.json --out OUT/sdk.json

Time is reported three ways: wall time of the whole collection; HTTP time, the sum over
requests of the adapter's `get_http_response_message` (token, middleware, retries and
Retry-After waits, the response body read) — requests overlap, so this sum can exceed the wall
time; object-building time, the rest of `send_async` (status check, JSON parsing, building the
model objects), which is synchronous on the one event-loop thread, so its sum is wall time spent.
Item counts per tenant and resource go to the JSON so run.py can check them against our
manifests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import resource
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

_t0 = time.perf_counter()
import httpx
from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import options as GRAPH_OPTIONS
from msgraph_core import GraphClientFactory

IMPORT_S = time.perf_counter() - _t0

SCOPE = "https://graph.microsoft.com/.default"
GUEST_FIELDS = ["id", "displayName", "mail", "userPrincipalName", "userType", "externalUserState",
                "externalUserStateChangeDateTime", "creationType", "createdDateTime", "accountEnabled", "identities"]
DECISION_FIELDS = ["id", "decision", "recommendation", "principal", "reviewedBy", "reviewedDateTime",
                   "appliedDateTime", "applyResult"]
MEMBER_FIELDS = ["id", "displayName", "userPrincipalName", "mail", "userType"]
SKU_FIELDS = ["skuId", "skuPartNumber", "capabilityStatus", "prepaidUnits", "consumedUnits", "servicePlans"]
STALE_RESENDS = 3
# Below uvicorn's 5 s keep-alive timeout, so the pool drops a connection before the server does.
KEEPALIVE_EXPIRY_S = 3.0
NOT_LICENSED = {"Authentication_RequestFromNonPremiumTenantOrB2CTenant", "AadPremiumLicenseRequired"}

# Per-tenant counters, found through the task's context (set once per tenant task).
_stats: contextvars.ContextVar[dict[str, float]] = contextvars.ContextVar("stats")


class CountingTransport(httpx.AsyncBaseTransport):
    """The innermost transport: sees every attempt, the middleware's retries included."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        stats = _stats.get(None)
        if stats is not None:
            stats["requests"] += 1
        for attempt in range(STALE_RESENDS + 1):
            try:
                return await self._inner.handle_async_request(request)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                # The SDK's object building blocks the event loop for seconds; meanwhile uvicorn
                # closes idle keep-alive connections (5 s) and a request sent on one fails before
                # it is served. Graph keeps idle connections far longer, so a real user would
                # rarely see this: send it again (counted) rather than lose the tenant. Each
                # failure drops one dead connection from the pool.
                if attempt == STALE_RESENDS:
                    raise
                if stats is not None:
                    stats["requests"] += 1
                    stats["stale_retries"] += 1
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._inner.aclose()


class TimedAdapter(GraphRequestAdapter):
    """GraphRequestAdapter that splits each call into HTTP time and object-building time."""

    async def get_http_response_message(self, request_info: Any, parent_span: Any, claims: str = "") -> Any:
        started = time.perf_counter()
        try:
            response = await super().get_http_response_message(request_info, parent_span, claims)
            await response.aread()        # the body, so its transfer counts as HTTP time
            return response
        finally:
            stats = _stats.get(None)
            if stats is not None:
                stats["http_s"] += time.perf_counter() - started

    async def send_async(self, request_info: Any, parsable_factory: Any, error_map: Any) -> Any:
        stats = _stats.get(None)
        before_http = stats["http_s"] if stats is not None else 0.0
        started = time.perf_counter()
        try:
            return await super().send_async(request_info, parsable_factory, error_map)
        finally:
            if stats is not None:
                stats["build_s"] += (time.perf_counter() - started) - (stats["http_s"] - before_http)


def _config(builder: Any, **query: Any) -> RequestConfiguration:
    """RequestConfiguration with the builder's own typed GetQueryParameters class."""
    kind = type(builder)
    params = getattr(kind, f"{kind.__name__}GetQueryParameters")(**query)
    return RequestConfiguration(query_parameters=params)


async def _list(builder: Any, **query: Any) -> list[Any]:
    """Every item of a collection: first page with query parameters, then nextLink verbatim."""
    page = await builder.get(request_configuration=_config(builder, **query) if query else None)
    items = list(page.value or [])
    while page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get()
        items.extend(page.value or [])
    return items


def _status(error: ODataError) -> tuple[str, int | None]:
    code = error.error.code if error.error else ""
    status = error.response_status_code
    if code in NOT_LICENSED:
        return "not_licensed", status
    if status in (401, 403):
        return "forbidden", status
    if status == 404:
        return "not_found", status
    return "failed", status


class TenantRun:
    def __init__(self, client: GraphServiceClient) -> None:
        self.client = client
        self.resources: dict[str, dict[str, Any]] = {}

    async def record(self, name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            result = await call()
        except ODataError as error:
            status, http = _status(error)
            self.resources[name] = {"status": status, "http_status": http, "items": 0}
            return None
        items = len(result) if isinstance(result, list) else 1
        self.resources[name] = {"status": "ok", "http_status": 200, "items": items}
        return result

    async def customer(self, mssp_tenant_id: str, group_names: list[str]) -> None:
        c = self.client
        em = c.identity_governance.entitlement_management
        ar = c.identity_governance.access_reviews

        async def guests() -> list[Any]:
            try:
                users = await _list(c.users, filter="userType eq 'Guest'",
                                    select=[*GUEST_FIELDS, "signInActivity"], top=500)
                self.resources["guest_sign_ins"] = {"status": "ok", "http_status": 200, "items": len(users)}
                return users
            except ODataError as error:
                if error.response_status_code not in (401, 403):
                    raise
                status, http = _status(error)
                self.resources["guest_sign_ins"] = {"status": status, "http_status": http, "items": 0}
            return await _list(c.users, filter="userType eq 'Guest'", select=GUEST_FIELDS, top=999)

        await self.record("guests", guests)
        await self.record("connected_organizations", lambda: _list(em.connected_organizations))
        await self.record("catalogs", lambda: _list(em.catalogs))
        await self.record("access_packages", lambda: _list(em.access_packages, expand=["assignmentPolicies"]))
        await self.record("assignments", lambda: _list(em.assignments,
                                                       expand=["target", "accessPackage", "assignmentPolicy"]))
        await self.record("assignment_requests", lambda: _list(em.assignment_requests,
                                                               filter="state eq 'pendingApproval'",
                                                               expand=["requestor", "accessPackage"]))
        await self.record("em_settings", lambda: em.settings.get())
        definitions = await self.record("review_definitions", lambda: _list(ar.definitions, top=100))
        if definitions is not None:
            async def instances() -> list[tuple[str, Any]]:
                out: list[tuple[str, Any]] = []
                for d in definitions:
                    for i in await _list(ar.definitions.by_access_review_schedule_definition_id(d.id).instances,
                                         top=100):
                        out.append((d.id, i))
                return out

            found = await self.record("review_instances", instances)
            if found is not None:
                async def decisions() -> list[Any]:
                    out: list[Any] = []
                    for definition_id, i in found:
                        builder = (ar.definitions.by_access_review_schedule_definition_id(definition_id)
                                   .instances.by_access_review_instance_id(i.id).decisions)
                        out.extend(await _list(builder, top=100, select=DECISION_FIELDS))
                    return out

                await self.record("review_decisions", decisions)
        policies = c.policies
        await self.record("authorization_policy", lambda: policies.authorization_policy.get())
        await self.record("cross_tenant_default", lambda: policies.cross_tenant_access_policy.default.get())
        partner = policies.cross_tenant_access_policy.partners.by_cross_tenant_access_policy_configuration_partner_tenant_id(
            mssp_tenant_id)
        await self.record("cross_tenant_partner", lambda: partner.get())
        await self.record("identity_sync", lambda: partner.identity_synchronization.get())
        await self.record("subscribed_skus", lambda: _list(c.subscribed_skus, select=SKU_FIELDS))
        await self.record("role_assignments", lambda: _list(c.role_management.directory.role_assignments,
                                                            expand=["principal"]))
        quoted = " or ".join("displayName eq '{}'".format(n.replace("'", "''")) for n in group_names)
        groups = await self.record("groups", lambda: _list(c.groups, filter=quoted,
                                                           select=["id", "displayName", "securityEnabled"], top=999))
        if groups is not None:
            async def members() -> list[Any]:
                out: list[Any] = []
                for g in groups:
                    out.extend(await _list(c.groups.by_group_id(g.id).transitive_members, top=999,
                                           select=MEMBER_FIELDS))
                return out

            await self.record("group_members", members)

    async def partner(self) -> None:
        relationships_builder = self.client.tenant_relationships.delegated_admin_relationships
        relationships = await self.record("gdap_relationships", lambda: _list(relationships_builder, top=300))
        if relationships is not None:
            async def assignments() -> list[Any]:
                out: list[Any] = []
                for r in relationships:
                    out.extend(await _list(relationships_builder.by_delegated_admin_relationship_id(r.id)
                                           .access_assignments))
                return out

            await self.record("gdap_access_assignments", assignments)


async def collect(info: dict[str, Any], concurrency: int, group_names: list[str],
                  only: int | None = None) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=info["ca_file"])
    transport = CountingTransport(httpx.AsyncHTTPTransport(
        verify=context, limits=httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2,
                            keepalive_expiry=KEEPALIVE_EXPIRY_S)))
    http = httpx.AsyncClient(transport=transport, base_url=info["graph_base"], timeout=httpx.Timeout(60.0),
                             trust_env=False)
    http = GraphClientFactory.create_with_default_middleware(client=http, options=GRAPH_OPTIONS)
    gate = asyncio.Semaphore(concurrency)
    tenants: dict[str, Any] = {}

    async def one(tenant_id: str, is_partner: bool) -> None:
        async with gate:
            stats = {"requests": 0, "stale_retries": 0, "http_s": 0.0, "build_s": 0.0}
            _stats.set(stats)
            started = time.perf_counter()
            credential = ClientSecretCredential(tenant_id, info["client_id"], info["client_secret"],
                                                authority=info["authority_host"], disable_instance_discovery=True,
                                                connection_verify=info["ca_file"])
            try:
                auth = AzureIdentityAuthenticationProvider(credential, scopes=[SCOPE], allowed_hosts=["127.0.0.1"])
                adapter = TimedAdapter(auth, http)
                adapter.base_url = info["graph_base"]
                run = TenantRun(GraphServiceClient(request_adapter=adapter))
                error = ""
                try:
                    await (run.partner() if is_partner else run.customer(info["mssp_tenant_id"], group_names))
                except Exception as exc:  # noqa: BLE001 - a token failure etc.: recorded, not fatal
                    error = f"{type(exc).__name__}: {str(exc)[:200]}"
            finally:
                await credential.close()
            tenants[tenant_id] = {"resources": run.resources, "error": error,
                                  "wall_s": round(time.perf_counter() - started, 4), **stats}

    started = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*(one(c["tenant_id"], False) for c in info["customers"][:only]),
                         one(info["partner_tenant_id"], True))
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    await http.aclose()
    return {
        "import_s": round(IMPORT_S, 3),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "http_s_sum": round(sum(t["http_s"] for t in tenants.values()), 3),
        "build_s_sum": round(sum(t["build_s"] for t in tenants.values()), 3),
        "requests": sum(int(t["requests"]) for t in tenants.values()),
        "stale_retries": sum(int(t["stale_retries"]) for t in tenants.values()),
        "errors": {tid: t["error"] for tid, t in tenants.items() if t["error"]},
        "tenant_concurrency": concurrency,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "versions": _versions(),
        "tenants": tenants,
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import version
    return {name: version(name) for name in ("msgraph-sdk", "msgraph-core", "microsoft-kiota-http",
                                             "azure-identity", "httpx")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="msgraph-sdk baseline collector (run by bench/run.py)")
    p.add_argument("--emulator", type=Path, required=True, help="bench-emulator.json written by bench/emulator.py")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--tenant-concurrency", type=int, default=8)
    p.add_argument("--only", type=int, default=None, help="the first N customers (and the partner tenant)")
    p.add_argument("--groups", default="Tier 1 Analyst|Tier 2 Analyst|MSSP Analyst Approvers",
                   help="the MSSP group names, |-separated")
    args = p.parse_args(argv)
    info = json.loads(args.emulator.read_text(encoding="utf-8"))
    result = asyncio.run(collect(info, args.tenant_concurrency, args.groups.split("|"), args.only))
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    for tenant_id, error in result["errors"].items():
        print(f"sdk: tenant {tenant_id} failed: {error}", file=sys.stderr)
    print(f"sdk: {len(result['tenants'])} tenants, {result['requests']} requests, wall {result['wall_s']} s, "
          f"http sum {result['http_s_sum']} s, object building {result['build_s_sum']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
