"""How often the cycle collector runs while a stage allocates heavily.

CPython collects its youngest generation every 700 container allocations, and every tenth of
those the next one, up to the whole heap. WeasyPrint's layout and json.loads over a tenant's raw
pages allocate millions of short-lived dicts, lists and boxes, few of them in cycles: at the
default the collector took about a fifth to a quarter of the PDF's CPU and of normalisation's
(bench/customer_profile.py, issue #15). Collecting less often during those calls never changes a
result; cyclic garbage waits longer, which is why the PDF collects once when it is done.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["BULK_ALLOCATION_THRESHOLD", "fewer_collections"]

# Allocations between young-generation collections during a bulk stage: ~30 collections per
# typical report instead of ~350, and the whole heap scanned about once rather than 2-3 times.
BULK_ALLOCATION_THRESHOLD = 20_000


@contextmanager
def fewer_collections(threshold: int = BULK_ALLOCATION_THRESHOLD, *, collect_after: bool = False) -> Iterator[None]:
    """Raise the young generation's threshold for the duration of the block, then put back what
    was there, so the rest of the process keeps its own setting. Nested blocks restore in order;
    a higher threshold already set is kept.

    `collect_after`: for a block that leaves cyclic garbage behind (a WeasyPrint box tree). Left to
    CPython's schedule, a render worker's garbage piled up for a dozen reports (peak RSS 108 →
    ~390 MiB); one full collection after each block frees it while the heap is small, and keeps
    peak memory where it was.
    """
    before = gc.get_threshold()
    if before[0]:            # 0: automatic collection is off, and stays off
        gc.set_threshold(max(threshold, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if collect_after and before[0]:
            gc.collect()
