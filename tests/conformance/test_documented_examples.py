"""Every example response the v1.0 docs give for the resources the checks read, through
normalisation and every check that reads it (issue 18). The expected results sit in the fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.resources import RESOURCES
from tests.conformance._documented import Fixture, evaluate, fixtures, readers, shown

ALL = fixtures()
# The resources whose documented examples this suite covers. subscribed_skus has its own
# conformance file (licences); the beta Defender RBAC resources are opt-in and have no v1.0 page.
COVERED = {"connected_organizations", "access_packages", "assignments", "assignment_requests", "em_settings",
           "review_definitions", "review_instances", "review_decisions", "gdap_relationships",
           "gdap_access_assignments", "authorization_policy", "cross_tenant_default", "cross_tenant_partner",
           "identity_sync", "role_assignments"}


@pytest.mark.parametrize("fixture", ALL, ids=[f.name for f in ALL])
def test_documented_example(fixture: Fixture, tmp_path: Path) -> None:
    data = fixture.data
    assert data["source"].startswith("api-reference/v1.0/") and data["example"], "each fixture names its docs page"
    results = evaluate(fixture, tmp_path)
    # Every check that reads the resource has its expected result written beside the fixture.
    assert set(data["expect"]) == {c.spec.id for c in readers(fixture.resource)}
    for check_id, expected in data["expect"].items():
        result = results[check_id]
        text = shown(result)
        assert result.status.value == expected["status"], (check_id, expected["because"], text)
        assert expected["says"] in text, (check_id, expected["says"], text)
        if "also_says" in expected:
            assert expected["also_says"] in text, (check_id, expected["also_says"], text)


def test_every_covered_resource_has_a_documented_example() -> None:
    by_resource = {f.resource for f in ALL}
    assert COVERED <= by_resource, COVERED - by_resource
    assert by_resource <= {r.name for r in RESOURCES}
