"""Management responses: a bad file is one line naming the file and the key (exit 2); a good one puts
each response beside its finding in the PDF and both workbooks, flagged overdue only while the
finding is open past its target date. The night runs over the emulator, the reports are read back."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import tomli_w
from pypdf import PdfReader
from typer.testing import CliRunner

from audit.cli import app
from audit.config import Config, load_config
from audit.demo import DemoEnvironment, demo_config, demo_environment
from audit.pipeline import RunOutcome, run
from audit.responses import Response, Responses, ResponsesError, load_responses
from audit.snapshot.store import read_json
from tests._cli import cli

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
LATE = NOW.date() - timedelta(days=10)
DUE = NOW.date() + timedelta(days=30)
HOSTILE_RESPONSE = '=HYPERLINK("http://evil.example","click")'
HOSTILE_OWNER = "<script>alert(1)</script> Mallory"

CONFIG = """
[mssp]
analyst_tenant_id = "22222222-2222-4222-8222-222222222222"

[app]
client_id = "44444444-4444-4444-8444-444444444444"
certificate_path = "certs/app.pem"

[output]
responses = "responses.toml"

[[customers]]
name = "Contoso"
tenant_id = "11111111-1111-4111-8111-111111111111"

[[customers]]
name = "Fabrikam"
tenant_id = "33333333-3333-4333-8333-333333333333"
"""

ENTRY = """
[[response]]
customer = "Contoso"
check = "EM-006"
owner = "Jane Doe"
response = "Move to the 30-day policy."
target_date = 2026-12-31
"""


def _write(tmp_path: Path, responses: str) -> Path:
    (tmp_path / "responses.toml").write_text(responses, encoding="utf-8")
    path = tmp_path / "mssp-audit.toml"
    path.write_text(CONFIG)
    return path


BAD = [
    (ENTRY.replace('"Contoso"', '"Northwind"'), "response[0].customer", "'Northwind' is not a configured customer"),
    (ENTRY.replace('"EM-006"', '"EM-999"'), "response[0].check", "'EM-999' is not a check"),
    (ENTRY.replace('owner = "Jane Doe"\n', ""), "response[0].owner", "is missing"),
    (ENTRY.replace("2026-12-31", '"2026-12-31"'), "response[0].target_date", "must be a TOML date"),
    (ENTRY.replace("2026-12-31", "2026-12-31T10:00:00"), "response[0].target_date", "must be a TOML date"),
    (ENTRY + ENTRY.replace('"Contoso"', '"11111111-1111-4111-8111-111111111111"'), "response[1]",
     "already has a response (response[0])"),
    (ENTRY.replace("Move to", "Move\\u0000 to"), "response[0].response", "control character U+0000"),
    (ENTRY.replace('owner = "Jane Doe"', 'owner = "Jane\\u001bDoe"'), "response[0].owner", "control character U+001B"),
    (ENTRY.replace("target_date", "priority = 1\ntarget_date"), "response[0].priority", "not a known setting"),
    (ENTRY.replace('owner = "Jane Doe"', "owner = 7"), "response[0].owner", "must be a string"),
    (ENTRY.replace('owner = "Jane Doe"', 'owner = "  "'), "response[0].owner", "must not be empty"),
    ("[response]\ncustomer = 1\n", "response", "array of tables"),
    ("[[response]\n", "", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "key", "expected"), BAD, ids=[f"{i}-{b[1] or 'toml'}" for i, b in enumerate(BAD)])
def test_a_bad_file_is_one_line_naming_the_key_and_exit_2(tmp_path: Path, text: str, key: str, expected: str) -> None:
    config_path = _write(tmp_path, text)
    responses = tmp_path / "responses.toml"
    with pytest.raises(ResponsesError) as caught:
        load_responses(load_config(config_path))
    message = str(caught.value)
    assert message.startswith(f"{responses}: ") and f"'{key}" in message and expected in message, message
    assert "\n" not in message
    result = CliRunner().invoke(app, ["run", "--config", str(config_path)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(responses) in lines[0] and f"'{key}" in lines[0] and expected in lines[0]
    assert not (tmp_path / "mssp-audit-data" / "runs").exists()      # refused before anything was collected


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    config_path = _write(tmp_path, ENTRY)
    (tmp_path / "responses.toml").unlink()
    result = CliRunner().invoke(app, ["run", "--config", str(config_path)])
    assert result.exit_code == 2 and str(tmp_path / "responses.toml") in result.output
    assert "cannot read the responses file" in result.output


def test_a_name_two_customers_share_must_be_a_tenant_id(tmp_path: Path) -> None:
    config_path = _write(tmp_path, ENTRY)
    config_path.write_text(CONFIG.replace('name = "Fabrikam"', 'name = "Contoso"'))
    with pytest.raises(ResponsesError, match=r"response\[0\]\.customer': 'Contoso' is the name of 2 customers"):
        load_responses(load_config(config_path))


def test_a_good_file_is_found_by_tenant_id_and_check(tmp_path: Path) -> None:
    config_path = _write(tmp_path, ENTRY + ENTRY.replace('"Contoso"', '"Fabrikam"').replace("EM-006", "GS-001"))
    config = load_config(config_path)
    assert config.output.responses == tmp_path / "responses.toml"      # relative to the configuration
    responses = load_responses(config)
    assert len(responses) == 2 and {r.check_id for r in responses} == {"EM-006", "GS-001"}
    found = responses.get("11111111-1111-4111-8111-111111111111".upper(), "EM-006")
    assert found == Response("11111111-1111-4111-8111-111111111111", "Contoso", "EM-006", "Jane Doe",
                             "Move to the 30-day policy.", date(2026, 12, 31))
    assert responses.get("33333333-3333-4333-8333-333333333333", "EM-006") is None     # never another customer's
    assert found.overdue(date(2027, 1, 1), still_open=True)
    assert not found.overdue(date(2027, 1, 1), still_open=False)
    assert not found.overdue(date(2026, 12, 31), still_open=True)       # due that day, not yet late
    assert len(load_responses(config.model_copy(update={"output": config.output.model_copy(
        update={"responses": None})}))) == 0
    assert len(Responses.EMPTY) == 0


@dataclass
class Night:
    env: DemoEnvironment
    config: Config
    outcome: RunOutcome
    contoso: Any
    fabrikam: Any
    tmp: Path


def _responses_toml(customer: str) -> str:
    return tomli_w.dumps({"response": [
        {"customer": customer, "check": "AR-001", "owner": "Jane Doe, MSSP service manager",
         "response": "The overdue review will be completed by the service desk.", "target_date": LATE},
        {"customer": customer, "check": "EM-001", "owner": "Sam Lee",
         "response": "Catalog kept under change control.", "target_date": LATE},
        {"customer": customer, "check": "GA-001", "owner": HOSTILE_OWNER, "response": HOSTILE_RESPONSE,
         "target_date": DUE},
    ]})


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("responses")
    with demo_environment(now=NOW, customers=2, seed=7) as env:
        contoso, fabrikam = env.estate.customers[:2]
        (tmp / "responses.toml").write_text(_responses_toml(contoso.name), encoding="utf-8")
        config = demo_config(env.estate, env.server, env.certificate_path, tmp / "data",
                             output={"responses": str(tmp / "responses.toml")})
        # As one shard of one: the run also writes the portfolio rows `merge` reads (test_merge_keeps_…).
        outcome = run(config, now=NOW, shard=(1, 1))
        yield Night(env, config, outcome, contoso, fabrikam, tmp)


def _status(night: Night, check_id: str) -> str:
    results = read_json(night.outcome.root / "tenants" / night.contoso.tenant_id.lower() / "results.json")
    return next(r["status"] for r in results["results"] if r["check_id"] == check_id)


def _pdf_text(path: Path) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(path).pages).split())


def test_the_estate_gives_the_statuses_this_file_answers(night: Night) -> None:
    assert (_status(night, "AR-001"), _status(night, "EM-001"), _status(night, "GA-001")) == ("FAIL", "PASS", "FAIL")


def test_the_pdf_shows_each_response_beside_its_finding(night: Night) -> None:
    customer = next(c for c in night.outcome.customers if c.name == night.contoso.name)
    text = _pdf_text(customer.pdf)
    # The open finding past its target date: the response, its owner and date, flagged.
    late = re.search(r"Management response The overdue review will be completed by the service desk\. "
                     rf"Owner: Jane Doe, MSSP service manager; target date {LATE.isoformat()} (\S+)", text)
    assert late and late.group(1) == "OVERDUE", text[:2000]
    # A passing check's response shows in the brief table, past its date but not flagged.
    passing = re.search(rf"Catalog kept under change control\. Owner: Sam Lee; target date {LATE.isoformat()} (\S+)",
                        text)
    assert passing and passing.group(1) != "OVERDUE"
    # Hostile text stays text: the script tag is shown, the formula is just characters.
    hostile = re.search(rf"{re.escape(HOSTILE_RESPONSE)} Owner: {re.escape(HOSTILE_OWNER)}; target date "
                        rf"{DUE.isoformat()} (\S+)", text)
    assert hostile and hostile.group(1) != "OVERDUE"
    assert len(re.findall(r"target date \d{4}-\d{2}-\d{2} OVERDUE", text)) == 1


def _findings(path: Path, *, portfolio: bool = False) -> dict[str, dict[str, Any]]:
    sheet = openpyxl.load_workbook(path)["Findings"]
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    assert header[-4:] == ["Owner", "Response", "Target date", "Overdue"]
    out = {}
    for row in rows[1:]:
        values = {h: c for h, c in zip(header, row, strict=True)}
        key = values["Check"].value.split(".")[0]
        out[f"{values['Tenant ID'].value}/{key}" if portfolio else key] = values
    return out


def test_the_workbooks_have_the_response_columns(night: Night) -> None:
    customer = next(c for c in night.outcome.customers if c.name == night.contoso.name)
    for path, prefix in ((customer.workbook, ""), (night.outcome.portfolio, f"{night.contoso.tenant_id}/")):
        rows = _findings(path, portfolio=bool(prefix))
        late, passing, hostile = rows[f"{prefix}AR-001"], rows[f"{prefix}EM-001"], rows[f"{prefix}GA-001"]
        assert [late[c].value for c in ("Status", "Owner", "Overdue")] == ["FAIL", "Jane Doe, MSSP service manager",
                                                                         "yes"]
        assert late["Target date"].value.date() == LATE and late["Target date"].number_format == "yyyy-mm-dd"
        assert [passing[c].value for c in ("Status", "Response", "Overdue")] == [
            "PASS", "Catalog kept under change control.", "no"]
        assert [hostile[c].value for c in ("Response", "Owner", "Overdue")] == [HOSTILE_RESPONSE, HOSTILE_OWNER, "no"]
        assert hostile["Response"].data_type == "s"                     # a string, never a formula
        assert rows[f"{prefix}GS-001"]["Owner"].value is None           # no response, blank cells
        with zipfile.ZipFile(path) as archive:
            sheets = b"".join(archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/"))
        assert b"HYPERLINK" not in b"".join(re.findall(rb"<f>([^<]*)</f>", sheets))


def test_another_customer_never_gets_them(night: Night) -> None:
    fabrikam = next(c for c in night.outcome.customers if c.name == night.fabrikam.name)
    assert "Management response" not in _pdf_text(fabrikam.pdf)
    rows = _findings(fabrikam.workbook)
    assert all(row["Owner"].value is None and row["Response"].value is None for row in rows.values())
    portfolio = _findings(night.outcome.portfolio, portfolio=True)
    assert all(row["Owner"].value is None for key, row in portfolio.items()
               if key.startswith(night.fabrikam.tenant_id))


def test_evaluated_before_the_target_date_nothing_is_overdue(night: Night) -> None:
    """`evaluate --as-of`: overdue is counted from the evaluation's date, not the wall clock."""
    config_path = night.tmp / "c.toml"
    config_path.write_text(tomli_w.dumps(night.config.model_dump(mode="json", exclude_none=True)))
    as_of = (LATE - timedelta(days=1)).isoformat()
    result = cli("evaluate", "--config", str(config_path), "--run", night.outcome.run_id, "--as-of", as_of)
    assert result.returncode in (0, 1), result.stderr
    workbook = next((night.outcome.root / "evaluations").rglob(f"*{night.contoso.tenant_id}*.xlsx"))
    rows = _findings(workbook)
    assert rows["AR-001"]["Owner"].value == "Jane Doe, MSSP service manager"
    assert rows["AR-001"]["Overdue"].value == "no"


