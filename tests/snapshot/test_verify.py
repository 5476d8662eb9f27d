"""`mssp-audit verify` through the real command line over one demo night: every kind of tampering
is found and named (exit 1), a run that does not exist or an id that is not a run id is exit 2,
and a malformed file is a finding, never a crash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.config import Config
from audit.demo import demo_config, demo_environment
from tests._cli import cli, write_config

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Night:
    config: Config
    data: Path
    run_id: str
    tenant_id: str        # a customer whose tenant was read
    public_key: Path      # of the key that signed the seal and the evaluation records

    @property
    def root(self) -> Path:
        return self.data / "runs" / self.run_id


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    out = tmp_path_factory.mktemp("sealed")
    signing_key, public_key = _key_pair(out / "signing.pem", out / "public.pem")
    with demo_environment(now=NOW, customers=2, seed=7, include_broken_tenant=False) as env:
        config = demo_config(env.estate, env.server, env.certificate_path, out / "data",
                             output={"signing_key": str(signing_key)})
        result = cli("run", "--config", str(write_config(config, out / "data", out / "c.toml")))
    assert result.returncode in (0, 1), result.stderr[-2000:]
    summary = json.loads((out / "data" / "last-run.json").read_text())
    tenant_id = next(c["tenant_id"] for c in summary["customers"] if c["reachable"]).lower()
    yield Night(config, out / "data", summary["run_id"], tenant_id, public_key)


def _key_pair(private: Path, public: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.generate()
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def copy_of(night: Night, tmp: Path) -> tuple[Path, Path]:
    """A copy of the night's data directory and a configuration pointing at it."""
    data = tmp / "data"
    shutil.copytree(night.data, data, symlinks=True)
    return data, write_config(night.config, data, tmp / "c.toml")


def verify(config: Path, run_id: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("verify", "--config", str(config), "--run", run_id, *extra)


def test_an_untouched_run_is_intact(night: Night, tmp_path: Path) -> None:
    result = verify(write_config(night.config, night.data, tmp_path / "c.toml"), night.run_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Run {night.run_id}: intact" in result.stdout


@pytest.mark.parametrize("run_id", ["../runs", "/etc", "20261122T020000Z-abcdef/../x", "nope", ""])
def test_an_id_that_is_not_a_run_id_is_exit_2(night: Night, tmp_path: Path, run_id: str) -> None:
    result = verify(write_config(night.config, night.data, tmp_path / "c.toml"), run_id)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not a run id" in result.stderr and "TAMPERED" not in result.stdout


def test_a_run_that_does_not_exist_is_exit_2_not_tampered(night: Night, tmp_path: Path) -> None:
    typo = night.run_id[:-1] + ("0" if night.run_id[-1] != "0" else "1")
    result = verify(write_config(night.config, night.data, tmp_path / "c.toml"), typo)
    assert result.returncode == 2 and f"no run {typo}" in result.stderr
    assert "TAMPERED" not in result.stdout


def _raw(root: Path, tenant_id: str) -> Path:
    return root / "tenants" / tenant_id / "raw" / "guests.jsonl"


def _edit_raw(root: Path, tenant_id: str) -> str:
    raw = _raw(root, tenant_id)
    raw.write_bytes(raw.read_bytes().replace(b'"Guest"', b'"Member"', 1))
    return f"tenants/{tenant_id}/raw/guests.jsonl: raw evidence changed since collection"


def _delete_raw(root: Path, tenant_id: str) -> str:
    _raw(root, tenant_id).unlink()
    return f"tenants/{tenant_id}/raw/guests.jsonl: raw evidence file missing"


def _add_raw(root: Path, tenant_id: str) -> str:
    (root / "tenants" / tenant_id / "raw" / "extra.jsonl").write_text("{}\n")
    return f"tenants/{tenant_id}/raw/extra.jsonl: raw file not recorded in the manifest"


def _directory_for_raw(root: Path, tenant_id: str) -> str:
    _raw(root, tenant_id).unlink()
    _raw(root, tenant_id).mkdir()
    return f"tenants/{tenant_id}/raw/guests.jsonl: raw evidence file is not a regular file"


def _truncated_manifest(root: Path, tenant_id: str) -> str:
    manifest = root / "tenants" / tenant_id / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:200])
    return f"tenants/{tenant_id}/manifest.json: tenant manifest unreadable: not valid JSON"


