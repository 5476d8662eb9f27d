"""The executive summary's figures: expiry buckets and score history in the view-model, chart geometry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from audit.render._charts import expiry_chart, trend_chart
from audit.render.build import HISTORY_POINTS, expiry_buckets, score_history
from tests.checks import tenant_builder as tb

PACKAGES = (tb.T1, tb.T2, tb.APPROVERS)


def _tenant_with_assignments(*assignments: dict[str, Any]) -> dict[str, Any]:
    resources = tb.good_tenant()
    resources["assignments"] = list(assignments)
    return resources


def test_delivered_mssp_assignments_are_bucketed_by_days_left(tmp_path: Path) -> None:
    ends = [tb.days(-1), tb.NOW, tb.days(0.5), tb.days(7), tb.days(7.01), tb.days(30), tb.days(90), tb.days(91),
            tb.days(365), tb.days(366), None, None]
    assignments = [tb.assignment(n, end=end) for n, end in enumerate(ends)]
    assignments += [tb.assignment(90, end=tb.days(3), state="expired"),          # no longer held
                    tb.assignment(91, "Vendor access", end=tb.days(3))]           # not an MSSP package
    data = tb.build(tmp_path, _tenant_with_assignments(*assignments))
    assert dict(expiry_buckets(data, PACKAGES, tb.NOW)) == {
        "Expired": 2, "≤ 7 days": 2, "≤ 30 days": 2, "≤ 90 days": 1, "≤ 180 days": 1, "≤ 365 days": 1,
        "Later": 1, "No end": 2}
    # Days left are counted from the collection time, so a later "now" moves assignments along.
    later = dict(expiry_buckets(data, PACKAGES, tb.NOW + timedelta(days=8)))
    assert later["Expired"] == 5 and later["≤ 7 days"] == 0


def test_uncollected_assignments_give_no_buckets(tmp_path: Path) -> None:
    resources = tb.good_tenant()
    del resources["assignments"]
    assert expiry_buckets(tb.build(tmp_path, resources), PACKAGES, tb.NOW) == ()


def test_score_history_ends_with_this_run_and_is_bounded() -> None:
    earlier = [(f"2026-10-{d:02d}", float(d)) for d in range(1, 41)]
    history = score_history(earlier, tb.NOW, 80.0)
    assert len(history) == HISTORY_POINTS and history[-1] == ("2026-11-22", 80.0) and history[0] == ("2026-10-12", 12.0)
    assert score_history((), tb.NOW, None) == (("2026-11-22", None),)


def test_expiry_columns_scale_to_the_largest_bucket() -> None:
    chart = expiry_chart((("Expired", 1), ("≤ 7 days", 0), ("Later", 4)))
    heights = {c.label: c.height for c in chart.columns}
    assert heights["Later"] == 4 * heights["Expired"] > 0 and heights["≤ 7 days"] == 0
    assert all(c.y + c.height == pytest.approx(chart.baseline) for c in chart.columns)
    assert chart.total == 5 and chart.columns[0].colour != chart.columns[-1].colour
    assert all(c.height == 0 for c in expiry_chart((("Expired", 0), ("Later", 0))).columns)


def test_trend_is_on_a_fixed_0_to_100_scale_and_breaks_at_runs_without_a_score() -> None:
    chart = trend_chart((("a", 100.0), ("b", 0.0), ("c", None), ("d", 50.0), ("e", 60.0)))
    top, bottom = chart.points[0].y, chart.points[1].y
    assert top is not None and bottom is not None and top < bottom
    assert chart.points[3].y == pytest.approx((top + bottom) / 2)
    assert len(chart.lines) == 2 and chart.gaps and chart.last == chart.points[-1]
    assert [label.text for label in chart.x_labels] == ["a", "e"]
    assert not trend_chart((("a", 10.0), ("b", 20.0))).gaps
