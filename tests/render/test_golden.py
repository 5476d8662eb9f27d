"""Golden test of the customer view-model: a small fixed tenant through `customer_report`.

Only the generation time is scrubbed: every other date (collected, evaluated, ends, days left) is
what the report says, so a wrong date shows as a diff.

A change to what the report says (a column, a label, an order, a count) shows here as a diff. When the
change is intended, regenerate with `UPDATE_GOLDEN=1 python -m pytest tests/render/test_golden.py`
and review the diff of the golden file like code.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from audit.checks import CATALOGUE, SPECS, Context, evaluate, score
from audit.history import Change, Drift
from audit.render.build import RunInfo, customer_report
from audit.render.viewmodel import CustomerReport
from tests.checks import tenant_builder as tb
from tests.checks.planted import fixture

GOLDEN = Path(__file__).parent / "golden" / "customer_report.json"
UPDATE_HINT = "UPDATE_GOLDEN=1 python -m pytest tests/render/test_golden.py"
DIFF_LINES = 80


SCRUBBED = frozenset({"generated_at"})   # when the files were written: says nothing about the tenant


def scrubbed(value: Any) -> Any:
    """JSON-ready, with the generation time replaced; every other date stays as the report states it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return {"bytes": len(value), "sha256": hashlib.sha256(value).hexdigest()}
    if isinstance(value, dict):
        return {str(k): "<generated_at>" if k in SCRUBBED else scrubbed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrubbed(v) for v in value]
    return value


def golden_report(tmp_path: Path) -> CustomerReport:
    resources = tb.good_tenant()
    # One assignment per kind of expiry, so the summary's expiry figure is exercised too.
    resources["assignments"] += [tb.assignment(40 + n, tb.T2, end=tb.days(d) if d is not None else None)
                                 for n, d in enumerate((-2, 5, 20, 200, 500, None))]
    # Principals as Entra holds them: Global Administrator through a role-assignable group with a guest
    # member, and a member synced in from the MSSP's corporate tenant (tests/checks/fixtures/principals).
    for name in ("role_group_global_admin", "synced_corporate_member"):
        for resource, items in fixture(name).items():
            resources[resource] += items
    data = tb.build(tmp_path, resources)
    config = tb.config()
    customer = config.customers[0]
    results = evaluate(data, Context(tb.NOW, config, customer), CATALOGUE)
    drift = Drift("20261121T020000Z-golden", (Change("guest added", "a-analyst9@soc.mssp.example", ""),))
    return customer_report(
        customer, data, results, SPECS, score(results, SPECS), "0" * 64,
        RunInfo("20261122T020000Z-golden", datetime(2026, 11, 22, 2, 30, tzinfo=UTC), "0.0.0-golden"),
        drift=drift, config=config,
        attachments=(("manifest.json", b'{"tenant": "golden"}'), ("results.json", b'{"score": 1}')),
        history=(("2026-11-20", 70.0), ("2026-11-21", None)))


def test_the_customer_view_model_matches_the_golden_file(tmp_path: Path) -> None:
    actual = json.dumps(scrubbed(dataclasses.asdict(golden_report(tmp_path))), indent=1, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8") if GOLDEN.exists() else ""
    if actual != expected:
        diff = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), "golden", "actual", lineterm=""))
        more = f"\n… {len(diff) - DIFF_LINES} more diff lines" if len(diff) > DIFF_LINES else ""
        raise AssertionError(f"The customer view-model differs from {GOLDEN.name}. If the change is intended, "
                             f"regenerate it with:\n    {UPDATE_HINT}\nand review the diff of the golden file.\n"
                             + "\n".join(diff[:DIFF_LINES]) + more)
