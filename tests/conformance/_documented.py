"""Fixtures taken from Microsoft Graph v1.0's documentation, run through the same raw-page →
normalise → check path as collected evidence (tests/checks/tenant_builder.py).

Each fixture file (fixtures/<resource>/<name>.json) names the docs page and example it reproduces,
says what was fixed (only what was not valid JSON, or a placeholder that is not a value), and
writes beside it, for every check that reads the resource, the expected status, a phrase the
result must show, and why the documentation makes that the right answer.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.checks import CATALOGUE, Check, Context, run_check
from audit.models import CheckResult
from audit.resources import SINGLETONS
from tests.checks import tenant_builder as tb

ROOT = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Fixture:
    path: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.stem}"

    @property
    def resource(self) -> str:
        return self.data["resource"]


# Resources whose fixtures have a suite (and a fixture format) of their own: licences, test_subscribed_skus.py.
OWN_SUITE = frozenset({"subscribed_skus"})


def fixtures() -> list[Fixture]:
    return [Fixture(p, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(ROOT.glob("*/*.json"))
            if p.parent.name not in OWN_SUITE]


def readers(resource: str) -> list[Check]:
    """Every check that reads the resource (its spec's resources)."""
    return [c for c in CATALOGUE if resource in c.spec.resources]


def _value(resource: str, body: Any, parent: str | None) -> Any:
    if resource in SINGLETONS or body is None:
        return copy.deepcopy(body)
    items = copy.deepcopy(body["value"] if isinstance(body, dict) else body)
    for item in items:
        if parent:
            item["_parent"] = parent
    return items


def evaluate(fixture: Fixture, tmp: Path) -> dict[str, CheckResult]:
    """The compliant test tenant with the documented response in place of the resource's evidence."""
    data = fixture.data
    tenant = tb.good_tenant()
    tenant[fixture.resource] = _value(fixture.resource, data["body"], data.get("parent"))
    for name, value in data.get("also", {}).items():
        tenant[name] = _value(name, value, None)
    tenant_id = data.get("tenant_id", tb.TENANT)
    overrides = dict(data.get("config", {}))
    cfg = tb.config(**overrides)
    if tenant_id != tb.TENANT:
        customer = cfg.customers[0].model_copy(update={"tenant_id": tenant_id})
        cfg = cfg.model_copy(update={"customers": [customer]})
    built = tb.build(tmp, tenant, tenant_id=tenant_id)
    context = Context(tb.NOW, cfg, cfg.customers[0])
    return {c.spec.id: run_check(c, built, context) for c in readers(fixture.resource)}


def shown(result: CheckResult) -> str:
    """Everything a report shows of a result, as one text to search."""
    return " | ".join([result.summary, result.reason, *(json.dumps(dict(r), default=str) for r in result.evidence)])
