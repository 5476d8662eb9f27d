"""Collect every tenant of a run concurrently; one tenant's failure never stops the others."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.queues
import os
import queue
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
from audit.render._lifeline import watch_main
from audit.snapshot.store import RunStore, StorageError
from audit.workers import LogLevels, portable, replay, worker_count

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


MIN_TENANTS_PER_PROCESS = 25   # below this, starting a process (imports, TLS context) costs more than it saves


def collector_processes(config: Config, tenants: int) -> int:
    """How many processes collect: the configured number, or one per core when each gets enough tenants."""
    if config.collect.processes:
        return min(config.collect.processes, max(tenants, 1))
    return max(1, min(worker_count(), tenants // MIN_TENANTS_PER_PROCESS))


def collect_night(config: Config, store: RunStore, credential: Credential, collected_at: datetime, *,
                  on_done: Callable[[TenantManifest], None] | None = None) -> dict[str, TenantManifest]:
    """Collect every tenant of the run, in one process per core when the estate is large enough.

    Each process collects a share of the tenants (every Nth, so large and small mix) with its own
    event loop; the tenants' evidence lands in the one run directory, as it would from one process.
    What the processes log and each tenant they finish come back here as they happen (the progress
    line, the night's log). A process that dies costs only its unfinished tenants, each recorded
    as such; a full disk stops the run with the first StorageError, as in one process.
    """
    chosen = targets(config)
    processes = collector_processes(config, len(chosen))
    if processes <= 1:
        return asyncio.run(collect_all(config, store, credential, collected_at, on_done=on_done))
    shares = [chosen[i::processes] for i in range(processes)]
    # The night's tenant concurrency is shared out, not multiplied: the hosts see what they saw before.
    per_process = -(-config.collect.tenant_concurrency // processes)
    settings = config.collect.model_copy(update={"tenant_concurrency": per_process})
    share_config = config.model_copy(update={"collect": settings})
    context = multiprocessing.get_context("forkserver")
    messages = context.Queue()
    children = [context.Process(target=_collect_share, name=f"mssp-audit-collect-{i + 1}", daemon=True,
                                args=(os.getpid(), share_config, store, credential, collected_at,
                                      [t.tenant_id for t in share], messages, LogLevels.current()))
                for i, share in enumerate(shares)]
    for child in children:
        child.start()
    results: dict[str, TenantManifest] = {}
    ended: set[str] = set()
    failure: BaseException | None = None

    def handle(message: tuple[str, str, object]) -> None:
        nonlocal failure
        kind, name, payload = message
        if kind == "log":
            replay([payload])                                   # type: ignore[list-item]
        elif kind == "done":
            manifest: TenantManifest = payload                  # type: ignore[assignment]
            results[manifest.tenant_id] = manifest
            if on_done:
                on_done(manifest)
        elif kind == "stop":
            failure = failure or payload                        # type: ignore[assignment]
        elif kind == "end":
            ended.add(name)

    while any(child.is_alive() for child in children):
        try:
            handle(messages.get(timeout=0.5))
        except queue.Empty:
            pass
    for child in children:
        child.join()
    while True:                           # what the last ones said before they ended
        try:
            handle(messages.get(timeout=0.1))
        except queue.Empty:
            break
    for child, share in zip(children, shares, strict=True):
        if child.name in ended:
            continue
        # Died without a word (killed, out of memory): its unfinished tenants say so, the night goes on.
        reason = f"collection process ended unexpectedly (exit code {child.exitcode})"
        for target in share:
            if target.tenant_id not in results:
                log.error("tenant %s: %s", target.tenant_id, reason, extra={"tenant": target.tenant_id})
                manifest = TenantManifest(target.tenant_id, target.name, collected_at, False, reason)
                store.write_tenant_manifest(manifest)
                results[target.tenant_id] = manifest
                if on_done:
                    on_done(manifest)
    if failure is not None:
        raise failure
    return results


def _collect_share(main_pid: int, config: Config, store: RunStore, credential: Credential, collected_at: datetime,
                   tenant_ids: list[str], messages: multiprocessing.queues.Queue[tuple[str, str, object]],
                   levels: LogLevels) -> None:
    """A collector process: its share of the tenants, everything it logs and finishes sent home."""
    watch_main(main_pid)
    name = multiprocessing.current_process().name
    root = logging.getLogger()
    root.handlers[:] = [_Home(messages, name)]
    levels.apply()
    wanted = set(tenant_ids)
    try:
        asyncio.run(collect_all(config, store, credential, collected_at,
                                only=[t for t in targets(config) if t.tenant_id in wanted],
                                on_done=lambda manifest: messages.put(("done", name, manifest))))
    except StorageError as full:
        messages.put(("stop", name, StorageError(full.path, full.reason)))
    except Exception as exc:                       # a defect outside any tenant: its tenants are not lost silently
        log.exception("collector process %s failed", name)
        messages.put(("stop", name, RuntimeError(f"collector process failed: {type(exc).__name__}: {exc}")))
    finally:
        messages.put(("end", name, None))
        messages.close()
        messages.join_thread()


class _Home(logging.Handler):
    """A collector process's only log handler: each record goes to the main process to be written."""

    def __init__(self, messages: multiprocessing.queues.Queue[tuple[str, str, object]], name: str) -> None:
        super().__init__(logging.NOTSET)
        self._messages, self._name = messages, name

    def emit(self, record: logging.LogRecord) -> None:
        self._messages.put(("log", self._name, portable(record)))


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