def test_doctor_reports_a_bad_file_as_a_failing_line(night: Night) -> None:
    bad = night.tmp / "bad-responses.toml"
    bad.write_text(_responses_toml("Northwind Traders"), encoding="utf-8")
    data = night.config.model_dump(mode="json", exclude_none=True)
    data["output"]["responses"] = str(bad)
    config_path = night.tmp / "doctor.toml"
    config_path.write_text(tomli_w.dumps(data))
    result = cli("doctor", "--config", str(config_path), "--customers", night.contoso.name)
    assert result.returncode == 1, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("responses file:"))
    assert line.startswith("responses file: FAILED: ") and "'response[0].customer'" in line
    assert "'Northwind Traders' is not a configured customer" in line
    data["output"]["responses"] = str(night.tmp / "responses.toml")
    config_path.write_text(tomli_w.dumps(data))
    good = cli("doctor", "--config", str(config_path), "--customers", night.contoso.name)
    assert "responses file: ok: " in good.stdout and "3 response(s)" in good.stdout


def test_the_example_file_is_valid() -> None:
    root = Path(__file__).resolve().parent.parent / "config"
    config = load_config(root / "example.toml")
    config = config.model_copy(update={"output": config.output.model_copy(
        update={"responses": root / "responses.example.toml"})})
    (response,) = load_responses(config)
    assert (response.customer, response.check_id) == ("Contoso Retail", "EM-006")