def _manifest_not_an_object(root: Path, tenant_id: str) -> str:
    (root / "tenants" / tenant_id / "manifest.json").write_text("[1, 2]")
    return f"tenants/{tenant_id}/manifest.json: tenant manifest is not a JSON object"


def _malformed_run_manifest(root: Path, tenant_id: str) -> str:
    (root / "run.json").write_text("{ not JSON")
    return "run.json: run manifest unreadable: not valid JSON"


@pytest.mark.parametrize("damage", [_edit_raw, _delete_raw, _add_raw, _directory_for_raw, _truncated_manifest,
                                    _manifest_not_an_object, _malformed_run_manifest])
def test_tampering_is_found_and_named(night: Night, tmp_path: Path, damage: Callable[[Path, str], str]) -> None:
    data, config = copy_of(night, tmp_path)
    expected = damage(data / "runs" / night.run_id, night.tenant_id)
    result = verify(config, night.run_id)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"TAMPERED {expected}" in result.stdout.splitlines(), result.stdout
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def _manifest_fixed_by_hand(root: Path, tenant_id: str) -> str:
    """The raw file edited and its hash in the manifest made to match: the seal still tells."""
    import hashlib
    raw = _raw(root, tenant_id)
    before = hashlib.sha256(raw.read_bytes()).hexdigest()
    _edit_raw(root, tenant_id)
    manifest = root / "tenants" / tenant_id / "manifest.json"
    manifest.write_text(manifest.read_text().replace(before, hashlib.sha256(raw.read_bytes()).hexdigest()))
    return f"tenants/{tenant_id}/manifest.json: tenant manifest changed since the run"


def _edit_results(root: Path, tenant_id: str) -> str:
    results = root / "tenants" / tenant_id / "results.json"
    results.write_text(results.read_text().replace('"FAIL"', '"PASS"'))
    return f"tenants/{tenant_id}/results.json: changed since its evaluation"


