"""`mssp-audit period`: options, exit codes and the files it writes.

The ledger and responses modules merge separately: audit/period/source.py is their one seam, so the
command is driven here with the simulated year's frames in place of the ledger's reads.
"""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli import app
from audit.config import load_config
from audit.period import source
from tests._cli import write_config
from tests.period import _year as y

ROOT = Path(__file__).resolve().parents[2]
TENANT = "00000000-0000-0000-0000-000000000010"   # config/example.toml's Contoso Retail


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    path = write_config(load_config(ROOT / "config" / "example.toml"), data, tmp_path / "config.toml")
    first, last = date(2026, 3, 1), date(2026, 3, 20)
    frames = y.year(first, last, tenant=TENANT, customer="Contoso Retail")
    seen: list[tuple[date, date, list[str]]] = []

    def load(_data_dir: Path, a: date, b: date, tenants: list[str]):
        seen.append((a, b, list(tenants)))
        return frames

    monkeypatch.setattr(source, "load", load)
    monkeypatch.setattr(source, "responses", lambda _cfg: lambda _t, _c: None)
    return path


def _run(*args: str):
    return CliRunner().invoke(app, ["period", *args])


def test_writes_the_customer_files_and_the_portfolio(config: Path, tmp_path: Path) -> None:
    result = _run("--config", str(config), "--from", "2026-03-01", "--to", "2026-03-20")
    assert result.exit_code == 0, result.output
    out = tmp_path / "data" / "period" / "2026-03-01_2026-03-20"
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"Contoso-Retail-period--{TENANT}.pdf", f"Contoso-Retail-period--{TENANT}.xlsx",
                            "portfolio-period.xlsx"])
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in out.iterdir())


def test_an_unknown_customer_is_named(config: Path) -> None:
    result = _run("--config", str(config), "--from", "2026-03-01", "--to", "2026-03-20", "--customers", "Nobody")
    assert result.exit_code == 2 and "nobody" in result.output.lower()


@pytest.mark.parametrize(("first", "last", "says"), [("2026-03-20", "2026-03-01", "before --from"),
                                                    ("2026-02-30", "2026-03-01", "--from"),
                                                    ("yesterday", "2026-03-01", "not a date")])
def test_a_bad_period_is_refused(config: Path, first: str, last: str, says: str) -> None:
    result = _run("--config", str(config), "--from", first, "--to", last)
    assert result.exit_code == 2 and says in result.output
