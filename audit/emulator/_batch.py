"""``POST /v1.0/$batch`` (graph-api.md §11 "JSON batching").

At most 20 requests; each runs through the same Graph handler with the outer token and is
throttled on its own (inner 429 + inner ``Retry-After``); inner nextLinks are absolute. The
outer answer is 200 whenever the payload parses. ``dependsOn`` runs the batch in order and
answers 424 for dependents of a failed request.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from audit.emulator._errors import GraphError, bad_request, graph_error_body
from audit.emulator._graph import GraphReply, GraphService, error_reply

MAX_BATCH = 20


@dataclass(frozen=True)
class BatchItem:
    id: str
    method: str
    path: str            # relative to the version root, leading '/'
    query: str
    headers: dict[str, str]
    depends_on: tuple[str, ...]


def parse_batch(raw: bytes) -> list[BatchItem]:
    try:
        payload = json.loads(raw)
    except ValueError:
        raise bad_request("Invalid batch payload format.") from None
    requests = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list) or not requests:
        raise bad_request("Invalid batch payload format.")
    if len(requests) > MAX_BATCH:
        raise bad_request(f"Number of requests exceeds the limit of {MAX_BATCH}.")
    items: list[BatchItem] = []
    for entry in requests:
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("id", "method", "url")):
            raise bad_request("Each batch request needs string id, method and url.")
        headers = entry.get("headers") or {}
        if not isinstance(headers, dict):
            raise bad_request("Batch request headers must be an object.")
        parts = urlsplit(entry["url"])
        depends = entry.get("dependsOn") or []
        items.append(BatchItem(
            id=entry["id"], method=entry["method"].upper(),
            path="" if parts.scheme else "/" + parts.path.lstrip("/"),
            query=parts.query, headers={str(k).lower(): str(v) for k, v in headers.items()},
            depends_on=tuple(str(d) for d in depends),
        ))
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise bad_request("Batch request ids must be unique.")
    return items


def _response(item: BatchItem, reply: GraphReply) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    for name in ("Retry-After", "x-ms-throttle-scope", "x-ms-throttle-information"):
        if name in reply.headers:
            headers[name] = reply.headers[name]
    return {"id": item.id, "status": reply.status, "headers": headers, "body": reply.body}


async def run_batch(
    service: GraphService, version: str, items: list[BatchItem], claims: dict[str, Any],
    log: Callable[[BatchItem, int], None],
) -> dict[str, Any]:
    async def run(item: BatchItem) -> GraphReply:
        if not item.path:
            reply = error_reply(bad_request("Batch request URLs must be relative."),
                                request_id=str(uuid.uuid4()), client_request_id=None)
        else:
            reply = await service.handle(item.method, version, item.path, item.query, item.headers, claims,
                                         in_batch=True)
        log(item, reply.status)
        return reply

    if any(item.depends_on for item in items):
        replies: dict[str, GraphReply] = {}
        for item in items:
            if any(replies.get(d) is None or replies[d].status >= 400 for d in item.depends_on):
                failed = GraphError(424, "FailedDependency", "A request this request depends on failed.")
                body = graph_error_body(failed.code, failed.message, request_id=str(uuid.uuid4()),
                                        client_request_id=None)
                replies[item.id] = GraphReply(424, body)
                log(item, 424)
            else:
                replies[item.id] = await run(item)
        ordered = [replies[item.id] for item in items]
    else:
        ordered = list(await asyncio.gather(*(run(item) for item in items)))
    return {"responses": [_response(item, reply) for item, reply in zip(items, ordered)]}
