"""STAND-IN — to be replaced by audit.ledger on merge.

The ledger's frame schemas, copied verbatim from its contract (RESULTS_SCHEMA, ITEMS_SCHEMA) so the
period report can be built and tested before audit/ledger.py lands. On merge, every import of this
module becomes `from audit.ledger import ITEMS_SCHEMA, RESULTS_SCHEMA` and this file is deleted.
"""

from __future__ import annotations

import polars as pl

_UTC = pl.Datetime("us", "UTC")

RESULTS_SCHEMA: dict[str, pl.DataType] = {
    "night": pl.Date(), "run_id": pl.String(), "evaluation_id": pl.String(), "seal_digest": pl.String(),
    "evaluation_digest": pl.String(), "tool_version": pl.String(), "collected_at": _UTC, "as_of": _UTC,
    "tenant_id": pl.String(), "customer": pl.String(), "check_id": pl.String(), "check_version": pl.Int32(),
    "severity": pl.String(), "status": pl.String(), "subject": pl.String(), "examined": pl.Int64(),
    "conforming": pl.Int64(), "summary": pl.String(), "reason": pl.String(),
}

ITEMS_SCHEMA: dict[str, pl.DataType] = {
    "night": pl.Date(), "run_id": pl.String(), "evaluation_id": pl.String(), "seal_digest": pl.String(),
    "tenant_id": pl.String(), "customer": pl.String(), "kind": pl.String(), "item_id": pl.String(),
    "name": pl.String(), "related": pl.String(), "state": pl.String(), "start": _UTC, "end": _UTC,
    "beyond_policy": pl.Boolean(), "detail": pl.String(), "evidence": pl.String(),
}
