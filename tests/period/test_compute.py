"""The period report's figures equal a plain recount of the simulated year's nightly rows."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from types import SimpleNamespace

import polars as pl
import pytest

from audit.checks import SPECS
from audit.period.compute import compute
from audit.period.model import CustomerPeriod
from tests.period import _year as y


class _Response:
    def __init__(self, target: date) -> None:
        self.owner, self.response, self.target_date = "Jane Doe", "We will fix it.", target

    def overdue(self, on: date, still_open: bool) -> bool:
        return on > self.target_date and still_open


def _responses(_tenant: str, check: str) -> _Response | None:
    return {"AR-001": _Response(date(2026, 10, 31)), "EM-007": _Response(date(2026, 3, 1))}.get(check)


@pytest.fixture(scope="module")
def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    results, items = y.year()
    other_results, other_items = y.year(tenant=y.OTHER_TENANT, customer="Fabrikam")
    return pl.concat([results, other_results]), pl.concat([items, other_items])


@pytest.fixture(scope="module")
def period(frames: tuple[pl.DataFrame, pl.DataFrame]) -> CustomerPeriod:
    results, items = frames
    customers = [SimpleNamespace(tenant_id=y.TENANT, name="Contoso Retail"),
                 SimpleNamespace(tenant_id=y.OTHER_TENANT, name="Fabrikam")]
    return compute(results, items, y.FIRST, y.LAST, customers, _responses).customers[0]


def _recount(results: pl.DataFrame, check: str, version: int, first: date, last: date) -> dict[str, int]:
    """Row by row: the nights of [first, last] and what each said for this check version."""
    by_night = {}
    for row in results.filter(pl.col("tenant_id") == y.TENANT).iter_rows(named=True):
        if row["check_id"] == check:
            by_night[row["night"]] = row
    counts: Counter[str] = Counter()
    night = first
    while night <= last:
        row = by_night.get(night)
        if row is None:
            counts["no run"] += 1
        elif row["check_version"] == version:
            counts[row["status"]] += 1
            counts["evaluated"] += 1
        counts["nights"] += 1
        night += timedelta(days=1)
    return counts


def test_every_control_equals_a_plain_recount(period: CustomerPeriod,
                                              frames: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    assert len(period.controls) == len(SPECS) + 1          # GA-001 is reported per version
    for control in period.controls:
        recount = _recount(frames[0], control.check_id, control.check_version, control.first, control.last)
        assert control.nights == recount["nights"]
        assert control.evaluated == recount["evaluated"]
        assert len(control.no_run) == recount["no run"]
        for status in ("PASS", "FAIL", "WARN", "ERROR", "NOT_APPLICABLE", "ACCEPTED"):
            assert control.count(status) == recount[status], (control.check_id, status)


def test_a_missed_night_is_a_gap_never_a_pass(period: CustomerPeriod) -> None:
    assert period.nights == 365 and period.nights_with_run == 364
    em001 = next(c for c in period.controls if c.check_id == "EM-001")
    assert em001.no_run == (y.MISSED,)
    assert em001.count("PASS") == 364
    assert em001.conclusion == "Operated on 364 of 365 nights; no exceptions; 1 night without a run."


def test_the_version_bump_is_reported_per_version(period: CustomerPeriod) -> None:
    versions = [c for c in period.controls if c.check_id == "GA-001"]
    assert [(c.check_version, c.first, c.last) for c in versions] == [
        (2, y.FIRST, y.BUMP - timedelta(days=1)), (3, y.BUMP, y.LAST)]
    assert versions[0].nights + versions[1].nights == 365
    assert versions[0].exceptions[0].ending == "continued under version 3"
    assert versions[1].exceptions[0].ending == "remediated"


def _only_exception(period: CustomerPeriod, check: str):
    (control,) = [c for c in period.controls if c.check_id == check]
    (exception,) = control.exceptions
    return control, exception


def test_an_assignment_outliving_its_policy_for_a_week(period: CustomerPeriod) -> None:
    control, exception = _only_exception(period, "EM-007")
    assert (exception.first, exception.last, exception.nights, exception.gap_nights) == (*y.OUTLIVES, 7, 0)
    assert exception.ending == "remediated" and exception.ended_on == y.OUTLIVES[1] + timedelta(days=1)
    assert exception.first_evidence.run_id == y.run_of(y.OUTLIVES[0]).run_id
    assert exception.last_evidence.seal_digest == y.run_of(y.OUTLIVES[1]).seal_digest
    assert exception.runs == 7
    assert control.response is not None and not control.response.overdue     # no longer open
    (item,) = [a for a in period.assignments if a.item_id == "a-outlives"]
    assert (item.beyond_policy_nights, item.outcome) == (7, "expired")
    assert item.first_seen.run_id == y.run_of(date(2026, 2, 1)).run_id


def test_a_gap_inside_an_exception_does_not_end_it(period: CustomerPeriod) -> None:
    control, exception = _only_exception(period, "EM-005")
    assert (exception.first, exception.last, exception.nights, exception.gap_nights) == (*y.GAP_EXCEPTION, 5, 1)
    # Operated = PASS nights only: 365 − 1 without a run − 4 FAIL nights of the exception.
    assert control.count("PASS") == 360
    assert control.conclusion == ("Operated on 360 of 365 nights; 1 exception of 5 nights, 1 night of them without "
                                  "a run (remediated); 1 night without a run.")


def test_an_accepted_risk_that_expires(period: CustomerPeriod) -> None:
    control, exception = _only_exception(period, "EM-003")
    assert control.count("ACCEPTED") == 30
    assert (exception.first, exception.last, exception.ending) == (*y.ACCEPTED_LAPSED, "remediated")
    assert "30 nights under accepted risk" in control.conclusion


def test_an_overdue_review_is_still_open_and_its_response_overdue(period: CustomerPeriod) -> None:
    control, exception = _only_exception(period, "AR-001")
    assert (exception.first, exception.last, exception.ending) == (y.REVIEW_OVERDUE, y.LAST, "still open")
    assert control.response is not None and control.response.overdue
    (review,) = period.reviews
    assert (review.state, review.last_seen.night) == ("InProgress", y.LAST)


def test_error_nights_are_missing_evidence_never_exceptions(period: CustomerPeriod) -> None:
    (ar002,) = [c for c in period.controls if c.check_id == "AR-002"]
    assert ar002.error_nights == y.ERRORS and not ar002.exceptions
    assert ar002.conclusion.endswith("2 nights with missing evidence.")
    assert "effective" not in ar002.conclusion
    _, exception = _only_exception(period, "GS-004")
    assert exception.ending == "unknown" and exception.ended_on is None


def test_populations_and_how_each_item_ended(period: CustomerPeriod) -> None:
    assert {a.item_id: a.outcome for a in period.assignments} == {
        "a-outlives": "expired", "a-removed": "removed", "a-active": "still active"}
    assert {g.item_id: g.outcome for g in period.guests} == {
        "g-always": "present throughout", "g-added": "added", "g-removed": "removed"}
    (gdap,) = period.gdap
    assert "Security Operator" in (gdap.detail or "")
    assert all(i.first_seen.seal_digest == y.run_of(i.first_seen.night).seal_digest
               for i in (*period.assignments, *period.guests))


def test_sign_off_sources_and_tool_versions(period: CustomerPeriod) -> None:
    sources = period.signoff.sources
    assert len(sources) == 364 and y.MISSED not in {s.night for s in sources}
    assert all(s.run_id == y.run_of(s.night).run_id and s.evaluation_id == "001" for s in sources)
    assert [(t.tool_version, t.first, t.last) for t in period.signoff.tool_versions] == [
        ("1.4.0", y.FIRST, y.TOOL_BUMP - timedelta(days=1)), ("1.5.0", y.TOOL_BUMP, y.LAST)]
    assert period.signoff.first_run.seal_digest == y.run_of(y.FIRST).seal_digest
    assert period.signoff.last_run.seal_digest == y.run_of(y.LAST).seal_digest


def test_a_second_run_of_a_night_does_not_touch_the_populations(frames: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """Items of a run whose results are not the night's (nightly() dropped them) are not read."""
    results, items = frames
    stray = items.filter(pl.col("night") == y.LAST).with_columns(run_id=pl.lit("20261231T230000Z-ffffff"),
                                                                 item_id=pl.lit("stray"))
    report = compute(results, pl.concat([items, stray]), y.FIRST, y.LAST,
                     [SimpleNamespace(tenant_id=y.TENANT, name="Contoso Retail")])
    assert "stray" not in {i.item_id for p in report.customers for i in (*p.assignments, *p.guests, *p.gdap)}


def test_a_customer_never_sees_another_customers_rows(frames: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    results, items = frames
    report = compute(results, items, y.FIRST, y.LAST,
                     [SimpleNamespace(tenant_id=y.OTHER_TENANT, name="Fabrikam")])
    (other,) = report.customers
    assert {s.evaluation_digest for s in other.signoff.sources} == {
        y.run_of(n, y.OTHER_TENANT).evaluation_digest for n in (s.night for s in other.signoff.sources)}
