"""The shipped files for running it for real (schedule.cron, deploy/): each checked by the tool that
reads it where that tool is installed, and by its syntax here in any case."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SERVICE = DEPLOY / "systemd" / "mssp-audit.service"
TIMER = DEPLOY / "systemd" / "mssp-audit.timer"
LOGROTATE = DEPLOY / "logrotate" / "mssp-audit"
ENV_EXAMPLE = DEPLOY / "mssp-audit.env.example"
CRON = ROOT / "schedule.cron"


# --- crontab ---------------------------------------------------------------------------------------

_FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = {3: "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec", 4: "sun|mon|tue|wed|thu|fri|sat"}


def _valid_field(text: str, index: int) -> bool:
    low, high = _FIELD_RANGES[index]
    for part in text.split(","):
        match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if match is None:
            if index in _NAMES and re.fullmatch(_NAMES[index], part.lower()):
                continue
            return False
        if match[2] is not None:
            first, last = int(match[2]), int(match[3] or match[2])
            if not low <= first <= last <= high:
                return False
        if match[4] is not None and int(match[4]) == 0:
            return False
    return True


def _cron() -> tuple[dict[str, str], list[tuple[list[str], str]]]:
    variables: dict[str, str] = {}
    entries: list[tuple[list[str], str]] = []
    for number, line in enumerate(CRON.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S.*", line):
            name, value = line.split("=", 1)
            variables[name] = value
            continue
        fields = line.split(None, 5)
        assert len(fields) == 6, f"schedule.cron:{number}: neither NAME=value nor five time fields and a command"
        assert all(_valid_field(f, i) for i, f in enumerate(fields[:5])), f"schedule.cron:{number}: {fields[:5]}"
        assert not re.search(r"(?<!\\)%", fields[5]), f"schedule.cron:{number}: an unescaped % ends the command"
        entries.append((fields[:5], fields[5].replace("\\%", "%")))
    return variables, entries


def test_the_crontab_parses_and_runs_nightly_at_two() -> None:
    variables, entries = _cron()
    assert [fields for fields, _ in entries] == [["0", "2", "*", "*", "*"]]
    assert {"MSSP_AUDIT", "MSSP_AUDIT_CONFIG", "MSSP_AUDIT_LOG", "MSSP_AUDIT_LOCK", "MSSP_AUDIT_ENV"} <= variables.keys()
    assert not any("SECRET" in name for name in variables), "the secret goes in the env file, never the crontab"
    assert not _valid_field("60", 0) and not _valid_field("*/0", 1) and _valid_field("1-5", 4)   # the parser bites


def _run_cron_entry(tmp_path: Path, env_file: Path | None) -> str:
    fake = tmp_path / "mssp-audit"
    fake.write_text(f'#!/bin/sh\necho "$MSSP_AUDIT_CLIENT_SECRET|$*" > {tmp_path}/ran\n')
    fake.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "MSSP_AUDIT": str(fake), "MSSP_AUDIT_CONFIG": "/etc/x.toml",
           "MSSP_AUDIT_LOG": str(tmp_path / "nightly.log"), "MSSP_AUDIT_LOCK": str(tmp_path / "cron.lock"),
           "MSSP_AUDIT_ENV": str(env_file or tmp_path / "absent.env")}
    subprocess.run(["sh", "-c", _cron()[1][0][1]], env=env, timeout=30, check=True)
    return (tmp_path / "ran").read_text().strip()


def test_cron_hands_the_secret_from_the_env_file_and_runs_without_one(tmp_path: Path) -> None:
    env_file = tmp_path / "mssp-audit.env"
    env_file.write_text("MSSP_AUDIT_CLIENT_SECRET='s3cr~t.with-signs_$HOME'\n")
    assert _run_cron_entry(tmp_path, env_file) == "s3cr~t.with-signs_$HOME|run --config /etc/x.toml"
    assert _run_cron_entry(tmp_path, None) == "|run --config /etc/x.toml"


def test_the_env_example_reads_the_same_in_sh_as_systemd_reads_it(tmp_path: Path) -> None:
    """systemd strips the single quotes of KEY='value'; sh, sourcing it, does the same."""
    pairs = [line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert pairs and all(re.fullmatch(r"[A-Z_][A-Z0-9_]*", k) and re.fullmatch(r"'[^']*'", v) for k, v in pairs)
    shown = subprocess.run(["sh", "-c", f'set -a; . "{ENV_EXAMPLE}"; env'], capture_output=True, text=True,
                           env={"PATH": os.environ["PATH"]}, check=True).stdout.splitlines()
    for key, value in pairs:
        assert f"{key}={value[1:-1]}" in shown


# --- systemd ---------------------------------------------------------------------------------------

def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str      # type: ignore[assignment,method-assign]   # keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def test_service_is_a_oneshot_run_as_the_service_account_and_the_timer_starts_it() -> None:
    service, timer = _unit(SERVICE), _unit(TIMER)
    s = service["Service"]
    assert s["Type"] == "oneshot"          # never two at once: a start of an activating oneshot is merged
    assert s["User"] == "mssp-audit" and s["UMask"] == "0077" and s["StateDirectory"] == "mssp-audit"
    assert s["EnvironmentFile"].lstrip("-") == _cron()[0]["MSSP_AUDIT_ENV"]
    exec_start = s["ExecStart"].split()
    assert exec_start[0] == _cron()[0]["MSSP_AUDIT"] and exec_start[1:3] == ["run", "--config"]
    assert exec_start[3] == _cron()[0]["MSSP_AUDIT_CONFIG"]
    assert "Restart" not in s
    assert timer["Timer"]["Unit"] == SERVICE.name and timer["Timer"]["OnCalendar"] == "*-*-* 02:00:00"
    assert timer["Timer"]["Persistent"] in ("yes", "true") and timer["Install"]["WantedBy"] == "timers.target"


def test_systemd_analyze_verify_accepts_both_units(tmp_path: Path) -> None:
    """verify refuses an ExecStart that is not installed here, so the copies run a stand-in binary;
    every other line is the shipped one. Any warning (an unknown key, a bad value) fails the test."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed; the units' syntax is checked by the test above")
    stand_in = tmp_path / "mssp-audit"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    for unit in (SERVICE, TIMER):
        text = unit.read_text().replace(_cron()[0]["MSSP_AUDIT"], str(stand_in))
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run([tool, "verify", "--man=no", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    calendar = subprocess.run([tool, "calendar", _unit(TIMER)["Timer"]["OnCalendar"]], capture_output=True,
                              text=True, timeout=60, check=False)
    assert calendar.returncode == 0 and "Next elapse" in calendar.stdout, calendar.stderr


def test_systemd_analyze_verify_would_catch_a_bad_line(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    broken = tmp_path / SERVICE.name
    broken.write_text(SERVICE.read_text().replace("Type=oneshot", "Type=oneshot\nTimeoutStartSek=6h"))
    result = subprocess.run([tool, "verify", "--man=no", str(broken)], capture_output=True, text=True, timeout=120,
                            check=False)
    assert "TimeoutStartSek" in result.stderr


# --- logrotate -------------------------------------------------------------------------------------

_LOGROTATE_DIRECTIVES = {"weekly", "daily", "monthly", "rotate", "compress", "delaycompress", "missingok",
                         "notifempty", "create", "su", "maxage", "dateext"}


def test_logrotate_snippet_rotates_the_cron_log_as_the_service_account(tmp_path: Path) -> None:
    text = LOGROTATE.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    match = re.fullmatch(r"\s*(\S+)\s*\{([^{}]*)\}\s*", body)
    assert match, "one path and one { … } block"
    assert match[1] == _cron()[0]["MSSP_AUDIT_LOG"]
    directives = [line.split() for line in match[2].splitlines() if line.strip()]
    assert all(d[0] in _LOGROTATE_DIRECTIVES for d in directives), directives
    options = {d[0]: d[1:] for d in directives}
    assert options["create"] == ["0640", "mssp-audit", "mssp-audit"] and options["su"] == ["mssp-audit", "mssp-audit"]
    assert "copytruncate" not in options and int(options["rotate"][0]) > 0
    tool = shutil.which("logrotate")
    if tool is None:
        return          # the syntax above is what logrotate -d would read
    config = tmp_path / "logrotate.conf"
    config.write_text(text.replace(match[1], str(tmp_path / "nightly.log")).replace(
        "su mssp-audit mssp-audit", "").replace("create 0640 mssp-audit mssp-audit", "create 0640"))
    result = subprocess.run([tool, "-d", "-s", str(tmp_path / "state"), str(config)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0 and "error" not in result.stderr.lower(), result.stderr


def test_the_readme_section_names_every_shipped_file() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Running it for real", 1)[1].split("\n## ", 1)[0]
    shipped = [p.relative_to(ROOT).as_posix() for p in DEPLOY.rglob("*") if p.is_file()]
    assert len(shipped) == 9      # systemd, logrotate, the env file; Kubernetes: 4 manifests, the Containerfile
    for path in [*shipped, "schedule.cron"]:
        assert path in section or Path(path).name in section, path
    assert "Type=oneshot" in section and "metrics_file" in section and "EnvironmentFile=" in section