def _edit_parquet(root: Path, tenant_id: str) -> str:
    table = root / "tenants" / tenant_id / "normalized" / "guests.parquet"
    blob = bytearray(table.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    table.write_bytes(bytes(blob))
    return f"tenants/{tenant_id}/normalized/guests.parquet: changed since its evaluation"


def _edit_pdf(root: Path, tenant_id: str) -> str:
    pdf = next(p for p in (root / "reports").glob("*.pdf") if tenant_id in p.name)
    with pdf.open("ab") as handle:
        handle.write(b"%")
    return f"reports/{pdf.name}: changed since its evaluation"


def _edit_run_score(root: Path, tenant_id: str) -> str:
    run = json.loads((root / "run.json").read_text())
    run["tenants"][tenant_id]["score"] = 100.0
    (root / "run.json").write_text(json.dumps(run))
    return "run.json: tenants' scores or counts differ from evaluation 001"


def _add_report(root: Path, tenant_id: str) -> str:
    (root / "reports" / "extra.pdf").write_bytes(b"%PDF-1.7")
    return "reports/extra.pdf: not recorded by any evaluation"


def _edit_seal(root: Path, tenant_id: str) -> str:
    seal = root / "seal.json"
    seal.write_text(seal.read_text().replace('"tool_version": "', '"tool_version": "9', 1))
    return "evaluations/001.json: evaluated a different seal than the run's seal.json"


def _delete_seal(root: Path, tenant_id: str) -> str:
    (root / "seal.json").unlink()
    return "seal.json: run not sealed: its collection did not finish"


@pytest.mark.parametrize("damage", [_manifest_fixed_by_hand, _edit_results, _edit_parquet, _edit_pdf,
                                    _edit_run_score, _add_report, _edit_seal, _delete_seal])
def test_tampering_along_the_chain_is_found_and_named(night: Night, tmp_path: Path,
                                                      damage: Callable[[Path, str], str]) -> None:
    data, config = copy_of(night, tmp_path)
    expected = damage(data / "runs" / night.run_id, night.tenant_id)
    result = verify(config, night.run_id)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"TAMPERED {expected}" in result.stdout.splitlines(), result.stdout


def test_evaluate_refuses_evidence_changed_since_collection(night: Night, tmp_path: Path) -> None:
    data, config = copy_of(night, tmp_path)
    _manifest_fixed_by_hand(data / "runs" / night.run_id, night.tenant_id)
    result = cli("evaluate", "--config", str(config), "--run", night.run_id)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "evidence changed since collection" in result.stdout
    evaluation = json.loads((data / "runs" / night.run_id / "evaluations" / "002.json").read_text())
    results = json.loads((data / "runs" / night.run_id / "evaluations" / "002" / "tenants" / night.tenant_id
                          / "results.json").read_text())
    assert evaluation["tenants"][night.tenant_id]["summary"]["error"].startswith("evidence changed since collection: ")
    assert {r["status"] for r in results["results"]} == {"ERROR"}
    assert all(r["reason"].startswith("evidence changed since collection") for r in results["results"])
    others = [t for t in evaluation["tenants"] if t != night.tenant_id]
    assert others and all("error" not in evaluation["tenants"][t]["summary"] for t in others)
    # The PDF names the evaluation it came from and the seal, and carries no manifest that is not the sealed one.
    from pypdf import PdfReader
    seal_digest = json.loads((data / "runs" / night.run_id / "seal.json").read_text())["digest"]
    pdf = next(p for p in (data / "runs" / night.run_id / "evaluations" / "002" / "reports").glob("*.pdf")
               if night.tenant_id in p.name)
    reader = PdfReader(pdf)
    text = " ".join((page.extract_text() or "") for page in reader.pages)
    assert "Evaluation 002" in " ".join(text.split()) and seal_digest[:16] in text.replace("\n", "")
    assert "manifest.json" not in (reader.attachments or {})


def test_evaluations_are_new_records_and_results_are_byte_reproducible(night: Night, tmp_path: Path) -> None:
    data, config = copy_of(night, tmp_path)
    root = data / "runs" / night.run_id
    nightly = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    for _ in range(2):
        result = cli("evaluate", "--config", str(config), "--run", night.run_id, "--as-of", "2027-01-15")
        assert result.returncode in (0, 1), result.stderr[-2000:]
    assert {p: p.read_bytes() for p in nightly} == nightly          # nothing earlier is overwritten
    second, third = (json.loads((root / "evaluations" / f"{i}.json").read_text()) for i in ("002", "003"))
    assert second["core"]["seal_digest"] == third["core"]["seal_digest"] == json.loads(
        (root / "seal.json").read_text())["digest"]
    assert second["core"]["as_of"] == third["core"]["as_of"] == "2027-01-15T00:00:00+00:00"
    tenants = json.loads((root / "seal.json").read_text())["tenants"]
    customers = [t for t, s in tenants.items() if not s["partner"]]
    assert customers
    for tenant_id in customers:
        a = root / "evaluations" / "002" / "tenants" / tenant_id / "results.json"
        b = root / "evaluations" / "003" / "tenants" / tenant_id / "results.json"
        assert a.read_bytes() == b.read_bytes(), tenant_id
        assert json.loads(a.read_text())["evaluated_at"] == "2027-01-15T00:00:00+00:00"
    shown = cli("runs", "show", "--config", str(config), night.run_id)
    assert shown.returncode == 0, shown.stderr
    lines = [line.split()[0] for line in shown.stdout.splitlines() if line.startswith("  0")]
    assert lines == ["001", "002", "003"], shown.stdout
    assert verify(config, night.run_id).returncode == 0


def test_runs_are_private_by_default(night: Night) -> None:
    import stat
    assert stat.S_IMODE(night.root.stat().st_mode) == 0o700
    for path in night.root.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))


def test_a_resume_removes_what_an_interrupted_write_left(night: Night, tmp_path: Path) -> None:
    data, config = copy_of(night, tmp_path)
    left = data / "runs" / night.run_id / "tenants" / night.tenant_id / "raw" / ".guests.jsonl.k2j3h4.part"
    left.write_bytes(b'{"page": {"value": [')
    result = cli("run", "--config", str(config), "--resume", night.run_id)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert not left.exists()
    assert verify(config, night.run_id).returncode == 0


