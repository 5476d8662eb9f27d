"""The results ledger (audit/ledger.py) over real runs of the emulator: two runs of one night and a
re-evaluation, rebuilt from disk through the command line, held against what the same evaluation
gives in memory, and verified against the seals its rows cite."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from audit import ledger
from audit.checks import CATALOGUE, Context, evaluate
from audit.config import Config
from audit.demo import demo_config, demo_environment
from audit.history import list_runs
from audit.pipeline import load_tenant
from audit.snapshot.lifecycle import sealed_config
from audit.snapshot.seal import EvaluationRecord, read_seal
from audit.snapshot.store import RunStore, read_json
from tests._cli import cli, write_config

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Estate:
    config: Config
    data: Path
    runs: tuple[str, ...]          # both runs of the night, oldest first; the second evaluated twice


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    out = tmp_path_factory.mktemp("ledger")
    with demo_environment(now=NOW, customers=2, seed=7, include_broken_tenant=False) as env:
        config = demo_config(env.estate, env.server, env.certificate_path, out / "data")
        path = write_config(config, out / "data", out / "c.toml")
        for _ in range(2):
            result = cli("run", "--config", str(path))
            assert result.returncode in (0, 1), result.stderr[-2000:]
    runs = tuple(r.run_id for r in list_runs(out / "data"))
    assert len(runs) == 2 and len({r[:8] for r in runs}) == 1, runs
    result = cli("evaluate", "--config", str(path), "--run", runs[1])
    assert result.returncode in (0, 1), result.stderr[-2000:]
    yield Estate(config, out / "data", runs)


def _copy(estate: Estate, tmp: Path, *, keep_ledger: bool = False) -> tuple[Path, Path]:
    """The estate's data directory; without the ledger its nights wrote, unless `keep_ledger`."""
    data = tmp / "data"
    shutil.copytree(estate.data, data, symlinks=True)
    if not keep_ledger:
        shutil.rmtree(ledger.ledger_dir(data))
    return data, write_config(estate.config, data, tmp / "c.toml")


def _night(data: Path) -> date:
    return next(r.collected_at.date() for r in list_runs(data))


