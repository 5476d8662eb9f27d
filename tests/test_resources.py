"""One resource catalogue (audit/resources.py): the collector, the normaliser, the check framework and
the report's provenance derive from it, and nothing describes a Graph resource beside it."""

from __future__ import annotations

import re
from pathlib import Path

from audit.checks import CATALOGUE
from audit.checks._framework import ABSENT_OK, FANOUT_PARENTS
from audit.checks.app_permissions import required_permissions
from audit.collect.run import targets
from audit.normalize import PARSERS, PARTNER_RESOURCES, write_normalized
from audit.normalize.settings import READS
from audit.resources import RESOURCES, RESOURCES_BY_NAME, SINGLETONS, TABLE_SOURCES, bind, resource
from tests.checks import tenant_builder as tb

NAMES = set(RESOURCES_BY_NAME)
# Collected and hashed as evidence of the seed's catalog "MSSP Accesses", but no check or report
# reads it yet: named here so that a second such resource cannot slip in unnoticed.
READ_BY_NOTHING = {"catalogs"}
# What the reports and drift read besides the checks' declared resources (audit/render/build.py,
# audit/history.py).
READ_BY_REPORTS = {"guests", "guest_sign_ins", "external_members", "role_group_members", "access_packages",
                   "assignments", "review_definitions",
                   "review_instances", "review_decisions", "role_assignments", "gdap_relationships",
                   "subscribed_skus", "authorization_policy", "em_settings", "cross_tenant_partner", "identity_sync"}
PLACEHOLDER = re.compile(r"\{([^}]*)\}")


def test_names_are_unique_and_every_reference_resolves() -> None:
    assert len(RESOURCES) == len(NAMES)
    for r in RESOURCES:
        assert (r.parent is not None) == (r.kind in ("fanout", "facet")), r.name
        assert r.parent is None or r.parent in NAMES, r.name
        assert r.reduced is None or resource(r.reduced.without).kind == "facet", r.name
        assert (r.kind == "facet") == (r.path == ""), r.name
        assert r.kind != "single" or not r.tables, f"{r.name}: a singleton is read as an object, not a table"


def test_every_resource_a_check_needs_is_in_the_catalogue() -> None:
    for item in CATALOGUE:
        assert set(item.spec.resources) <= NAMES, (item.spec.id, set(item.spec.resources) - NAMES)


def test_nothing_in_the_catalogue_is_unused() -> None:
    read = {r for item in CATALOGUE for r in item.spec.resources} | READ_BY_REPORTS
    carriers = {resource(name).parent for name in read if resource(name).kind in ("fanout", "facet")}
    while carriers - read:              # a fan-out's parent is read to know what to ask for
        read |= carriers
        carriers = {resource(name).parent for name in read if resource(name).kind in ("fanout", "facet")}
    assert NAMES - read == READ_BY_NOTHING


def test_the_collector_asks_for_exactly_the_catalogue() -> None:
    config = tb.config()                # every opt-in on, a partner tenant configured
    customer, partner = targets(config)
    collected = {s.name for s in (*customer.specs, *partner.specs)}
    # Facets are recorded from their carrier's request (guest_sign_ins from the guests read).
    assert collected == {r.name for r in RESOURCES if r.kind != "facet"}
    assert all(not s.partner for s in customer.specs) and all(s.partner for s in partner.specs)
    assert {s.name for s in partner.specs} == PARTNER_RESOURCES
    bound = {s.name: s.path for s in bind(tb.MSSP, (config.mssp.tier1_group, config.mssp.tier2_group,
                                                    config.mssp.approvers_group))}
    assert all(s.path == bound[s.name] for s in (*customer.specs, *partner.specs))
    off = targets(tb.config(expectations={"collect_defender_rbac": False}))[0]
    assert {s.name for s in off.specs} == {s.name for s in customer.specs if s.opt_in is None}


def test_bound_paths_hold_no_placeholder_but_a_fanouts_parent_ids() -> None:
    for r in bind(tb.MSSP, ("Tier 1 Analyst", "O'Brien {group}")):
        tokens = set(PLACEHOLDER.findall(r.path))
        if r.kind == "fanout":
            grandparent = resource(r.parent or "").parent
            assert tokens and tokens <= {f"{r.parent}.{r.key}", f"{grandparent}.id"}, r.name
        elif r.name == "groups":
            assert "displayName eq 'O''Brien {group}'" in r.path      # OData-quoted, braces left alone
        else:
            assert not tokens, r.name
    decisions = resource("review_decisions").child_path({"id": "inst-1"}, "def-1")
    assert decisions.startswith("identityGovernance/accessReviews/definitions/def-1/instances/inst-1/decisions?")


def test_the_reduced_guests_request_is_the_full_one_without_sign_ins() -> None:
    guests = resource("guests")
    assert guests.reduced is not None
    assert guests.reduced.path == guests.path.replace(",signInActivity", "").replace("$top=500", "$top=999")
    assert guests.reduced.leaves_out in guests.path and guests.reduced.leaves_out not in guests.reduced.path
    assert resource(guests.reduced.without).parent == "guests"


def test_the_normaliser_and_the_framework_derive_from_the_catalogue(tmp_path: Path) -> None:
    assert set(PARSERS) == {r.name for r in RESOURCES if r.tables}
    assert set(READS) == set(SINGLETONS) == {r.name for r in RESOURCES if r.kind == "single"}
    assert ABSENT_OK == {"cross_tenant_partner", "identity_sync"}
    assert FANOUT_PARENTS == {"review_instances": "review_definitions", "review_decisions": "review_instances",
                              "group_members": "groups", "gdap_access_assignments": "gdap_relationships",
                              "role_group_members": "role_assignments"}
    data = tb.build(tmp_path / "evidence", tb.good_tenant())
    assert not data.unreadable
    assert set(data.tables) == set(TABLE_SOURCES), "every table of the catalogue is built, and no other"
    assert set(data.singletons) == set(SINGLETONS)
    write_normalized(tmp_path / "out", data)
    written = {p.stem for p in (tmp_path / "out" / "normalized").glob("*.parquet")}
    assert written == set(TABLE_SOURCES)


def test_permissions_are_the_catalogues() -> None:
    customer = required_permissions(opted_in=["collect_defender_rbac"])
    assert set(customer) == {r.permission for r in RESOURCES if not r.partner}
    assert "AuditLog.Read.All" in customer          # from the guest_sign_ins facet, not added by hand
    assert set(required_permissions(partner=True)) == {"DelegatedAdminRelationship.Read.All"}


def test_the_readme_lists_every_permission_the_catalogue_needs() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for permission in {*required_permissions(), *required_permissions(partner=True)}:
        assert f"| `{permission}` |" in readme, permission
