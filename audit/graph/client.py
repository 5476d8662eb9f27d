"""A read-only Microsoft Graph client: paging, `$batch`, throttling, retries.

Only GET leaves this client, plus `POST /$batch` whose every item is a GET (DESIGN.md,
"Non-negotiables"). There is no other way to send a request through it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from audit.graph.auth import TokenError, TokenProvider

BATCH_LIMIT = 20                     # graph-api.md §11 "JSON batching": max 20 requests per batch
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0              # a Retry-After beyond this is a broken server, not a budget
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
# Named defaults of the deadlines ([collect] in the configuration overrides each).
DEFAULT_REQUEST_DEADLINE = 60.0      # one request, from sending to the whole body
DEFAULT_MAX_PAGES = 10_000           # one page chain: 5 million guests at 500 a page
DEFAULT_RETRY_WAIT_BUDGET = 900.0    # seconds of Retry-After and back-off sleeping per tenant
# graph-api.md §11: reads that select signInActivity are in the reports bucket, 10 per minute per
# app and tenant. Pacing them ourselves costs less than earning 429s and their Retry-After.
SIGNIN_BUDGET = (10, 60.0)


class GraphError(Exception):
    """A Graph request that ended badly, after retries where retrying made sense."""

    def __init__(self, status: int | None, code: str, message: str, *, retry_after: float | None = None,
                 transient: bool | None = None, kind: str = ""):
        super().__init__(f"{status or 'network'} {code}: {message}".strip())
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self._transient = transient
        # What went wrong, for the manifest's reason: "authentication", "paging loop", "deadline",
        # "retry budget"; empty for an ordinary HTTP or network error.
        self.kind = kind

    @property
    def retryable(self) -> bool:
        if self._transient is not None:
            return self._transient
        return self.status is None or self.status in RETRY_STATUSES


@dataclass
class Tally:
    """Requests spent on one resource: retries and each $batch item count."""

    requests: int = 0
    pages: int = 0
    throttled: int = 0
    retries: int = 0                 # requests repeated after a throttle or a fault (inside `requests`)


@dataclass(frozen=True)
class BatchItem:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


def _backoff(attempt: int) -> float:
    """Exponential back-off with full jitter, for errors that came without a Retry-After."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt))


def _error_from(status: int, body: Any, headers: Mapping[str, str]) -> GraphError:
    code, message = "", ""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        code = str(body["error"].get("code", ""))
        message = str(body["error"].get("message", ""))
    return GraphError(status, code or f"HTTP{status}", message[:300], retry_after=_retry_after(headers))