def _in_memory(data: Path, run_id: str, evaluation_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The evaluation's rows built afresh: tables normalised again from the raw evidence, checks run
    again as of the evaluation's time — the way the nightly pipeline holds them in memory."""
    store = RunStore(data, run_id)
    seal = read_seal(store)
    assert seal is not None
    record = EvaluationRecord.from_json(read_json(store.evaluations_dir / f"{evaluation_id}.json"))
    config = sealed_config(seal)
    night = ledger.NightInfo(run_id, evaluation_id, seal.digest, record.digest, record.tool_version,
                             seal.collected_at, record.as_of)
    frames = []
    for customer in config.customers:
        tenant_id = customer.tenant_id.lower()
        tenant = load_tenant(store, config, tenant_id, seal)
        results = evaluate(tenant, Context(now=record.as_of, config=config, customer=customer), CATALOGUE)
        frames.append(ledger.customer_rows(tenant, results, customer, night, config=config))
    return pl.concat([r for r, _ in frames]), pl.concat([i for _, i in frames])


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    keys = [c for c in ("run_id", "evaluation_id", "tenant_id", "check_id", "kind", "item_id") if c in frame.columns]
    return frame.sort(keys)


def test_customer_rows_are_the_contracts_schema(estate: Estate) -> None:
    results, items = _in_memory(estate.data, estate.runs[0], "001")
    assert dict(results.schema) == ledger.RESULTS_SCHEMA
    assert dict(items.schema) == ledger.ITEMS_SCHEMA
    assert set(items["kind"].unique()) == set(ledger.KINDS)
    assert results["tenant_id"].n_unique() == 2 and results["check_id"].null_count() == 0
    # Populations recorded beside statuses: a PASS always states what it examined.
    assert results.filter(pl.col("status") == "PASS")["examined"].null_count() == 0
    # beyond_policy is EM-007's rule, for assignments only: EM-007 fails exactly where one is beyond.
    beyond = items.filter(pl.col("beyond_policy"))
    assert set(beyond["kind"]) <= {"assignment"}
    em007 = dict(results.filter(pl.col("check_id") == "EM-007").select("tenant_id", "status").iter_rows())
    for tenant_id, status in em007.items():
        assert (status == "FAIL") == (tenant_id in set(beyond["tenant_id"])), (tenant_id, status)
    assert items.filter(pl.col("kind") != "assignment")["beyond_policy"].null_count() == items.filter(
        pl.col("kind") != "assignment").height
    # Every detail is a JSON object.
    assert all(isinstance(json.loads(d), dict) for d in items["detail"].drop_nulls())


def test_write_and_read_round_trip(estate: Estate, tmp_path: Path) -> None:
    results, items = _in_memory(estate.data, estate.runs[0], "001")
    night = _info(estate.data, estate.runs[0])
    paths = ledger.write_night(tmp_path, night, results, items)
    assert all(p.is_file() for p in paths) and paths[0].parent.name == night.night.isoformat()
    with pytest.raises(FileExistsError):           # append-only: an evaluation is written once
        ledger.write_night(tmp_path, night, results, items)
    assert_frame_equal(_sorted(ledger.read_results(tmp_path, night.night, night.night)), _sorted(results))
    assert_frame_equal(_sorted(ledger.read_items(tmp_path, night.night, night.night)), _sorted(items))
    one = results["tenant_id"][0]
    only = ledger.read_results(tmp_path, night.night, night.night, tenants=[one.upper()])
    assert only.height and set(only["tenant_id"]) == {one}
    assert set(ledger.read_items(tmp_path, night.night, night.night, tenants=[one])["tenant_id"]) == {one}
    empty = ledger.read_results(tmp_path, night.night + timedelta(days=1), night.night + timedelta(days=9))
    assert empty.height == 0 and dict(empty.schema) == ledger.RESULTS_SCHEMA
    assert dict(ledger.read_items(tmp_path / "none", night.night, night.night).schema) == ledger.ITEMS_SCHEMA


def _info(data: Path, run_id: str, evaluation_id: str = "001") -> ledger.NightInfo:
    store = RunStore(data, run_id)
    seal = read_seal(store)
    assert seal is not None
    record = EvaluationRecord.from_json(read_json(store.evaluations_dir / f"{evaluation_id}.json"))
    return ledger.NightInfo(run_id, evaluation_id, seal.digest, record.digest, record.tool_version,
                            seal.collected_at, record.as_of)


def test_each_evaluation_writes_its_rows_as_built_in_memory(estate: Estate, tmp_path: Path) -> None:
    data, _ = _copy(estate, tmp_path, keep_ledger=True)
    night = _night(data)
    written = ledger.read_results(data, night, night)
    items = ledger.read_items(data, night, night)
    # Both nightly runs and the re-evaluation of the second, each with its own record's digest.
    assert set(written.select("run_id", "evaluation_id").unique().iter_rows()) == {
        (estate.runs[0], "001"), (estate.runs[1], "001"), (estate.runs[1], "002")}
    for run_id, evaluation_id in ((estate.runs[0], "001"), (estate.runs[1], "002")):
        memory_results, memory_items = _in_memory(data, run_id, evaluation_id)
        mine = (pl.col("run_id") == run_id) & (pl.col("evaluation_id") == evaluation_id)
        assert_frame_equal(_sorted(written.filter(mine)), _sorted(memory_results))
        assert_frame_equal(_sorted(items.filter(mine)), _sorted(memory_items))
    assert ledger.verify_ledger(data) == []


def test_rebuild_from_disk_equals_the_rows_built_in_memory(estate: Estate, tmp_path: Path) -> None:
    data, config = _copy(estate, tmp_path)
    result = cli("history", "rebuild", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    night = _night(data)
    stored_results = ledger.read_results(data, night, night)
    stored_items = ledger.read_items(data, night, night)
    for run_id in estate.runs:
        memory_results, memory_items = _in_memory(data, run_id, "001")
        assert_frame_equal(_sorted(stored_results.filter(pl.col("run_id") == run_id)), _sorted(memory_results))
        assert_frame_equal(_sorted(stored_items.filter(pl.col("run_id") == run_id)), _sorted(memory_items))
    # Only nightly evaluations are rebuilt; a second rebuild finds every night there, --force rewrites.
    assert set(stored_results["evaluation_id"]) == {"001"}
    again = cli("history", "rebuild", "--config", str(config))
    assert again.returncode == 0 and " 0 result row(s) written" in again.stdout, again.stdout
    forced = cli("history", "rebuild", "--config", str(config), "--force")
    assert forced.returncode == 0 and f" {stored_results.height} result row(s)" in forced.stdout, forced.stdout


def test_nightly_keeps_the_last_run_of_a_night_and_only_its_own_evaluation(estate: Estate, tmp_path: Path) -> None:
    data, _ = _copy(estate, tmp_path)
    ledger.rebuild(estate.config, data)
    later = RunStore(data, estate.runs[1])
    results, items = ledger.rows_for_evaluation(later, estate.config, "002")   # the re-evaluation
    ledger.write_night(data, _info(data, estate.runs[1], "002"), results, items)
    night = _night(data)
    every = ledger.read_results(data, night, night)
    assert set(every["evaluation_id"]) == {"001", "002"} and every["run_id"].n_unique() == 2
    chosen = ledger.nightly(every)
    assert set(chosen["run_id"]) == {estate.runs[1]} and set(chosen["evaluation_id"]) == {"001"}
    assert chosen.height == every.filter((pl.col("run_id") == estate.runs[1])
                                         & (pl.col("evaluation_id") == "001")).height
    picked_items = ledger.nightly(ledger.read_items(data, night, night))
    assert set(picked_items["run_id"]) == {estate.runs[1]} and set(picked_items["evaluation_id"]) == {"001"}


def test_retention_removes_only_nights_older_than_keep_days(estate: Estate, tmp_path: Path) -> None:
    results, items = _in_memory(estate.data, estate.runs[0], "001")
    base = _info(estate.data, estate.runs[0])
    now = datetime(2027, 3, 1, 12, tzinfo=UTC)
    for back in range(0, 12):
        at = now - timedelta(days=back)
        night = dataclasses.replace(base, run_id=at.strftime("%Y%m%dT%H%M%SZ-") + "abc123", collected_at=at)
        ledger.write_night(tmp_path, night, *(frame.with_columns(night=pl.lit(at.date()), run_id=pl.lit(night.run_id))
                                              for frame in (results, items)))
    (tmp_path / "ledger" / "notes").mkdir()          # not a night: never touched
    removed = ledger.apply_ledger_retention(tmp_path, keep_days=5, now=now)
    assert removed == sorted((now - timedelta(days=back)).date().isoformat() for back in range(6, 12))
    left = sorted(p.name for p in (tmp_path / "ledger").iterdir())
    assert left == sorted([*((now - timedelta(days=back)).date().isoformat() for back in range(0, 6)), "notes"])
    kept = ledger.read_results(tmp_path, date(2027, 1, 1), date(2027, 12, 31))
    assert kept["night"].min() == (now - timedelta(days=5)).date()


def _edit(path: Path, **columns: pl.Expr) -> None:
    pl.read_parquet(path).with_columns(**columns).write_parquet(path)


def test_verify_catches_an_edited_status_and_seal_digest(estate: Estate, tmp_path: Path) -> None:
    data, config = _copy(estate, tmp_path)
    ledger.rebuild(estate.config, data)
    assert ledger.verify_ledger(data) == []
    intact = cli("verify", "--config", str(config), "--run", estate.runs[0])
    assert intact.returncode == 0, intact.stdout + intact.stderr
    night = _night(data)
    results_path = ledger.night_paths(data, _info(data, estate.runs[0]))[0]
    first = pl.read_parquet(results_path).filter(pl.col("status") != "PASS").row(0, named=True)
    _edit(results_path, status=pl.when((pl.col("tenant_id") == first["tenant_id"])
                                       & (pl.col("check_id") == first["check_id"])).then(pl.lit("PASS"))
          .otherwise(pl.col("status")))
    problems = ledger.verify_ledger(data)
    assert len(problems) == 1, problems
    assert results_path.name in problems[0] and first["tenant_id"] in problems[0] and first["check_id"] in problems[0]
    assert f"{first['status']} in the run's results.json" in problems[0]
    result = cli("verify", "--config", str(config), "--run", estate.runs[0])
    assert result.returncode == 1 and first["check_id"] in result.stdout, result.stdout
    assert cli("verify", "--config", str(config), "--ledger").returncode == 1
    # The other run's rows are not this run's concern.
    assert cli("verify", "--config", str(config), "--run", estate.runs[1]).returncode == 0

    items_path = ledger.night_paths(data, _info(data, estate.runs[1]))[1]
    _edit(items_path, seal_digest=pl.lit("0" * 64))
    problems = ledger.verify_ledger(data)
    assert any(items_path.name in p and "seal_digest" in p for p in problems), problems
    assert ledger.read_items(data, night, night).height      # an edited file is still read: verify says so


def test_rows_of_a_pruned_run_are_not_checkable_not_failures(estate: Estate, tmp_path: Path) -> None:
    data, config = _copy(estate, tmp_path)
    ledger.rebuild(estate.config, data)
    shutil.rmtree(data / "runs" / estate.runs[0])
    problems, pruned = ledger.check_ledger(data)
    assert problems == [] and len(pruned) == 2 and all(estate.runs[0] in p for p in pruned)
    result = cli("verify", "--config", str(config), "--ledger")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{estate.runs[0]}.001.results.parquet: {ledger.PRUNED}" in result.stdout


HOSTILE = ["=cmd|' /C calc'!A0", "line\nbreak\r\n", "nul\x00byte", "ünïcödé ✓ 𝔘", "'; DROP TABLE x;--",
           "x" * 20_000, "", "../../etc/passwd", "{\"not\": \"json\""]


def test_hostile_strings_survive_the_round_trip(estate: Estate, tmp_path: Path) -> None:
    results, items = _in_memory(estate.data, estate.runs[0], "001")
    night = _info(estate.data, estate.runs[0])
    n, m = results.height, items.height
    results = results.with_columns(summary=pl.Series([HOSTILE[i % len(HOSTILE)] for i in range(n)]),
                                   customer=pl.lit(HOSTILE[0]), reason=pl.Series([HOSTILE[-i % len(HOSTILE)]
                                                                                  for i in range(n)]))
    items = items.with_columns(name=pl.Series([HOSTILE[i % len(HOSTILE)] for i in range(m)]),
                               detail=pl.lit(json.dumps({"x": HOSTILE})), related=pl.lit(HOSTILE[2]))
    ledger.write_night(tmp_path, night, results, items)
    assert_frame_equal(_sorted(ledger.read_results(tmp_path, night.night, night.night)), _sorted(results))
    assert_frame_equal(_sorted(ledger.read_items(tmp_path, night.night, night.night)), _sorted(items))


def test_a_frame_not_of_the_schema_is_refused(estate: Estate, tmp_path: Path) -> None:
    results, items = _in_memory(estate.data, estate.runs[0], "001")
    with pytest.raises(ValueError, match="schema"):
        ledger.write_night(tmp_path, _info(estate.data, estate.runs[0]), results.drop("reason"), items)
    with pytest.raises(ValueError, match="not a run"):
        ledger.write_night(tmp_path, dataclasses.replace(_info(estate.data, estate.runs[0]), run_id="../x"),
                           results, items)


def test_ledger_days_is_a_retention_key_of_at_least_one(tmp_path: Path) -> None:
    from audit.config import ConfigError, load_config
    text = (Path(__file__).resolve().parents[1] / "config" / "example.toml").read_text()
    assert load_config(_written(tmp_path / "ok.toml", text)).retention.ledger_days == 400
    with pytest.raises(ConfigError) as error:
        load_config(_written(tmp_path / "bad.toml", text.replace("ledger_days = 400", "ledger_days = 0")))
    assert "bad.toml" in str(error.value) and "ledger_days" in str(error.value) and "\n" not in str(error.value)


def _written(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
