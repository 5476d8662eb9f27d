"""Framework mappings are data (audit/checks/mappings.toml), validated against the catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.checks import (CATALOGUE, MAPPINGS, SPECS, admins, app_permissions, cross_tenant, entitlement,
                          entitlement_policies, gdap, guest_settings, guests, licensing, rbac, reviews)
from audit.checks.mappings import MappingError, default_text, load_mappings

FIXTURES = Path(__file__).parent / "fixtures" / "mappings"
MODULES = (admins, app_permissions, cross_tenant, entitlement, entitlement_policies, gdap, guest_settings, guests,
           licensing, rbac, reviews)


def load_fixture(name: str):
    path = FIXTURES / name
    return load_mappings(SPECS, path.read_text(encoding="utf-8"), origin=path.name)


def test_the_shipped_file_loads_against_the_catalogue() -> None:
    assert load_mappings(SPECS, default_text()) == MAPPINGS


def test_every_check_in_the_catalogue_is_mapped() -> None:
    # A new check must be placed in mappings.toml (with at least one control) before it ships.
    assert MAPPINGS.unmapped(SPECS) == []


def test_checks_are_framework_neutral() -> None:
    declared = {c.spec.id: c.spec.frameworks for module in MODULES for c in module.CHECKS}
    assert declared.keys() == SPECS.keys()
    assert all(frameworks == () for frameworks in declared.values())


def test_specs_are_filled_from_the_data() -> None:
    for check in CATALOGUE:
        assert check.spec.frameworks == MAPPINGS.for_check(check.spec.id)
    for control in MAPPINGS.controls:
        for check_id in control.checks:
            assert (control.framework.name, control.id) in SPECS[check_id].frameworks


def test_one_version_of_each_framework() -> None:
    families = [f.family for f in MAPPINGS.frameworks]
    assert len(families) == len(set(families))
    rendered = {framework for spec in SPECS.values() for framework, _ in spec.frameworks}
    assert rendered == {f.name for f in MAPPINGS.frameworks}
    assert {"CIS M365 Foundations v7.0.0", "CISA SCuBA Entra ID (ScubaGear v1.8.0)", "NIST SP 800-53 r5",
            "ISO/IEC 27001:2022", "SOC 2 (TSC 2017)"} == rendered


def test_guest_settings_map_to_cis_v7_and_scuba_guest_access() -> None:
    assert {("CIS M365 Foundations v7.0.0", "5.1.6.3"),
            ("CISA SCuBA Entra ID (ScubaGear v1.8.0)", "MS.AAD.8.2v1")} <= set(SPECS["GS-001"].frameworks)
    assert {("CIS M365 Foundations v7.0.0", "5.1.6.2"),
            ("CISA SCuBA Entra ID (ScubaGear v1.8.0)", "MS.AAD.8.1v1")} <= set(SPECS["GS-002"].frameworks)
    assert ("CIS M365 Foundations v7.0.0", "1.1.3") in SPECS["ADM-001"].frameworks


def test_every_control_names_its_title_and_every_framework_its_versioned_source() -> None:
    assert all(c.title.strip() for c in MAPPINGS.controls)
    versions = {"cis_m365": "v7.0.0", "cisa_scuba": "v1.8.0", "nist_800_53": "Revision 5", "iso_27001": "27001:2022",
                "soc2": "2017 Trust Services Criteria"}
    assert {f.key: versions[f.key] in f.source for f in MAPPINGS.frameworks} == dict.fromkeys(versions, True)
    scuba = [c for c in MAPPINGS.controls if c.framework.key == "cisa_scuba"]
    assert all(c.title.endswith(".") and ("SHALL" in c.title or "SHOULD" in c.title) for c in scuba)


def test_a_good_fixture_loads() -> None:
    mappings = load_fixture("good.toml")
    assert mappings.for_check("GS-001") == (("CISA SCuBA Entra ID (ScubaGear v1.8.0)", "MS.AAD.8.2v1"),)
    assert mappings.for_check("GS-002") == ()


@pytest.mark.parametrize(("fixture", "message"), [
    ("unknown_check.toml", "maps ['GS-099'], which the check catalogue does not have"),
    ("missing_framework.toml", "framework 'cis_m365_v4' is not declared in [frameworks]"),
    ("duplicate_control.toml", "control MS.AAD.8.1v1 of scuba is listed twice"),
    ("duplicate_check.toml", "lists ['GS-001'] more than once"),
    ("two_versions.toml", "map one version of each framework"),
])
def test_a_bad_file_fails_with_a_line_that_names_the_entry(fixture: str, message: str) -> None:
    with pytest.raises(MappingError) as raised:
        load_fixture(fixture)
    assert str(raised.value).startswith(f"{fixture}: ")
    assert message in str(raised.value)


def test_a_check_missing_from_the_catalogue_fails_loading() -> None:
    # The shipped file against a catalogue without GS-002: its controls now name an unknown check.
    with pytest.raises(MappingError, match=r"maps \['GS-002'\], which the check catalogue does not have"):
        load_mappings([check_id for check_id in SPECS if check_id != "GS-002"])


@pytest.mark.parametrize(("text", "message"), [
    ("[frameworks.x]\nfamily = 'F'\nname = 'F 1'\n", "[frameworks.x]: missing ['source']"),
    ("[frameworks.x]\nfamily = 'F'\nname = 'F 1'\nsource = 'S'\n", "declared but no control maps to them"),
    ("[[controls]]\nframework = 'x'\nid = '1'\ntitle = 't'\nchecks = ['GS-001']\nsee = 'x'\n",
     "unknown key(s) ['see']"),
    ("[mappings]\n", "unknown top-level key(s) ['mappings']"),
    ("controls = [", "not valid TOML"),
])
def test_malformed_entries_are_refused(text: str, message: str) -> None:
    with pytest.raises(MappingError) as raised:
        load_mappings(SPECS, text, origin="inline.toml")
    assert message in str(raised.value)
