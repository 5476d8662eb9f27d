"""Requests against the lower bound, and "the limit": the collection time no client could beat.

Both are read back from a collected run (manifests and raw files), so they describe exactly
the items the emulator served.

The limit of one tenant t, under an emulated latency `lat` per Graph request and a budget of
`B` requests per `W` seconds (plus signInActivity reads at 10 per 60 s):

    limit_t = max( D_t × lat,
                   (ceil(R_t / B) − 1) × W + lat,
                   (ceil(S_t / 10) − 1) × 60 + lat )

    D_t  the longest chain of dependent requests in t. A page of a collection depends on the
         page before it (its nextLink); a fan-out child's first page depends on the page of its
         parent that holds the parent item. An item at 0-based position i of a chain sits on page
         i // page_size + 1 when every page is as large as Graph allows (resources.py). So
         review_decisions for instance j: page(definition) + page(instance j) + pages(decisions).
         A resource that ended in an error still cost one request at depth 1 (or parent + 1).
    R_t  the fewest Graph requests t needs: the sum of ceil(items / max page) per chain (the
         manifest's lower_bound) plus one for each resource that ended in an error.
    S_t  the fewest signInActivity reads: the guests chain when it was read with signInActivity.

and the limit of the estate is the largest limit_t. Assumptions, on purpose generous to "any
client": unbounded requests in flight per tenant and across tenants (no cap but the budgets);
the token request costs no emulated latency (the emulator adds latency to Graph requests only);
no CPU time — neither the client's nor the emulator's. A perfect client never earns a 429, so a
budget only forces waiting when R_t exceeds it: the fixed window opens at the first request and
the last of R_t requests cannot go before (ceil(R_t / B) − 1) windows have passed. The three
terms are combined with max, not added: a client can walk its chain while it waits for a window,
so their sum would not be a bound any client must respect.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import median

from audit.collect.lower_bound import tenant_requests
from audit.models import ResourceStatus, TenantManifest
from audit.resources import GraphResource
from audit.snapshot.store import RunStore, iter_raw

SIGNIN_BUDGET = (10, 60.0)


@dataclass(frozen=True)
class TenantShape:
    tenant_id: str
    name: str
    used: int                 # requests spent, retries left out (tenant_requests retries=False)
    used_with_retries: int
    bound: int                # lower bound over completed resources
    min_requests: int         # R_t: bound + one per resource that ended in an error
    depth: int                # D_t
    deepest: str              # the resource whose chain is D_t
    signin_reads: int         # S_t

    @property
    def ratio(self) -> float | None:
        return self.used / self.bound if self.bound else None


def _order(specs: Mapping[str, GraphResource]) -> list[GraphResource]:
    def depth(spec: GraphResource) -> int:
        return 0 if spec.parent is None else 1 + depth(specs[spec.parent])
    return sorted(specs.values(), key=depth)


def tenant_shape(store: RunStore, manifest: TenantManifest, specs: Mapping[str, GraphResource]) -> TenantShape:
    item_depth: dict[str, dict[str, int]] = {}
    parents_of = {spec.parent for spec in specs.values() if spec.parent}
    deepest, depth_max, errors = "", 0, 0
    for spec in _order(specs):
        record = manifest.resources.get(spec.name)
        if record is None or record.status is ResourceStatus.SKIPPED:
            continue
        parents = item_depth.get(spec.parent or "", {})
        if record.status is not ResourceStatus.OK:
            errors += 1 if record.requests else 0
            end = 1 + (max(parents.values(), default=0) if spec.parent else 0)
        elif spec.kind == "single":
            end = 1
        elif spec.kind == "list" and spec.name not in parents_of:
            end = record.lower_bound     # one chain, ceil(items / page size): no need to read its pages
        else:
            depths: dict[str, int] = {}
            chains: dict[str | None, list[str]] = defaultdict(list)
            for line in iter_raw(store.raw_path(manifest.tenant_id, spec.name)):
                chains[line.get("parent")].extend(str(item.get("id", "")) for item in line["page"].get("value", []))
            end = 0
            for parent, ids in chains.items():
                start = parents.get(str(parent), 0) if spec.parent else 0
                for index, item_id in enumerate(ids):
                    depths[item_id] = start + index // spec.page_size + 1
                end = max(end, start + max(1, math.ceil(len(ids) / spec.page_size)))
            item_depth[spec.name] = depths
        if end > depth_max:
            depth_max, deepest = end, spec.name
    used, bound = tenant_requests(manifest, retries=False)
    used_all, _ = tenant_requests(manifest, retries=True)
    guests = manifest.resources.get("guests")
    sign_ins = manifest.resources.get("guest_sign_ins")
    signin_reads = 0
    if guests and sign_ins and sign_ins.status is ResourceStatus.OK and guests.status is ResourceStatus.OK:
        signin_reads = guests.lower_bound
    return TenantShape(manifest.tenant_id, manifest.customer, used, used_all, bound, bound + errors,
                       depth_max, deepest, signin_reads)


def tenant_limit(shape: TenantShape, latency_s: float, budget: int | None, window_s: float) -> float:
    terms = [shape.depth * latency_s]
    if budget:
        terms.append((math.ceil(shape.min_requests / budget) - 1) * window_s + latency_s)
        per, window = SIGNIN_BUDGET
        if shape.signin_reads:
            terms.append((math.ceil(shape.signin_reads / per) - 1) * window + latency_s)
    return max(terms)


@dataclass(frozen=True)
class Summary:
    tenants: int
    ratio_median: float
    ratio_max: float
    worst: str
    used_total: int
    used_with_retries_total: int
    bound_total: int
    limit_s: float
    limit_tenant: str
    limit_depth: int
    limit_deepest: str
    forced_wait_s: float


def summarise(shapes: list[TenantShape], budgets: Mapping[str, int | None], latency_s: float,
              window_s: float) -> Summary:
    measured = [s for s in shapes if s.ratio is not None]
    ratios = [s.ratio for s in measured if s.ratio is not None]
    worst = max(measured, key=lambda s: s.ratio or 0.0) if measured else None
    limits = {s.tenant_id: tenant_limit(s, latency_s, budgets.get(s.tenant_id), window_s) for s in shapes}
    top = max(shapes, key=lambda s: (limits[s.tenant_id], s.depth))
    waits = limits[top.tenant_id] - top.depth * latency_s
    return Summary(
        tenants=len(measured),
        ratio_median=median(ratios) if ratios else float("nan"),
        ratio_max=max(ratios) if ratios else float("nan"),
        worst=f"{worst.name} ({worst.used}/{worst.bound})" if worst else "-",
        used_total=sum(s.used for s in shapes),
        used_with_retries_total=sum(s.used_with_retries for s in shapes),
        bound_total=sum(s.bound for s in shapes),
        limit_s=limits[top.tenant_id],
        limit_tenant=top.name,
        limit_depth=top.depth,
        limit_deepest=top.deepest,
        forced_wait_s=max(0.0, waits),
    )
