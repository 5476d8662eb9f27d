"""audit.expiry: the one definition of days left and expiry buckets (checks, PDF, workbooks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audit.expiry import BUCKETS, EXPIRED, LATER, NO_END, bucket, days_left, ends_within

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(("left", "days", "expected"), [
    (timedelta(days=-2), -2, EXPIRED),
    (timedelta(hours=-6), 0, EXPIRED),           # ended this morning: 0 days left, expired
    (timedelta(0), 0, EXPIRED),                  # ends at the evaluation instant: not held after it
    (timedelta(hours=6), 1, "≤ 7 days"),         # counted up: less than a day left is 1 day left
    (timedelta(days=7), 7, "≤ 7 days"),
    (timedelta(days=7, minutes=1), 8, "≤ 30 days"),
    (timedelta(days=30), 30, "≤ 30 days"),
    (timedelta(days=90), 90, "≤ 90 days"),
    (timedelta(days=180), 180, "≤ 180 days"),
    (timedelta(days=365), 365, "≤ 365 days"),
    (timedelta(days=365, seconds=1), 366, LATER),
])
def test_the_printed_days_left_and_the_bucket_agree(left: timedelta, days: int, expected: str) -> None:
    assert days_left(NOW + left, NOW) == days
    assert bucket(NOW + left, NOW) == expected
    assert expected in BUCKETS


def test_no_end_and_naive_times() -> None:
    assert days_left(None, NOW) is None and bucket(None, NOW) == NO_END
    # An Excel cell gives back a naive datetime: it is UTC.
    assert days_left(datetime(2026, 11, 29, 2, 0), NOW) == 7


def test_the_warning_window_is_the_buckets_up_to_it() -> None:
    ends = [NOW + timedelta(hours=h) for h in range(-48, 24 * 40, 5)] + [None]
    within = [e for e in ends if ends_within(e, NOW, 30)]
    assert within == [e for e in ends if bucket(e, NOW) in ("≤ 7 days", "≤ 30 days")]
    assert not ends_within(NOW, NOW, 30) and ends_within(NOW + timedelta(days=30), NOW, 30)