def test_the_demo_writes_a_sample_file_and_shows_it(tmp_path: Path) -> None:
    from audit.demo import run_demo
    outcome = run_demo(tmp_path / "demo", customers=1, now=NOW)
    assert (tmp_path / "demo" / "responses.toml").is_file()
    rows = _findings(outcome.customers[0].workbook)
    flagged = {check: row["Overdue"].value for check, row in rows.items() if row["Owner"].value is not None}
    assert flagged == {"AR-001": "yes", "ADM-001": "no"}
    assert {check: row["Status"].value for check, row in rows.items() if check in flagged} == {
        "AR-001": "FAIL", "ADM-001": "FAIL"}


def test_merge_keeps_them_in_the_portfolio_rows(night: Night) -> None:
    """`mssp-audit merge` builds a night's portfolio from each shard's rows: the responses travel with them."""
    from audit.render.portfolio_rows import FILENAME, read_portfolio_rows
    portfolio = read_portfolio_rows(night.outcome.portfolio.parent / FILENAME)
    answered = {(tenant, f.check_id): (f.response, f.overdue) for _, tenant, f in portfolio.results if f.response}
    assert {key[1]: overdue for key, (_, overdue) in answered.items()} == {"AR-001": True, "EM-001": False,
                                                                          "GA-001": False}
    response, _ = answered[(night.contoso.tenant_id, "AR-001")]
    assert isinstance(response, Response) and response.target_date == LATE
