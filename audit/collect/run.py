"""Collect every tenant of a run concurrently; one tenant's failure never stops the others."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx

from audit.collect.tenant import TenantCollector
from audit.config import Config
from audit.graph.auth import Credential, TokenProvider
from audit.graph.client import GraphClient
from audit.models import ResourceStatus, TenantManifest
from audit.resources import GraphResource, bind
from audit.snapshot.store import RunStore, StorageError

log = logging.getLogger("audit.collect")

PARTNER_NAME = "MSSP partner tenant"


@dataclass(frozen=True)
class Target:
    tenant_id: str
    name: str
    specs: tuple[GraphResource, ...]


def targets(config: Config) -> list[Target]:
    m = config.mssp
    specs = tuple(s for s in bind(m.analyst_tenant_id, (m.tier1_group, m.tier2_group, m.approvers_group))
                  if s.kind != "facet" and (s.opt_in is None or getattr(config.expectations, s.opt_in)))
    customer_specs = tuple(s for s in specs if not s.partner)
    out = [Target(c.tenant_id.lower(), c.name, customer_specs) for c in config.customers]
    if m.partner_tenant_id:
        out.append(Target(m.partner_tenant_id.lower(), PARTNER_NAME, tuple(s for s in specs if s.partner)))
    return out


def tls_context(config: Config) -> ssl.SSLContext:
    """Built once per run: loading the CA bundle is the expensive part of a client."""
    return ssl.create_default_context(cafile=str(config.cloud.ca_bundle) if config.cloud.ca_bundle else None)


def http_client(config: Config, context: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    """One tenant's connection pool, sized to the requests it may have in flight.

    One pool per tenant, not one for the run: httpcore scans every pooled connection and every
    queued request each time a request starts or ends, which cost a third of the collector's CPU
    with one shared pool (bench/run.py --profile-collect).
    """
    size = config.collect.requests_per_tenant
    return httpx.AsyncClient(verify=context or tls_context(config), trust_env=False,
                             limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                             timeout=httpx.Timeout(config.collect.timeout_seconds,
                                                   connect=config.collect.connect_timeout_seconds))


async def collect_all(config: Config, store: RunStore, credential: Credential, collected_at: datetime, *,
                      only: Sequence[Target] | None = None,
                      on_done: Callable[[TenantManifest], None] | None = None) -> dict[str, TenantManifest]:
    chosen = list(only) if only is not None else targets(config)
    gate = asyncio.Semaphore(config.collect.tenant_concurrency)
    results: dict[str, TenantManifest] = {}
    context = tls_context(config)
    audited = frozenset(c.tenant_id.lower() for c in config.customers)

    settings = config.collect

    async def one(target: Target) -> None:
        async with gate, http_client(config, context) as http:
            tokens = TokenProvider(tenant_id=target.tenant_id, client_id=config.app.client_id,
                                   credential=credential, authority_host=config.cloud.authority,
                                   scope=config.cloud.scope, ca_bundle=config.cloud.ca_bundle,
                                   timeout=(settings.connect_timeout_seconds, settings.timeout_seconds))
            try:
                client = GraphClient(base_url=config.cloud.base_url, tokens=tokens, http=http,
                                     concurrency=settings.requests_per_tenant, max_retries=settings.max_retries,
                                     request_deadline=settings.timeout_seconds, max_pages=settings.max_pages,
                                     retry_wait_budget=settings.max_retry_wait_seconds)
                collector = TenantCollector(store=store, tenant_id=target.tenant_id, customer=target.name,
                                            specs=target.specs, client=client, tokens=tokens,
                                            collected_at=collected_at, audited=audited,
                                            previous=store.read_tenant_manifest(target.tenant_id))
                try:
                    async with asyncio.timeout(settings.tenant_deadline_seconds):
                        manifest = await collector.run()
                except TimeoutError:
                    log.error("tenant %s: gave up after its deadline of %g s", target.tenant_id,
                              settings.tenant_deadline_seconds)
                    manifest = collector.give_up(f"the tenant's deadline of {settings.tenant_deadline_seconds:g} s "
                                                 "(collect.tenant_deadline_seconds) passed before this was read")
            except Exception as exc:  # a bug in one tenant must not cost the others their evidence
                if (full := _storage_error(exc)) is not None:
                    # The disk, not the tenant: every other tenant would fail the same way, and a
                    # "crashed" manifest would overwrite what this one committed. Stop the run with
                    # each manifest as last written, so --resume collects only what is missing.
                    raise full from None
                log.exception("tenant %s: collection crashed", target.tenant_id)
                while isinstance(exc, ExceptionGroup) and exc.exceptions:   # from the tenant's task group
                    exc = exc.exceptions[0]
                manifest = TenantManifest(target.tenant_id, target.name, collected_at, False,
                                          f"collection crashed: {type(exc).__name__}")
                store.write_tenant_manifest(manifest)
            finally:
                tokens.close()
        results[target.tenant_id] = manifest
        log_outcome(manifest, target.specs)
        if on_done:
            on_done(manifest)

    # A task group, not gather: when the disk fills, every tenant stops and writes down what it
    # committed before the run ends, and the first cause is the one reported.
    try:
        async with asyncio.TaskGroup() as group:
            for target in chosen:
                group.create_task(one(target))
    except BaseExceptionGroup as stopped:
        raise _storage_error(stopped) or stopped.exceptions[0] from None
    return results


def log_outcome(manifest: TenantManifest, specs: Sequence[GraphResource]) -> None:
    """One line per tenant, and one per resource that was not read, each naming the tenant.

    A missing permission, a failure, or a 404 where an object should exist are warnings: someone has
    to act. A 404 that is Graph's answer "none configured" (the spec's absent_ok: no partner
    policy, no identity sync) and a missing licence are facts about the tenant: info.
    """
    tenant = {"tenant": manifest.tenant_id, "customer": manifest.customer}
    if not manifest.token_ok:
        log.warning("tenant %s (%s): not reached: %s", manifest.tenant_id, manifest.customer,
                    manifest.token_reason, extra=tenant)
        return
    answers = {s.name for s in specs if s.absent_ok}
    unread = 0
    for name, record in sorted(manifest.resources.items()):
        if record.status in (ResourceStatus.OK, ResourceStatus.SKIPPED):
            continue
        expected = record.status is ResourceStatus.NOT_LICENSED or (
            record.status is ResourceStatus.NOT_FOUND and name in answers)
        unread += not expected
        log.log(logging.INFO if expected else logging.WARNING, "tenant %s (%s): %s %s: %s", manifest.tenant_id,
                manifest.customer, name, record.status.value, record.reason, extra={**tenant, "resource": name})
    if unread:
        log.warning("tenant %s (%s): collected, %d resource(s) not read", manifest.tenant_id, manifest.customer,
                    unread, extra=tenant)
    else:
        log.info("tenant %s (%s): collected", manifest.tenant_id, manifest.customer, extra=tenant)


def _storage_error(error: BaseException) -> StorageError | None:
    """The StorageError in `error`, also from inside the tenant's task group."""
    if isinstance(error, StorageError):
        return error
    if isinstance(error, BaseExceptionGroup):
        return next((found for inner in error.exceptions if (found := _storage_error(inner))), None)
    return None
