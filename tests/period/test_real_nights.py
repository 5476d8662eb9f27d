"""The period report over real nights: `mssp-audit run` against the emulator night after night (one
night missed, a risk accepted for two nights that then expires), the results ledger the nights wrote,
then `mssp-audit period`; its figures must equal a plain recount of each night's results.json."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pypdf
import pytest

from audit import pipeline
from audit.config import AcceptedRisk, Config
from audit.demo import demo_config, demo_environment
from audit.history import list_runs
from audit.render.filenames import report_filename
from tests._cli import cli, write_config

FIRST = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
MISSED = 3                                     # no run on the fourth night
ACCEPTED_FROM, ACCEPTED_UNTIL = 4, 5           # the risk is accepted on these nights, expired on the next


def _night(n: int) -> datetime:
    return FIRST + timedelta(days=n)


def _accepting(config: Config, check_id: str) -> Config:
    risk = AcceptedRisk(check_id=check_id, rationale="Compensating control: weekly manual review",
                        owner="J. Doe, MSSP service manager", expires=_night(ACCEPTED_UNTIL).date())
    first = config.customers[0].model_copy(update={"accepted_risks": (risk,)})
    return config.model_copy(update={"customers": (first, *config.customers[1:])})


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("period-nights")
    data = out / "data"
    with demo_environment(now=FIRST, customers=2, seed=7, include_broken_tenant=False) as env:
        config = demo_config(env.estate, env.server, env.certificate_path, data)
        first = pipeline.run(config, now=_night(0), as_of=_night(0))
        tenant = first.customers[0].tenant_id
        results = json.loads((first.root / "tenants" / tenant / "results.json").read_text())["results"]
        failing = next(r["check_id"] for r in results if r["status"] == "FAIL")
        accepting = _accepting(config, failing)
        for n in range(1, 7):
            if n == MISSED:
                continue
            # The night's collection time and evaluation instant; the emulator's clock is real, so no
            # freezegun here (it would stop the emulator's event loop in its thread).
            pipeline.run(accepting if n >= ACCEPTED_FROM else config, now=_night(n), as_of=_night(n))
        path = write_config(accepting, data, out / "c.toml")
        yield {"data": data, "config": path, "tenant": tenant, "failing": failing, "customers": first.customers,
               "out": out}


def _recount(data: Path, tenant_id: str) -> dict[str, dict[str, Any]]:
    """Per check: the status of every night, read from each run's own results.json, nothing else."""
    statuses: dict[str, dict[date, str]] = {}
    for run in list_runs(data):
        results = json.loads((run.root / "tenants" / tenant_id / "results.json").read_text())["results"]
        for r in results:
            statuses.setdefault(r["check_id"], {})[run.collected_at.date()] = r["status"]
    return {check: {"evaluated": len(by_night),
                    "counts": {s: sum(1 for v in by_night.values() if v == s) for s in set(by_night.values())}}
            for check, by_night in statuses.items()}


def test_the_period_report_equals_a_recount_of_the_nights(nights: Any) -> None:
    out = nights["out"] / "period"
    last = _night(6).date()
    result = cli("period", "--config", str(nights["config"]), "--from", FIRST.date().isoformat(),
                 "--to", last.isoformat(), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    for customer in nights["customers"]:
        pdf = out / report_filename(f"{customer.name}-period", customer.tenant_id, suffix=".pdf")
        if not pdf.exists():               # the name the command gives its files
            pdf = next(out.glob(f"*{customer.tenant_id}*.pdf"))
        reader = pypdf.PdfReader(io.BytesIO(pdf.read_bytes()))
        (attached,) = reader.attachments["period.json"]
        period = json.loads(attached)
        recount = _recount(nights["data"], customer.tenant_id)
        controls = {c["check_id"]: c for c in period["controls"]}
        assert controls.keys() == recount.keys()
        for check_id, control in controls.items():
            expected = recount[check_id]
            assert control["nights"] == 7 and control["evaluated"] == expected["evaluated"] == 6, check_id
            assert dict(control["counts"]) == expected["counts"], check_id
            assert control["no_run"] == [_night(MISSED).date().isoformat()], check_id
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert "without a run" in text or "no run" in text.lower()

    # The accepted risk: FAIL nights, the gap, two ACCEPTED nights, then FAIL again once it expired.
    tenant = nights["tenant"]
    pdf = next(out.glob(f"*{tenant}*.pdf"))
    (attached,) = pypdf.PdfReader(io.BytesIO(pdf.read_bytes())).attachments["period.json"]
    control = next(c for c in json.loads(attached)["controls"] if c["check_id"] == nights["failing"])
    assert dict(control["counts"]) == {"FAIL": 4, "ACCEPTED": 2}
    # Never found operating: a night in an exception or under accepted risk is not a night it operated.
    assert control["conclusion"].startswith("Operated on 0 of 7 nights; 2 exceptions of ")
    assert "2 nights under accepted risk" in control["conclusion"] and "1 night without a run" in control["conclusion"]
    endings = [(e["first"], e["last"], e["ending"]) for e in control["exceptions"]]
    assert endings == [(FIRST.date().isoformat(), _night(2).date().isoformat(), "accepted risk"),
                       (_night(6).date().isoformat(), _night(6).date().isoformat(), "still open")]
