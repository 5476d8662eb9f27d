"""Time left until an end date: one definition for the checks, the PDF and the workbooks.

Below every stage, so a check (EM-006's warning window), the PDF's expiry chart and the
workbooks' Expiry sheets count days and bucket ends the same way, from the same instant: the
instant the results were evaluated (the collection time, or `--as-of`), never the wall clock.

Days left are counted *up*: an end 6 hours away has 1 day left, an end at or before the instant
has 0 or fewer and has expired. So "≤ 7 days" holds exactly when the end is at most 7 × 24 hours
away, and the bucket printed beside a number of days never contradicts it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

EXPIRED = "Expired"
LATER = "Later"
NO_END = "No end"
LIMITS_DAYS = (7, 30, 90, 180, 365)      # the seed's assignments last 365 days at most
_DAY = timedelta(days=1)


def label(limit_days: int) -> str:
    return f"≤ {limit_days} days"


# Soonest first, as the chart and the sheets show them.
BUCKETS: tuple[str, ...] = (EXPIRED, *map(label, LIMITS_DAYS), LATER, NO_END)


def _utc(moment: datetime) -> datetime:
    """Graph's times are UTC; a naive one (an Excel cell, an old table) is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def days_left(end: datetime | None, now: datetime) -> int | None:
    """Whole days from `now` to `end`, counted up; 0 or fewer once `end` is not after `now`; None: no end."""
    if end is None:
        return None
    return math.ceil((_utc(end) - _utc(now)) / _DAY)


def bucket(end: datetime | None, now: datetime) -> str:
    """EXPIRED, "≤ N days" for the smallest limit that holds, LATER, or NO_END."""
    days = days_left(end, now)
    if days is None:
        return NO_END
    if days <= 0:
        return EXPIRED
    return next((label(limit) for limit in LIMITS_DAYS if days <= limit), LATER)


def ends_within(end: datetime | None, now: datetime, window_days: int) -> bool:
    """Not yet ended at `now`, and ends at most `window_days` days later (a warning window)."""
    days = days_left(end, now)
    return days is not None and 0 < days <= window_days
