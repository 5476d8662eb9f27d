"""Onboarding through the real command line: which version is installed."""

from __future__ import annotations

from importlib.metadata import version

from tests._cli import ROOT, cli


def test_version_names_the_installed_package() -> None:
    result = cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"mssp-audit {version('mssp-audit')}\n"


def test_permissions_follow_the_configurations_opt_ins(tmp_path) -> None:
    base = cli("permissions")
    assert base.returncode == 0, base.stderr
    assert "  RoleManagement.Read.Defender\n" not in base.stdout                 # not needed unless opted in
    assert "(with [expectations] collect_defender_rbac = true, also: RoleManagement.Read.Defender)" in base.stdout

    example = (ROOT / "config" / "example.toml").read_text()
    assert "collect_defender_rbac = false" in example
    opted = tmp_path / "opted.toml"
    opted.write_text(example.replace("collect_defender_rbac = false", "collect_defender_rbac = true"))
    result = cli("permissions", "--config", str(opted))
    assert result.returncode == 0, result.stderr
    assert "  RoleManagement.Read.Defender\n" in result.stdout and "(with [expectations]" not in result.stdout
    assert "/adminconsent?client_id=" in result.stdout