# --- signatures ------------------------------------------------------------------------------------------------------

def test_signatures_verify_with_the_public_key(night: Night, tmp_path: Path) -> None:
    result = verify(write_config(night.config, night.data, tmp_path / "c.toml"), night.run_id,
                    "--public-key", str(night.public_key))
    assert result.returncode == 0, result.stdout
    assert "signatures valid" in result.stdout


def test_a_wrong_public_key_fails(night: Night, tmp_path: Path) -> None:
    _, other = _key_pair(tmp_path / "other.pem", tmp_path / "other.pub.pem")
    result = cli("verify", "--data-dir", str(night.data), "--run", night.run_id, "--public-key", str(other))
    assert result.returncode == 1, result.stdout
    assert "TAMPERED seal.json.sig: signature does not verify with the public key" in result.stdout
    assert "TAMPERED evaluations/001.json.sig: signature does not verify" in result.stdout


def test_a_modified_seal_fails_its_signature(night: Night, tmp_path: Path) -> None:
    data, config = copy_of(night, tmp_path)
    seal_path = data / "runs" / night.run_id / "seal.json"
    seal = json.loads(seal_path.read_text())
    seal["core"]["collected_at"] = "2026-11-21T02:00:00+00:00"        # an earlier night, consistently re-hashed
    from audit.snapshot.seal import digest
    seal["digest"] = digest(seal["core"])
    seal_path.write_text(json.dumps(seal))
    result = verify(config, night.run_id, "--public-key", str(night.public_key))
    assert result.returncode == 1
    assert "TAMPERED seal.json.sig: signature does not verify with the public key: seal.json was changed, " \
           "or it was signed with another key" in result.stdout.splitlines()


# --- the auditor's bundle --------------------------------------------------------------------------------------------

