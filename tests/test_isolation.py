"""One customer's bad data or failed stage never stops another's reports, through the real command line.

The emulator's estate is live: one guest of one customer answers `accountEnabled: "yes"`, and the
nightly run still writes every report, the portfolio, and exits 1 with that customer's guest
checks in ERROR naming the resource and the property. The stored run is then re-evaluated with
one customer's manifest damaged, and with one customer's PDF path unwritable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from audit.checks import SPECS
from audit.config import Config
from audit.demo import demo_config, demo_environment
from audit.render.filenames import report_filename
from tests._cli import cli, write_config

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Night:
    config: Config
    data: Path
    run_id: str
    victim: str                        # tenant id of the customer with the odd guest
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    out = tmp_path_factory.mktemp("isolation")
    with demo_environment(now=NOW, customers=3, seed=7, include_broken_tenant=False) as env:
        victim = env.estate.customers[0].tenant_id
        guest = next(u for u in env.estate.tenants[victim].users if u.get("userType") == "Guest")
        guest["accountEnabled"] = "yes"
        config = demo_config(env.estate, env.server, env.certificate_path, out / "data")
        result = cli("run", "--config", str(write_config(config, out / "data", out / "c.toml")))
    summary = json.loads((out / "data" / "last-run.json").read_text())
    yield Night(config, out / "data", summary["run_id"], victim.lower(), result)


def results_of(data: Path, run_id: str, tenant_id: str) -> dict[str, Any]:
    return json.loads((data / "runs" / run_id / "tenants" / tenant_id / "results.json").read_text())


def evaluate_copy(night: Night, tmp: Path, damage: Any) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Re-evaluate a copy of the night's run (`mssp-audit evaluate --run`) after `damage(run root)`."""
    data = tmp / "data"
    shutil.copytree(night.data, data, symlinks=True)
    damage(data / "runs" / night.run_id)
    return cli("evaluate", "--config", str(write_config(night.config, data, tmp / "c.toml")),
               "--run", night.run_id), data


def test_an_odd_guest_errors_only_its_customers_guest_checks(night: Night) -> None:
    result = night.result
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    summary = json.loads((night.data / "last-run.json").read_text())
    assert Path(summary["portfolio"]).exists()
    for customer in summary["customers"]:            # every customer has its reports, the odd one too
        assert Path(customer["pdf"]).exists() and Path(customer["workbook"]).exists(), customer["name"]
        assert customer["error"] is None
    results = results_of(night.data, night.run_id, night.victim)["results"]
    on_guests = [r for r in results if "guests" in SPECS[r["check_id"]].resources]
    assert on_guests and all(r["status"] == "ERROR" for r in on_guests)
    for r in on_guests:
        assert "guests" in r["reason"] and "property accountEnabled" in r["reason"], r
        assert "expected a boolean, got the string 'yes'" in r["reason"], r
    # Checks that do not read guests are evaluated as usual.
    assert any(r["status"] in ("PASS", "FAIL", "WARN") for r in results if r not in on_guests)
    for customer in summary["customers"]:
        if customer["tenant_id"].lower() != night.victim:
            others = results_of(night.data, night.run_id, customer["tenant_id"].lower())["results"]
            assert not [r for r in others if "accountEnabled" in r["reason"]]


def test_a_damaged_manifest_stops_only_its_customer(night: Night, tmp_path: Path) -> None:
    victim = next(c for c in night.config.customers if c.tenant_id.lower() != night.victim)
    tenant_id = victim.tenant_id.lower()

    def damage(root: Path) -> None:
        (root / "tenants" / tenant_id / "manifest.json").write_text("{ not JSON")

    result, data = evaluate_copy(night, tmp_path, damage)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    changed = f"evidence changed since collection: tenants/{tenant_id}/manifest.json differs from the seal"
    assert f"{victim.name}: score n/a" in result.stdout and changed in result.stdout
    # Logged against the tenant, in one line, and the run went on.
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(line.get("tenant") == tenant_id and changed in line["message"] for line in lines), lines
    # Its results.json says why; every check is ERROR with the reason; the others are evaluated.
    # A later evaluation is a record of its own, written under evaluations/<id>/ (002: the night was 001).
    evaluation = data / "runs" / night.run_id / "evaluations" / "002"
    own = json.loads((evaluation / "tenants" / tenant_id / "results.json").read_text())
    assert own["error"] == changed
    assert {r["status"] for r in own["results"]} == {"ERROR"} and len(own["results"]) == len(SPECS)
    reports = evaluation / "reports"
    for customer in night.config.customers:
        assert (reports / report_filename(customer.name, customer.tenant_id, suffix=".pdf")).exists(), customer.name
    record = json.loads((evaluation.parent / "002.json").read_text())
    assert record["tenants"][tenant_id]["summary"]["error"] == changed
    assert not [t for t, part in record["tenants"].items() if t != tenant_id and "error" in part["summary"]]
    book = openpyxl.load_workbook(reports / "portfolio.xlsx", read_only=True)
    errors = [row for row in book["Errors"].iter_rows(values_only=True) if row[0] == victim.name]
    assert any(row[2] == "evaluation" and changed in str(row[5]) for row in errors)


def test_a_render_failure_stops_only_its_customers_file(night: Night, tmp_path: Path) -> None:
    victim = next(c for c in night.config.customers if c.tenant_id.lower() != night.victim)
    pdf_name = report_filename(victim.name, victim.tenant_id, suffix=".pdf")

    def damage(root: Path) -> None:
        # A directory where the PDF of the next evaluation (002) goes: rendering it fails for real,
        # in the worker, at the rename.
        pdf = root / "evaluations" / "002" / "reports" / pdf_name
        (pdf / "in-the-way").mkdir(parents=True)

    result, data = evaluate_copy(night, tmp_path, damage)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "PDF rendering failed" in result.stdout
    reports = data / "runs" / night.run_id / "evaluations" / "002" / "reports"
    assert (reports / pdf_name).is_dir()                                  # not claimed, not replaced
    assert (reports / report_filename(victim.name, victim.tenant_id, suffix=".xlsx")).exists()   # its workbook still written
    for customer in night.config.customers:
        if customer.tenant_id != victim.tenant_id:
            assert (reports / report_filename(customer.name, customer.tenant_id, suffix=".pdf")).stat().st_size > 0
    record = json.loads((reports.parent.parent / "002.json").read_text())
    assert "PDF rendering failed" in record["tenants"][victim.tenant_id.lower()]["summary"]["error"]
    assert f"evaluations/002/reports/{pdf_name}" not in record["tenants"][victim.tenant_id.lower()]["files"]
    book = openpyxl.load_workbook(reports / "portfolio.xlsx", read_only=True)
    rows = {row[0]: row for row in book["Summary"].iter_rows(values_only=True) if row}
    assert "not rendered" in rows[victim.name]
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(pdf_name in line["message"] and line.get("tenant") == victim.tenant_id for line in lines)
