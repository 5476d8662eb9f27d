"""Where the period report reads its inputs: the results ledger and the management responses.

The one place that names audit.ledger and audit.responses (imported inside the functions, so the
period package stands on its own until they merge); everything else takes frames and a lookup.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from audit.config import Config
    from audit.period.compute import ResponseLookup


def load(data_dir: Path, first: date, last: date, tenants: Collection[str] | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(results, items) of the nights first..last: each night's result is the nightly evaluation of the
    run collected last that night (ledger.nightly); items are narrowed to the same runs in compute."""
    from audit.ledger import nightly, read_items, read_results

    results = nightly(read_results(data_dir, first, last, tenants))
    return results, read_items(data_dir, first, last, tenants)


def responses(config: Config) -> ResponseLookup:
    """The configured management responses as a (tenant id, check id) lookup; raises ResponsesError."""
    from audit.responses import load_responses

    return load_responses(config).get