def test_a_bundle_round_trip_finds_every_flipped_byte(night: Night, tmp_path: Path) -> None:
    import zipfile
    bundle = tmp_path / "bundle.zip"
    customer = json.loads((night.root / "seal.json").read_text())["tenants"][night.tenant_id]["customer"]
    exported = cli("export", "--data-dir", str(night.data), "--run", night.run_id, "--customer", customer,
                   "--out", str(bundle))
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(bundle) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    # One customer only: no other tenant id, no portfolio, no configuration.
    others = [t for t in json.loads((night.root / "seal.json").read_text())["tenants"] if t != night.tenant_id]
    assert others
    for name, blob in members.items():
        assert not any(t in name or t.encode() in blob for t in others), name
    assert not any("portfolio" in n or "findings.csv" in n for n in members)
    assert {"README.txt", "seal.json", "seal.json.sig", "evaluations/001.json", "evaluations/001.json.sig",
            f"tenants/{night.tenant_id}/manifest.json", f"tenants/{night.tenant_id}/results.json"} <= members.keys()
    assert any(n.endswith(".pdf") for n in members) and any(n.endswith(".xlsx") for n in members)
    intact = cli("verify", "--bundle", str(bundle), "--public-key", str(night.public_key))
    assert intact.returncode == 0, intact.stdout
    for name, blob in members.items():
        flipped = tmp_path / "flipped.zip"
        with zipfile.ZipFile(flipped, "w") as z:
            for other, content in members.items():
                if other == name:
                    content = bytearray(content)
                    content[len(content) // 2] ^= 0x01
                z.writestr(other, bytes(content))
        result = cli("verify", "--bundle", str(flipped), "--public-key", str(night.public_key))
        assert result.returncode == 1, (name, result.stdout)
        assert "TAMPERED " in result.stdout and "not a plain file" not in result.stdout, name
        assert "TAMPERED README.txt" in result.stdout if name == "README.txt" else name in result.stdout or \
            name.removesuffix(".sig") in result.stdout or "TAMPERED seal.json" in result.stdout, (name, result.stdout)


def test_a_bundle_with_an_added_file_or_an_unsafe_path_is_tampered(night: Night, tmp_path: Path) -> None:
    import zipfile
    bundle = tmp_path / "bundle.zip"
    assert cli("export", "--data-dir", str(night.data), "--run", night.run_id, "--customer", night.tenant_id,
               "--out", str(bundle)).returncode == 0
    with zipfile.ZipFile(bundle, "a") as z:
        z.writestr("../escape.txt", b"x")
        z.writestr(f"tenants/{night.tenant_id}/raw/extra.jsonl", b"{}\n")
    result = cli("verify", "--bundle", str(bundle))
    assert result.returncode == 1
    assert "TAMPERED ../escape.txt: not a plain file at a safe path, or twice" in result.stdout
    assert f"TAMPERED tenants/{night.tenant_id}/raw/extra.jsonl: raw file not recorded in the manifest" in result.stdout
    assert not (tmp_path / "escape.txt").exists()


def test_export_refuses_a_run_that_does_not_verify(night: Night, tmp_path: Path) -> None:
    data, _ = copy_of(night, tmp_path)
    _edit_raw(data / "runs" / night.run_id, night.tenant_id)
    result = cli("export", "--data-dir", str(data), "--run", night.run_id, "--customer", night.tenant_id,
                 "--out", str(tmp_path / "b.zip"))
    assert result.returncode == 1 and "does not verify" in result.stderr
    assert not (tmp_path / "b.zip").exists()


# --- without the configuration ---------------------------------------------------------------------------------------

def test_runs_show_and_evaluate_need_only_the_data_directory(night: Night, tmp_path: Path) -> None:
    data, _ = copy_of(night, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "MSSP_AUDIT_CONFIG"}
    evaluated = subprocess.run([sys.executable, "-m", "audit", "evaluate", "--data-dir", str(data), "--run",
                                night.run_id, "--customers", night.tenant_id], capture_output=True, text=True,
                               cwd=ROOT, timeout=600, env=env)
    assert evaluated.returncode in (0, 1), evaluated.stderr[-2000:]
    record = json.loads((data / "runs" / night.run_id / "evaluations" / "002.json").read_text())
    assert list(record["tenants"]) == [night.tenant_id]          # --customers among the run's own tenants
    shown = cli("runs", "show", "--data-dir", str(data), night.run_id)
    assert shown.returncode == 0 and "  002  evaluated" in shown.stdout, shown.stdout
    assert cli("verify", "--data-dir", str(data), "--run", night.run_id).returncode == 0


def test_resume_refuses_an_unsealed_run_under_other_collection_settings(night: Night, tmp_path: Path) -> None:
    data, config = copy_of(night, tmp_path)
    (data / "runs" / night.run_id / "seal.json").unlink()          # as if collection had been interrupted
    fewer = night.config.model_copy(update={"customers": night.config.customers[:1]})
    result = cli("run", "--config", str(write_config(fewer, data, tmp_path / "fewer.toml")), "--resume", night.run_id)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"mssp-audit: --resume {night.run_id}: the configuration differs from the one the run started with in "
        "tenants; start a new run for it"]
    assert not (data / "runs" / night.run_id / "seal.json").exists()


def test_runs_show_latest_is_the_most_recently_collected_run(night: Night, tmp_path: Path) -> None:
    data, _ = copy_of(night, tmp_path)
    # An older run whose id sorts after the night's: `latest` goes by collection time, not by name.
    older_id = "29991231T235959Z-ffffff"
    manifest = json.loads((data / "runs" / night.run_id / "run.json").read_text())
    (data / "runs" / older_id).mkdir()
    (data / "runs" / older_id / "run.json").write_text(json.dumps(
        {**manifest, "run_id": older_id, "collected_at": "2020-01-01T00:00:00+00:00", "tenants": {}}))
    latest = cli("runs", "show", "--data-dir", str(data), "latest")
    named = cli("runs", "show", "--data-dir", str(data), night.run_id)
    assert latest.returncode == 0, latest.stderr
    assert latest.stdout.splitlines()[0].startswith(f"Run {night.run_id}: ")
    assert latest.stdout == named.stdout


def test_runs_show_latest_with_no_run_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "data" / "runs").mkdir(parents=True)
    shown = cli("runs", "show", "--data-dir", str(tmp_path / "data"), "latest")
    assert shown.returncode == 2 and shown.stderr.startswith("mssp-audit: no run under "), shown.stderr
