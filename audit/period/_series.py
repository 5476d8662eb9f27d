"""Each check's year as a string, one character per night: the period's figures are then counts and
regular-expression matches over short strings, not a Python loop over every night × check × customer
(1,000 customers × 365 nights × 43 checks is 15.7 million results).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from audit.models import Status

NO_RESULT = "."
UNKNOWN = "?"
CODES: Mapping[str, str] = {
    Status.PASS.value: "P", Status.FAIL.value: "F", Status.WARN.value: "W", Status.ERROR.value: "E",
    Status.NOT_APPLICABLE.value: "N", Status.ACCEPTED.value: "A", Status.MANUAL.value: "M",
    Status.ATTESTED.value: "T",
}
STATUSES: Mapping[str, str] = {code: status for status, code in CODES.items()}


@dataclass(frozen=True)
class CheckSeries:
    """One customer's check over the period: `codes[i]` is night first+i (CODES, "." no result)."""

    check_id: str
    codes: str
    firsts: tuple[tuple[int, int], ...]    # (version, offset of its first result), in order of first result
    severity: str                          # of its last result


def series(results: pl.DataFrame, first: date, nights: int) -> dict[str, list[CheckSeries]]:
    """Per tenant id, its checks' series. One result per night × tenant × check (ledger.nightly)."""
    if not results.height:
        return {}
    frame = (results.select("tenant_id", "check_id", "check_version", "severity", "night", "status")
             .filter(pl.col("night").is_between(first, pl.lit(first) + pl.duration(days=nights - 1)))
             .with_columns(offset=(pl.col("night") - pl.lit(first)).dt.total_days().cast(pl.Int64),
                           code=pl.col("status").replace_strict(CODES, default=UNKNOWN, return_dtype=pl.String))
             .sort("tenant_id", "check_id", "night"))
    # Each result preceded by a "." per night without one since the previous result, then joined:
    # the string is built in polars, never night by night in Python.
    same_line = ((pl.col("tenant_id") == pl.col("tenant_id").shift(1))
                 & (pl.col("check_id") == pl.col("check_id").shift(1)))
    previous = pl.when(same_line).then(pl.col("offset").shift(1)).otherwise(-1)
    groups = (frame.with_columns(cell=pl.col("code").str.pad_start(pl.col("offset") - previous, NO_RESULT))
              .group_by("tenant_id", "check_id", maintain_order=True)
              .agg(pl.col("cell").str.join(""), pl.col("severity").last())
              .with_columns(pl.col("cell").str.pad_end(nights, NO_RESULT)))
    firsts: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for tenant, check, version, offset in (frame.group_by("tenant_id", "check_id", "check_version")
                                           .agg(pl.col("offset").min()).sort("offset").iter_rows()):
        firsts.setdefault((tenant, check), []).append((version, offset))
    out: dict[str, list[CheckSeries]] = {}
    for tenant, check, codes, severity in groups.iter_rows():
        out.setdefault(tenant, []).append(CheckSeries(check, codes, tuple(firsts[(tenant, check)]), severity))
    return out
