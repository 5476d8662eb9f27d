"""Per-tenant fault injection: seeded transient errors, throttling windows, fixed HTTP errors.

Throttling follows graph-api.md §11: the Identity & access limits are per app+tenant over
10 s windows and answer 429 with ``Retry-After`` in seconds; throttled requests still count.
signInActivity reads have their own 10-per-minute budget. One app per estate, so the
app+tenant pair is simply the tenant.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable

from audit.emulator._errors import GraphError
from audit.emulator.estate import Faults

_CODES = {
    400: "BadRequest", 401: "InvalidAuthenticationToken", 403: "Authorization_RequestDenied",
    404: "Request_ResourceNotFound", 409: "Conflict", 429: "TooManyRequests", 500: "InternalServerError",
    502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout",
}


def matches_prefix(prefixes: Iterable[str], path: str) -> bool:
    """Whether ``path`` (relative to /v1.0, leading slash) falls under one of ``prefixes``."""
    lowered = path.lower()
    for prefix in prefixes:
        wanted = "/" + prefix.strip("/").lower()
        if lowered == wanted or lowered.startswith(wanted + "/"):
            return True
    return False


class FaultEngine:
    """The fault state of one server. Used from the server's event loop thread only."""

    def __init__(self, seed: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._seed = seed
        self._clock = clock
        self._rngs: dict[str, random.Random] = {}
        # (tenant, bucket) -> (the Faults object it counts for, window start, requests so far)
        self._windows: dict[tuple[str, str], tuple[Faults, float, int]] = {}

    def _rng(self, tenant_id: str) -> random.Random:
        # One stream per tenant: a tenant's faults do not depend on traffic to other tenants.
        rng = self._rngs.get(tenant_id)
        if rng is None:
            rng = self._rngs[tenant_id] = random.Random(f"{self._seed}:{tenant_id}")
        return rng

    def drop_connection(self, tenant_id: str, faults: Faults) -> bool:
        return faults.reset_rate > 0 and self._rng(tenant_id).random() < faults.reset_rate

    def _spend(self, key: tuple[str, str], faults: Faults, budget: int, window_s: float) -> int | None:
        """Count one request; the Retry-After seconds when over ``budget``, else None.

        Replacing a tenant's ``Faults`` starts its windows afresh, so one test's traffic does
        not spill into the next test's budget.
        """
        now = self._clock()
        owner, start, count = self._windows.get(key, (faults, now, 0))
        if owner is not faults or now - start >= window_s:
            start, count = now, 0
        count += 1
        self._windows[key] = (faults, start, count)
        if count <= budget:
            return None
        return max(1, math.ceil(start + window_s - now))

    def before_graph(
        self, tenant_id: str, client_id: str, faults: Faults, path: str, raw_query: str,
    ) -> GraphError | None:
        """The injected failure for one Graph request (outer or inside $batch), if any."""
        if faults.transient_503 > 0 and self._rng(tenant_id).random() < faults.transient_503:
            return GraphError(503, "ServiceUnavailable", "The service is temporarily unavailable. Retry later.",
                              headers={"Retry-After": "1"})
        scope = f"Tenant_Application/Read/{client_id}/{tenant_id}"
        if faults.throttle_budget is not None:
            wait = self._spend((tenant_id, "graph"), faults, faults.throttle_budget, faults.throttle_window_s)
            if wait is not None:
                return _throttled(wait, scope)
        if faults.signin_budget_per_min is not None and "signinactivity" in raw_query.lower():
            wait = self._spend((tenant_id, "signin"), faults, faults.signin_budget_per_min, 60.0)
            if wait is not None:
                return _throttled(wait, f"Tenant_Application/Reports/{client_id}/{tenant_id}")
        for prefix, status in faults.http_errors.items():
            if matches_prefix([prefix], path):
                headers = {"Retry-After": "1"} if status in (429, 503) else {}
                return GraphError(status, _CODES.get(status, "UnknownError"),
                                  f"Injected failure for {prefix}.", headers=headers)
        return None


def _throttled(wait: int, scope: str) -> GraphError:
    return GraphError(
        429, "TooManyRequests", "Too many requests.",
        headers={"Retry-After": str(wait), "x-ms-throttle-scope": scope,
                 "x-ms-throttle-information": "ResourceUnitLimitExceeded"},
    )
