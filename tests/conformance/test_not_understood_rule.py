"""The framework's one rule for values a check could not interpret (audit/checks/_framework.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.checks import Context, Outcome, run_check
from audit.checks._framework import check
from audit.models import CheckSpec, NotUnderstood, Population, Severity, Status
from audit.normalize.governance import ASSIGNMENT_STATE
from tests.checks import tenant_builder as tb

SPEC = CheckSpec(id="T-018", version=1, title="t", area="t", severity=Severity.LOW, requirement="r", rationale="r",
                 remediation="r", references=(), resources=("assignments",))
DOCUMENTED = ASSIGNMENT_STATE.judge("unknownFutureValue", "assignment a-1")
UNDOCUMENTED = ASSIGNMENT_STATE.judge("surprise", "assignment a-2")
SOME = Population("assignments", 3, 2, "are fine")


def result(tmp_path: Path, outcome: Outcome):   # noqa: ANN201 - a CheckResult
    cfg = tb.config()
    return run_check(check(SPEC)(lambda data, ctx: outcome), tb.build(tmp_path), Context(tb.NOW, cfg, cfg.customers[0]))


def test_the_judgements_say_what_was_not_understood() -> None:
    assert isinstance(DOCUMENTED, NotUnderstood) and DOCUMENTED.documented
    assert isinstance(UNDOCUMENTED, NotUnderstood) and not UNDOCUMENTED.documented
    assert ASSIGNMENT_STATE.judge("delivered", "assignment a-3") is None
    assert "not a documented value (delivering, partiallyDelivered" in UNDOCUMENTED.why
    assert ASSIGNMENT_STATE.judge(None, "assignment a-4").value == "no value"


@pytest.mark.parametrize(("status", "values", "expected"), [
    (Status.PASS, [DOCUMENTED], Status.WARN),
    (Status.PASS, [DOCUMENTED, UNDOCUMENTED], Status.ERROR),
    (Status.NOT_APPLICABLE, [DOCUMENTED], Status.WARN),
    (Status.WARN, [UNDOCUMENTED], Status.ERROR),
    (Status.FAIL, [DOCUMENTED, UNDOCUMENTED], Status.FAIL),     # a FAIL on understood objects stands
    (Status.PASS, [None], Status.PASS),                         # judge() said: understood
])
def test_a_value_not_understood_is_never_folded(tmp_path: Path, status: Status, values: list[NotUnderstood | None],
                                                expected: Status) -> None:
    outcome = (Outcome.not_applicable("nothing", not_understood=values) if status is Status.NOT_APPLICABLE
               else Outcome.of(status, "verdict.", [{"assignment": "a-0"}], SOME, values))
    got = result(tmp_path, outcome)
    assert got.status is expected, got
    named = [v for v in values if v is not None]
    for value in named:
        assert value.value in got.reason and value.subject in got.reason
    rows = [r for r in got.evidence if "not understood" in r]
    assert [r["value"] for r in rows] == [v.value for v in named]
    if named and expected is not Status.FAIL:
        assert f"(on the rest of the evidence: {status.value}" in got.reason
