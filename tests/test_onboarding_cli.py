"""Onboarding through the real command line: which version is installed."""

from __future__ import annotations

from importlib.metadata import version

from tests._cli import cli


def test_version_names_the_installed_package() -> None:
    result = cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"mssp-audit {version('mssp-audit')}\n"