def _decode(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise GraphError(response.status_code, "MalformedBody",
                         f"response body is not valid JSON ({len(response.content)} bytes)") from None


class GraphClient:
    """Graph for one tenant, over that tenant's own connection pool `http` (audit.collect.run.http_client)."""

    def __init__(self, *, base_url: str, tokens: TokenProvider, http: httpx.AsyncClient,
                 concurrency: int = 4, max_retries: int = 6, request_deadline: float = DEFAULT_REQUEST_DEADLINE,
                 max_pages: int = DEFAULT_MAX_PAGES, retry_wait_budget: float = DEFAULT_RETRY_WAIT_BUDGET) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = urlsplit(self.base_url)[:2]
        self._tokens = tokens
        self._http = http
        self._slots = asyncio.Semaphore(concurrency)
        self._attempts = max_retries + 1
        self._deadline = request_deadline
        self._max_pages = max_pages
        self._wait_budget = retry_wait_budget
        self.waited = 0.0                # seconds slept before retries, this tenant, so far
        self._signin_sent: deque[float] = deque()
        self._signin_lock = asyncio.Lock()

    async def _pace_signin_reads(self) -> None:
        budget, window = SIGNIN_BUDGET
        async with self._signin_lock:
            while len(self._signin_sent) >= budget:
                wait = self._signin_sent[0] + window - time.monotonic()
                if wait <= 0:
                    self._signin_sent.popleft()
                else:
                    await asyncio.sleep(wait)
            self._signin_sent.append(time.monotonic())

    def url(self, relative: str) -> str:
        return f"{self.base_url}/{relative.lstrip('/')}"

    def _check_same_origin(self, url: str) -> None:
        # A nextLink is followed verbatim, with our bearer token: never to another host.
        if urlsplit(url)[:2] != self._origin:
            raise GraphError(None, "ForeignLink", f"refusing to follow a link outside {self.base_url}",
                             transient=False)

    async def _send(self, method: str, url: str, tally: Tally, payload: Any = None) -> httpx.Response:
        """One request; a 401 gets one fresh token and one more try (graph-api.md §11: a cached
        token may be revoked before its expiry). A second 401 is an authentication failure."""
        if method != "GET" and not (method == "POST" and url == self.url("$batch")):
            raise ValueError(f"read-only client: {method} {url} is not allowed")
        self._check_same_origin(url)
        if "signInActivity" in url:
            await self._pace_signin_reads()
        token = await self._token()
        response = await self._send_once(method, url, token, tally, payload)
        if response.status_code != 401:
            return response
        response = await self._send_once(method, url, await self._token(stale=token), tally, payload)
        if response.status_code == 401:
            error = _error_from(401, _safe_json(response), response.headers)
            raise GraphError(401, error.code, "Graph refused a freshly acquired token too: " + error.message,
                             transient=False, kind="authentication")
        return response

    async def _token(self, stale: str | None = None) -> str:
        """A token for the next request. The authority failing mid-collection (a cached token expired,
        a refresh after a 401) is this request's transient failure, retried like one, never a crash."""
        try:
            return await self._tokens.token(stale=stale)
        except TokenError as exc:
            raise GraphError(None, "TokenError", str(exc), transient=True, kind="no token") from None

    async def _send_once(self, method: str, url: str, token: str, tally: Tally, payload: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "ConsistencyLevel": "eventual"}
        tally.requests += 1
        async with self._slots:
            try:
                # httpx's timeout bounds each read; this bounds the whole answer (a trickling host).
                async with asyncio.timeout(self._deadline):
                    if method == "GET":
                        return await self._http.get(url, headers=headers)
                    return await self._http.post(url, headers=headers, json=payload)
            except TimeoutError:
                raise GraphError(None, "Timeout", f"no complete answer within {self._deadline:g} s",
                                 kind="deadline") from None
            except httpx.TransportError as exc:  # resets, timeouts, refused connections
                raise GraphError(None, type(exc).__name__, str(exc)[:200] or "transport error") from None

    async def sleep(self, seconds: float, cause: GraphError) -> None:
        """Sleep before a retry, within the tenant's budget of waiting; past it, give up with `cause`."""
        if self.waited + seconds > self._wait_budget:
            raise GraphError(cause.status, cause.code,
                             f"gave up after {self.waited:.0f} s of waiting: another {seconds:.0f} s would pass "
                             f"this tenant's limit of {self._wait_budget:g} s (collect.max_retry_wait_seconds); "
                             f"last answer: {cause.message}".strip(), transient=True, kind="retry budget")
        self.waited += seconds
        await asyncio.sleep(seconds)

    async def _with_retries(self, call: Any, tally: Tally) -> Any:
        """`call` until it succeeds, a non-retryable error, the last attempt, or the waiting budget."""
        for attempt in range(1, self._attempts + 1):
            if attempt > 1:
                tally.retries += 1
            try:
                return await call()
            except GraphError as exc:
                if exc.status == 429:
                    tally.throttled += 1
                if not exc.retryable or attempt == self._attempts:
                    raise
                await self.sleep(exc.retry_after if exc.retry_after is not None else _backoff(attempt), exc)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get(self, url: str, tally: Tally) -> Any:
        """One GET with retries; returns the decoded body of a 2xx, else raises GraphError."""
        async def call() -> Any:
            response = await self._send("GET", url, tally)
            if response.status_code >= 400:
                raise _error_from(response.status_code, _safe_json(response), response.headers)
            return _decode(response)
        return await self._with_retries(call, tally)

    async def pages(self, relative: str, tally: Tally, *, first: Any = None) -> AsyncIterator[dict[str, Any]]:
        """Every page of a collection, following @odata.nextLink verbatim until it is absent.

        `first` is a page already fetched (e.g. inside a $batch); its chain is continued.
        """
        body = first if first is not None else await self.get(self.url(relative), tally)
        followed: set[str] = set()
        while True:
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise GraphError(200, "MalformedBody", "page has no 'value' list")
            tally.pages += 1
            yield body
            next_link = body.get("@odata.nextLink")
            if not next_link:
                return
            if not isinstance(next_link, str):
                raise GraphError(200, "MalformedBody", "@odata.nextLink is not a string")
            # A chain that comes back to a link it already followed, or never ends, would append
            # pages to disk for ever (graph-api.md §11: follow nextLink until it is absent).
            if next_link in followed:
                raise GraphError(200, "PagingLoop", f"page {len(followed) + 1} links to a page already read",
                                 transient=False, kind="paging loop")
            if len(followed) + 1 >= self._max_pages:
                raise GraphError(200, "PagingLoop", f"the chain goes past {self._max_pages} pages "
                                 "(collect.max_pages)", transient=False, kind="paging loop")
            followed.add(next_link)
            body = await self.get(next_link, tally)

    async def batch(self, relatives: Mapping[str, str], tally: Tally) -> dict[str, BatchItem]:
        """GETs through `$batch`, ≤ 20 per call; throttled or failing items are retried alone."""
        results: dict[str, BatchItem] = {}
        pending = dict(relatives)
        for round_ in range(self._attempts):
            if not pending:
                break
            waits: list[float] = []
            ids = list(pending)
            for start in range(0, len(ids), BATCH_LIMIT):
                chunk = {i: pending[i] for i in ids[start:start + BATCH_LIMIT]}
                if round_:
                    tally.retries += len(chunk)
                for item_id, item in (await self._batch_once(chunk, tally)).items():
                    results[item_id] = item
                    if item.status in RETRY_STATUSES and round_ + 1 < self._attempts:
                        if item.status == 429:
                            tally.throttled += 1
                        waits.append(_retry_after(item.headers) or
                                     random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (round_ + 1))))
                    else:
                        pending.pop(item_id, None)
            if pending:
                cause = item_error(results[next(iter(pending))])
                await self.sleep(max(waits, default=0.0), cause)
        return results

    async def _batch_once(self, chunk: Mapping[str, str], tally: Tally) -> dict[str, BatchItem]:
        payload = {"requests": [{"id": i, "method": "GET", "url": "/" + u.lstrip("/")} for i, u in chunk.items()]}

        attempts = 0

        async def call() -> Any:
            # The outer request counts once; each item is a Graph request of its own too.
            nonlocal attempts
            attempts += 1
            response = await self._send("POST", self.url("$batch"), tally, payload)
            tally.requests += len(chunk) - 1
            if attempts > 1:
                tally.retries += len(chunk) - 1
            if response.status_code >= 400:
                raise _error_from(response.status_code, _safe_json(response), response.headers)
            return _decode(response)

        body = await self._with_retries(call, tally)
        responses = body.get("responses") if isinstance(body, dict) else None
        if not isinstance(responses, list):
            raise GraphError(200, "MalformedBody", "$batch reply has no 'responses' list")
        out: dict[str, BatchItem] = {}
        for item in responses:
            if isinstance(item, dict) and str(item.get("id")) in chunk:
                out[str(item["id"])] = BatchItem(int(item.get("status", 0)), item.get("body"),
                                                 {str(k): str(v) for k, v in (item.get("headers") or {}).items()})
        for missing in set(chunk) - set(out):
            out[missing] = BatchItem(0, {"error": {"code": "MissingBatchItem", "message": "no reply for item"}})
        return out


def _safe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def item_error(item: BatchItem) -> GraphError:
    """The GraphError a failed $batch item stands for."""
    return _error_from(item.status, item.body, item.headers)
