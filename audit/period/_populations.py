"""The populations an auditor samples from, from the ledger's items frame: each item once, with the
nights and runs that first and last saw it."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date

import polars as pl

from audit.period.model import Evidence, PopulationItem

KINDS = ("assignment", "review_instance", "mssp_guest", "gdap_relationship")
_LAST = ("name", "related", "state", "start", "end", "detail", "evidence")


def populations(items: pl.DataFrame, evaluated: Sequence[date],
                ) -> tuple[tuple[PopulationItem, ...], ...]:
    """(assignments, review instances, MSSP guests, GDAP relationships) of one customer.

    `evaluated` are the customer's nights with a run, ascending: an item's fate is read against them,
    so a night without a run never makes an item look removed.
    """
    if not items.height:
        return tuple(() for _ in KINDS)
    if not evaluated:      # items without results cannot come from one evaluation; read them against themselves
        evaluated = sorted(set(items.get_column("night").to_list()))
    summary = (items.sort("night")
               .group_by("kind", "item_id", maintain_order=True)
               .agg(pl.col("night").first().alias("first_night"), pl.col("run_id").first().alias("first_run"),
                    pl.col("seal_digest").first().alias("first_seal"), pl.col("night").last().alias("last_night"),
                    pl.col("run_id").last().alias("last_run"), pl.col("seal_digest").last().alias("last_seal"),
                    pl.col("night").n_unique().alias("nights_seen"),
                    pl.col("beyond_policy").fill_null(False).sum().alias("beyond_policy_nights"),
                    *(pl.col(c).last() for c in _LAST))
               .sort("kind", "first_night", "item_id"))
    grouped: dict[str, list[PopulationItem]] = {kind: [] for kind in KINDS}
    for row in summary.iter_rows(named=True):
        item = _item(row, evaluated)
        grouped.setdefault(item.kind, []).append(item)
    return tuple(tuple(grouped[kind]) for kind in KINDS)


def _item(row: dict, evaluated: Sequence[date]) -> PopulationItem:
    return PopulationItem(
        kind=row["kind"], item_id=row["item_id"], name=row["name"], related=row["related"], state=row["state"],
        start=row["start"], end=row["end"], detail=row["detail"], evidence=row["evidence"],
        first_seen=Evidence(row["first_night"], row["first_run"], row["first_seal"]),
        last_seen=Evidence(row["last_night"], row["last_run"], row["last_seal"]),
        nights_seen=row["nights_seen"], beyond_policy_nights=int(row["beyond_policy_nights"] or 0),
        outcome=outcome(row["kind"], row["first_night"], row["last_night"], row["end"], row["state"], evaluated))


def outcome(kind: str, first_seen: date, last_seen: date, end: object, state: str | None,
            evaluated: Sequence[date]) -> str:
    """Assignment: "still active" (seen on the period's last night with a run), "expired" (gone once its
    end date had passed) or "removed" (gone before it). Guest: "added" (first seen after the first night
    with a run), "removed" (not seen after some earlier night), both, or "present throughout". Review
    instances and GDAP relationships: their last state."""
    if kind == "assignment":
        if last_seen >= evaluated[-1]:
            return "still active"
        gone = evaluated[bisect.bisect_right(evaluated, last_seen)]
        return "expired" if end is not None and end.date() <= gone else "removed"   # type: ignore[attr-defined]
    if kind == "mssp_guest":
        added, removed = first_seen > evaluated[0], last_seen < evaluated[-1]
        return {(True, True): "added and removed", (True, False): "added", (False, True): "removed",
                (False, False): "present throughout"}[(added, removed)]
    return state or ""
