"""Conformance: every documented shape of `GET /subscribedSkus` through normalisation and every check
that reads it (LIC-001, LIC-002 directly; the licence-gated checks through audit.normalize.licences).

Each fixture under fixtures/subscribed_skus/ names the documentation page it was written from
(`_source`), what the docs say the shape means (`_shape`), what was changed from the page (`_edits`)
and the expected results beside it (`expected`): a status and words the summary or reason must say.
For the gated checks, "runs" means the licence does not stop them: each gives the result it gives on
the same tenant with an enabled P2 SKU. A value the docs do not list is ERROR naming it, never PASS
or FAIL, and the evidence rows show it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from audit.checks import CATALOGUE, Context, run_check
from audit.checks._framework import Check
from audit.config import Config
from audit.models import CheckResult, Status
from audit.normalize.licences import Level, features_of
from tests.checks import tenant_builder as tb

FIXTURES = Path(__file__).parent / "fixtures" / "subscribed_skus"
DOCS = "https://learn.microsoft.com/en-us/graph/api/"
GATED = {"checks gated on Entra ID P2": Level.P2, "checks gated on Entra ID P1": Level.P1}
# The seed's own example: 20 analysts + 20 growth → 60 guest accounts → 12 P2.
SIZING = {"name": "Contoso", "tenant_id": tb.TENANT, "current_analysts": 20, "projected_growth": 20}
READS_SKUS = [c for c in CATALOGUE if "subscribed_skus" in c.spec.resources]


@cache
def _gated(level: Level) -> tuple[Check, ...]:
    return tuple(c for c in CATALOGUE if "subscribed_skus" not in c.spec.resources
                 and any(f.level is level for f in features_of(r for r in c.spec.resources
                                                               if r not in c.unlicensed_is_absent)))


@cache
def _config() -> Config:
    return tb.config(customers=[SIZING])


def _evaluate(tmp: Path, skus: list[dict[str, Any]]) -> tuple[dict[str, CheckResult], int]:
    tenant = tb.good_tenant()
    tenant["subscribed_skus"] = skus
    data = tb.build(tmp, tenant)
    cfg = _config()
    wanted = [*READS_SKUS, *(c for level in GATED.values() for c in _gated(level))]
    results = {c.spec.id: run_check(c, data, Context(tb.NOW, cfg, cfg.customers[0])) for c in wanted}
    return results, data.tables["subscribed_skus"].height


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheckResult]:
    """The good tenant as built: an enabled AAD_PREMIUM_P2 SKU, so nothing is gated."""
    results, _ = _evaluate(tmp_path_factory.mktemp("baseline"), tb.good_tenant()["subscribed_skus"])
    return results


def _fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def test_the_suite_covers_every_documented_value() -> None:
    """Each capabilityStatus (subscribedSku) and provisioningStatus (servicePlanInfo) the docs list has a
    fixture, and so do the two example responses."""
    shapes = [json.loads(p.read_text(encoding="utf-8"))["response"]["value"] for p in _fixtures()]
    skus = [s for value in shapes for s in value]
    assert {s.get("capabilityStatus") for s in skus} >= {"Enabled", "Warning", "Suspended", "Deleted", "LockedOut"}
    p2 = {p.get("provisioningStatus") for s in skus for p in s.get("servicePlans") or ()
          if p.get("servicePlanName") == "AAD_PREMIUM_P2"}
    assert p2 >= {"Success", "Disabled", "Error", "PendingInput", "PendingActivation", "PendingProvisioning"}
    sources = {json.loads(p.read_text(encoding="utf-8"))["_source"] for p in _fixtures()}
    assert {f"{DOCS}subscribedsku-list?view=graph-rest-1.0", f"{DOCS}subscribedsku-get?view=graph-rest-1.0"} <= sources


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: p.stem)
def test_documented_shape(path: Path, tmp_path: Path, baseline: dict[str, CheckResult]) -> None:
    fixture = json.loads(path.read_text(encoding="utf-8"))
    assert fixture["_source"].startswith(DOCS) and fixture["_shape"] and fixture["_edits"]
    skus = fixture["response"]["value"]
    results, normalised = _evaluate(tmp_path, skus)
    assert normalised == len(skus)                   # every SKU of the page reached the table
    expected = fixture["expected"]
    assert set(expected) == {*(c.spec.id for c in READS_SKUS), *GATED}
    for check in READS_SKUS:
        want, got = expected[check.spec.id], results[check.spec.id]
        assert got.status.value == want["status"], (check.spec.id, got)
        said = f"{got.summary} {got.reason}"
        assert all(words in said for words in want["says"]), (check.spec.id, want["says"], said)
        assert "(0 units)" not in said
        if got.status is Status.ERROR:
            # Which value of which SKU was not understood, in the evidence as well as the reason.
            shown = " ".join(str(v) for row in got.evidence for v in row.values())
            assert "not understood" in shown or "prepaidUnits" in got.reason, (check.spec.id, shown)
    for group, level in GATED.items():
        want = expected[group]
        checks = _gated(level)
        assert checks, group
        for check in checks:
            got = results[check.spec.id]
            if want["status"] == "runs":
                assert got.status is baseline[check.spec.id].status, (check.spec.id, got)
            else:
                assert got.status.value == want["status"], (check.spec.id, got)
                assert all(words in got.reason for words in want["says"]), (check.spec.id, got.reason)
