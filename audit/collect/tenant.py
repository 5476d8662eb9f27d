"""Collect one tenant: every resource ends with a status in the manifest, never an exception.

A resource is `ok` only when its whole page chain was read and written; anything less is
`failed` with the reason, and its partial raw file is deleted (DESIGN.md, "The snapshot").
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from audit.graph.auth import TokenError, TokenProvider
from audit.graph.client import GraphClient, GraphError, Tally, item_error
from audit.models import ResourceRecord, ResourceStatus, TenantManifest
from audit.resources import GraphResource, resource
from audit.snapshot.store import RawWriter, RunStore, iter_raw

# Graph error codes that mean "the tenant lacks the licence", not "the app lacks a permission".
NOT_LICENSED_CODES = frozenset({
    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",  # signInActivity without P1/P2
    "AadPremiumLicenseRequired",
})
# Resources whose outcome is final: a resumed run does not ask for them again.
FINAL = frozenset({ResourceStatus.OK, ResourceStatus.FORBIDDEN, ResourceStatus.NOT_LICENSED,
                   ResourceStatus.NOT_FOUND, ResourceStatus.SKIPPED})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def classify(error: GraphError, spec: GraphResource) -> tuple[ResourceStatus, str]:
    """Turn a Graph error into the manifest's vocabulary, with a reason a person can act on.

    Only `failed` is retried by `--resume`: authentication failures, deadlines, paging loops and
    exhausted retries are `failed`, a missing permission or licence is final for the run.
    """
    said = f"Graph said {error.status} {error.code}".rstrip() if error.status else f"network: {error.code}"
    if error.code in NOT_LICENSED_CODES:
        return ResourceStatus.NOT_LICENSED, f"the tenant has no licence for this ({said})"
    if error.status == 401 or error.kind == "authentication":
        return ResourceStatus.FAILED, (f"authentication failed: Graph refused a freshly acquired token ({said}); "
                                       "check the app's credential and the tenant's consent")[:300]
    if error.status == 403:
        return ResourceStatus.FORBIDDEN, f"missing permission {spec.permission} ({said})"
    if error.status == 404:
        return ResourceStatus.NOT_FOUND, f"not found ({said})"
    if error.kind:
        return ResourceStatus.FAILED, f"{error.kind}: {error.message}"[:300]
    return ResourceStatus.FAILED, f"{said}: {error.message}".strip()[:300]


class TenantCollector:
    def __init__(self, *, store: RunStore, tenant_id: str, customer: str, specs: tuple[GraphResource, ...],
                 client: GraphClient, tokens: TokenProvider, collected_at: datetime,
                 previous: TenantManifest | None = None, audited: frozenset[str] = frozenset()) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.customer = customer
        self.specs = {s.name: s for s in specs}
        self.client = client
        self.tokens = tokens
        self.audited = audited            # the audited customers' tenant ids (lower case), for GDAP
        self.collected_at = previous.collected_at if previous else collected_at
        self.records: dict[str, ResourceRecord] = {
            name: r for name, r in (previous.resources.items() if previous else ())
            if r.status in FINAL and (not r.file or (store.tenant_dir(tenant_id) / r.file).exists())
        }
        self._previous = previous
        self._roles: tuple[str, ...] = previous.granted_roles if previous else ()
        self._lock = asyncio.Lock()
        # One probe per optional part (signInActivity): the users queries that carry it ask one at a
        # time, and once Graph refused it in this tenant the others go straight to their reduced form.
        self._probes: dict[str, asyncio.Lock] = {}
        self._probe_refusals: dict[str, tuple[GraphError, str]] = {}
        self._have_token = bool(self.records)   # evidence already read was read with a token
        # Manifest writes happen in threads; a slow older write must never land after a newer one.
        self._write_lock = threading.Lock()
        self._seq = self._written = 0

    def manifest(self, token_ok: bool = True, token_reason: str = "") -> TenantManifest:
        return TenantManifest(self.tenant_id, self.customer, self.collected_at, token_ok, token_reason,
                              self._roles, dict(self.records))

    def _snapshot(self, **state: Any) -> tuple[int, TenantManifest]:
        self._seq += 1
        return self._seq, self.manifest(**state)

    def _write(self, seq: int, manifest: TenantManifest) -> None:
        with self._write_lock:
            if seq > self._written:
                self.store.write_tenant_manifest(manifest)
                self._written = seq

    def _pending(self) -> list[GraphResource]:
        return [s for s in self.specs.values() if s.name not in self.records]

    def _fail_pending(self, reason: str) -> TenantManifest:
        """Every resource not yet read ends `failed` with `reason`; what was read stays. A tenant never
        reached is one reason for the whole tenant, not the same reason under each resource."""
        if not self._have_token:
            state = {"token_ok": False, "token_reason": reason}
            self._write(*self._snapshot(**state))
            return self.manifest(**state)
        earlier = self._previous.resources if self._previous else {}
        for spec in self._pending():
            before = earlier.get(spec.name)      # an earlier attempt's partial pages stay recorded
            self.records[spec.name] = (dataclasses.replace(before, status=ResourceStatus.FAILED, reason=reason)
                                       if before is not None else
                                       ResourceRecord(spec.name, spec.path, ResourceStatus.FAILED, reason=reason))
        self._write(*self._snapshot())
        return self.manifest()

    def give_up(self, reason: str) -> TenantManifest:
        """The tenant's deadline passed: keep what was read, fail the rest with `reason`."""
        return self._fail_pending(reason)

    async def run(self) -> TenantManifest:
        if self._previous is not None and not self._pending():
            # Resuming a tenant whose every resource is final: no token is needed, and the
            # evidence and its manifest stay exactly as collected.
            return self._previous
        try:
            await self.tokens.token()
        except TokenError as exc:
            return self._fail_pending(str(exc) if not self._have_token else f"no token on resume: {exc}")
        self._have_token = True
        self._roles = self.tokens.roles
        self._write(*self._snapshot())
        todo = self._pending()
        # A fan-out starts the moment its own parent's raw file is committed, not after every other
        # top-level read: the tenant's chain of dependent requests is as short as Graph allows.
        finished = {name: asyncio.Event() for name in self.specs}
        for name in self.records:
            if name in finished:
                finished[name].set()

        async def collect_after_parent(spec: GraphResource) -> None:
            try:
                if spec.parent:
                    await finished[spec.parent].wait()
                await self._collect(spec)
            finally:
                finished[spec.name].set()

        # A task group, not gather: should one resource crash, its siblings are cancelled before the
        # tenant's HTTP client is closed under them, and none records into the crash manifest.
        try:
            async with asyncio.TaskGroup() as group:
                for spec in todo:
                    group.create_task(collect_after_parent(spec))
        except BaseException:
            # Stopped by a sibling or by the run (a full disk stops every tenant): what was committed
            # until then is written down, so a resumed run asks Graph only for the rest.
            self._write(*self._snapshot())
            raise
        return self.manifest()

    async def _collect(self, spec: GraphResource) -> None:
        started = _now()
        tally = Tally()
        path = self.store.raw_path(self.tenant_id, spec.name)
        writer = RawWriter(path)
        items = 0
        refused = _Refused()           # set when Graph refused the full request and a reduced one was sent
        try:
            if spec.kind == "fanout":
                items, bound = await self._fanout(spec, writer, tally)
            elif spec.kind == "single":
                body = await self.client.get(resource_url(self.client, spec), tally)
                writer.write({"request": spec.path, "parent": None, "page": body})
                tally.pages, items, bound = 1, 1, 1
            elif spec.reduced is not None:
                items, page_size = await self._reducible(spec, writer, tally, refused)
                bound = _chain_bound(items, page_size)
            else:
                first = await self.client.get(resource_url(self.client, spec), tally) if spec.api == "beta" else None
                items = await self._pages(spec.path, None, writer, tally, first=first)
                bound = _chain_bound(items, spec.page_size)
            sha = await asyncio.to_thread(writer.commit)    # fsync off the event loop
            record = ResourceRecord(spec.name, refused.instead or spec.path, ResourceStatus.OK, pages=tally.pages,
                                    items=items, requests=tally.requests, retries=tally.retries, lower_bound=bound,
                                    file=f"raw/{spec.name}.jsonl", sha256=sha, **refused.fields())
        except _Skipped as skipped:
            writer.abort()
            record = ResourceRecord(spec.name, spec.path, ResourceStatus.SKIPPED, reason=str(skipped))
        except GraphError as error:
            status, reason = classify(error, spec)
            kept = await self._keep_partial(spec, writer)
            record = ResourceRecord(spec.name, refused.instead or spec.path, status, reason=reason,
                                    http_status=error.status, error_code=error.code, pages=tally.pages,
                                    items=writer.items, requests=tally.requests, retries=tally.retries, **kept,
                                    **refused.fields())
        except BaseException:
            writer.abort()
            raise
        await self._record(dataclasses.replace(record, started_at=started, finished_at=_now()))

    async def _keep_partial(self, spec: GraphResource, writer: RawWriter) -> dict[str, str]:
        """The pages read before a chain failed are evidence of what happened (a paging loop, a
        refused token): kept as raw/<name>.partial.jsonl and hashed, never read as the resource."""
        if not writer.lines:
            writer.abort()
            return {}
        path = self.store.raw_path(self.tenant_id, f"{spec.name}.partial")
        sha = await asyncio.to_thread(writer.commit, path)
        return {"file": f"raw/{path.name}", "sha256": sha}

    async def _record(self, record: ResourceRecord) -> None:
        replaced = self.records.get(record.name) or (self._previous.resources.get(record.name)
                                                     if self._previous else None)
        self.records[record.name] = record      # before any await: counts even if cancelled while queued
        async with self._lock:
            await asyncio.to_thread(self._write, *self._snapshot())
        if replaced is not None and replaced.file.endswith(".partial.jsonl") and replaced.file != record.file:
            # A resumed run re-read what an earlier attempt left partial; the manifest no longer names it.
            (self.store.tenant_dir(self.tenant_id) / replaced.file).unlink(missing_ok=True)

    async def _pages(self, path: str, parent: str | None, writer: RawWriter, tally: Tally,
                     first: Any = None) -> int:
        items = 0
        async for page in self.client.pages(path, tally, first=first):
            writer.write({"request": path, "parent": parent, "page": page})
            items += len(page["value"])
        return items

    async def _reducible(self, spec: GraphResource, writer: RawWriter, tally: Tally,
                         refused: _Refused) -> tuple[int, int]:
        """The full request, or its reduced form when Graph refuses the optional part (the guests
        without signInActivity); `refused` says which. One query serves both needs when allowed; the
        facet's own record says which case it was. Returns (items, the page size of the chain read).

        The resources that carry the same optional part ask for it one at a time: once Graph refused
        it in this tenant, the next one sends its reduced form at once (its facet record says so), so
        a tenant without Entra ID P1/P2 pays for one refusal, not one per users query."""
        assert spec.reduced is not None
        facet = resource(spec.reduced.without)
        part = spec.reduced.leaves_out
        async with self._probes.setdefault(part, asyncio.Lock()):
            known = self._probe_refusals.get(part)
            if known is None:
                try:
                    items = await self._pages(spec.path, None, writer, tally)
                except GraphError as error:
                    # 403 only: a 401 was already retried with a fresh token and is an authentication failure.
                    if error.status != 403 or writer.lines:
                        raise
                    status, reason = classify(error, facet)
                    self._probe_refusals[part] = (error, spec.path)
                    refused.endpoint, refused.reason, refused.instead = spec.path, reason, spec.reduced.path
                    await self._record(ResourceRecord(facet.name, spec.path, status, reason=reason,
                                                      http_status=error.status, error_code=error.code, requests=1))
                else:
                    await self._record(ResourceRecord(facet.name, spec.path, ResourceStatus.OK, items=items,
                                                      file=f"raw/{spec.name}.jsonl",
                                                      reason=f"collected with {spec.name}"))
                    return items, spec.page_size
            else:
                error, first = known
                status, reason = classify(error, facet)
                refused.instead = spec.reduced.path
                await self._record(ResourceRecord(
                    facet.name, spec.path, status, http_status=error.status, error_code=error.code, requests=0,
                    reason=f"{reason}; not asked again: Graph refused {part} on {first} in this run"))
        items = await self._pages(spec.reduced.path, None, writer, tally)
        return items, spec.reduced.page_size

    async def _fanout(self, spec: GraphResource, writer: RawWriter, tally: Tally) -> tuple[int, int]:
        assert spec.parent
        parent = self.records.get(spec.parent)
        if parent is None or parent.status is not ResourceStatus.OK:
            raise _Skipped(f"its parent {spec.parent} was not collected")
        # One request per parent id: a group holding two watched roles is read once.
        unique = {str(item[spec.key]): (item, grand) for item, grand in self._parent_items(spec.parent)
                  if spec.fans_out_over(item, self.audited)}
        children = {str(i): (spec.child_path(item, grand), parent_id)
                    for i, (parent_id, (item, grand)) in enumerate(unique.items())}
        replies = await self.client.batch({i: path for i, (path, _) in children.items()}, tally)
        items = bound = 0
        for index in sorted(children, key=int):
            path, parent_id = children[index]
            reply = replies[index]
            if not 200 <= reply.status < 300:
                raise item_error(reply)
            count = await self._pages(path, str(parent_id), writer, tally, first=reply.body)
            items += count
            bound += _chain_bound(count, spec.page_size)
        return items, bound

    def _parent_items(self, parent: str) -> Iterator[tuple[Mapping[str, Any], str | None]]:
        for record in iter_raw(self.store.raw_path(self.tenant_id, parent)):
            for item in record["page"].get("value", []):
                yield item, record.get("parent")


@dataclasses.dataclass
class _Refused:
    """The richer request Graph refused before a reduced one produced the evidence."""

    endpoint: str = ""
    reason: str = ""
    instead: str = ""              # the reduced request sent in its place

    def fields(self) -> dict[str, str]:
        return {"refused_endpoint": self.endpoint, "refused_reason": self.reason} if self.endpoint else {}


def _chain_bound(items: int, page_size: int) -> int:
    """A page chain of n items costs at least ceil(n / max page) requests, and never less than one."""
    return max(1, math.ceil(items / page_size))


def resource_url(client: GraphClient, spec: GraphResource) -> str:
    """The first request's URL; beta resources (graph-api.md §10) swap the base's trailing /v1.0."""
    if spec.api == "beta":
        return f"{client.base_url.removesuffix('/v1.0')}/beta/{spec.path.lstrip('/')}"
    return client.url(spec.path)


class _Skipped(Exception):
    pass
