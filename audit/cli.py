"""The command line: parse, load the config, call the pipeline, map the outcome to an exit code."""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import logging
import os
import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from audit.config import Config, ConfigError, config_hash, load_config

if TYPE_CHECKING:
    from audit.progress import TenantProgress
    from audit.snapshot.store import RunStore


class Exit(enum.IntEnum):
    """Exit codes, documented in the README; cron and monitoring key on them."""

    OK = 0
    TENANT_ERRORS = 1      # the run finished, but some tenants or resources could not be read
    CONFIG = 2             # bad configuration or command line: nothing was collected
    LOCKED = 3             # another run holds the data directory's lock: this one did nothing
    CRASH = 70             # an unexpected internal error (EX_SOFTWARE)
    STORAGE = 74           # a file could not be written: disk full, quota, file size limit (EX_IOERR)


app = typer.Typer(
    name="mssp-audit",
    help="Audit an MSSP's delegated access into its customers' Microsoft Entra and Defender tenants.\n\n"
         "Start with `mssp-audit demo`: it runs the whole nightly audit against a built-in Graph emulator.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
)

OptionalConfig = Annotated[Path | None, typer.Option("--config", "-c", help="The TOML configuration file.",
                                                    envvar="MSSP_AUDIT_CONFIG")]
DataDirOption = Annotated[Path | None, typer.Option(
    "--data-dir", metavar="DIR", help="The data directory holding runs/; instead of --config (the run's own "
                                      "sealed record is used).")]
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The TOML configuration file.",
                                            envvar="MSSP_AUDIT_CONFIG")]


def _load_config(path: Path) -> Config:
    """The configuration, refused with one line naming the file and the key when it cannot mean
    anything: besides what audit.config checks, attestations and accepted risks must name checks
    of the catalogue."""
    cfg = load_config(path)
    from audit.checks import validate_check_ids   # the catalogue (and polars) only once the file is valid
    try:
        validate_check_ids(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return cfg


def _load_responses(cfg: Config) -> None:
    """The management responses, read and validated once before anything is collected or rendered
    (the view-model gets the same object from audit.responses.responses_for): a bad file is one line
    naming the file and the key, exit 2. Call it before customers are selected."""
    from audit.responses import ResponsesError, responses_for
    try:
        responses_for(cfg)
    except ResponsesError as exc:
        _fail(str(exc))


def _fail(message: str, code: Exit = Exit.CONFIG) -> NoReturn:
    typer.echo(f"mssp-audit: {message}", err=True)
    raise typer.Exit(int(code))


def _fail_logged(message: str, code: Exit) -> NoReturn:
    """A failure of the night itself (not of the command line): logged at error level, so it is one
    JSON line in cron's log like every other line of the night."""
    logging.getLogger("audit.run").error(message)
    raise typer.Exit(int(code))


def _check_data_dir(path: Path, where: str, *, create: bool = True) -> None:
    """A data directory that cannot hold runs is a configuration error (exit 2), found before
    anything is collected, never an internal error halfway through the night."""
    from audit.snapshot.data_dir import DataDirError, prepare_data_dir
    try:
        prepare_data_dir(path, create=create)
    except DataDirError as exc:
        _fail(f"{where}: {exc}")


def _check_group(group: str | None, where: str) -> None:
    if group is None:
        return
    import grp
    try:
        grp.getgrnam(group)
    except KeyError:
        _fail(f"{where}: no group named {group!r} on this machine")


def _run_of(path: Path, data_dir: Path) -> str | None:
    """The run a file belongs to, when that run was started (its run.json exists)."""
    try:
        run_id = path.relative_to(data_dir / "runs").parts[0]
    except (ValueError, IndexError):
        return None
    return run_id if (data_dir / "runs" / run_id / "run.json").exists() else None


def _setup_logging(verbose: bool, quiet: bool = False) -> None:
    from audit.logs import setup_logging
    setup_logging(verbose=verbose, quiet=quiet)


def select_customers(cfg: Config, customers: str | None, shard: str | None) -> Config:
    """`--customers a,b` (names or tenant ids) and `--shard K/N` (a stable split by tenant id)."""
    chosen = list(cfg.customers)
    if customers:
        wanted = {w.strip().lower() for w in customers.split(",") if w.strip()}
        chosen = [c for c in chosen if c.name.lower() in wanted or c.tenant_id.lower() in wanted]
        unknown = wanted - {c.name.lower() for c in chosen} - {c.tenant_id.lower() for c in chosen}
        if unknown:
            _fail(f"--customers: no customer named {', '.join(sorted(unknown))} in the configuration")
    if shard:
        k, n = parse_shard(shard)
        chosen = [c for c in chosen if shard_of(c.tenant_id, n) == k]
    if not chosen:
        _fail("no customer left to audit after --customers/--shard")
    return cfg.model_copy(update={"customers": tuple(chosen)})


SHARD_INDEX_VAR = "JOB_COMPLETION_INDEX"     # set by Kubernetes on each pod of an Indexed Job: 0 … completions-1
SHARD_COUNT_VAR = "MSSP_AUDIT_SHARDS"        # set by the manifest to the Job's completions


def parse_shard(shard: str, environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """`K/N` (1-based), or `auto`: K from JOB_COMPLETION_INDEX (0-based, as Kubernetes numbers the
    pods of an Indexed Job) and N from MSSP_AUDIT_SHARDS. Anything else is one line and exit 2."""
    if shard == "auto":
        env = os.environ if environ is None else environ
        count, index = env.get(SHARD_COUNT_VAR, ""), env.get(SHARD_INDEX_VAR, "")
        if not re.fullmatch(r"[1-9]\d{0,5}", count.strip()):
            _fail(f"--shard auto: {SHARD_COUNT_VAR} must be the number of shards (a whole number ≥ 1), "
                  f"got {count.strip()[:20]!r}" if count.strip() else f"--shard auto: {SHARD_COUNT_VAR} is not set")
        n = int(count)
        if not re.fullmatch(r"\d{1,6}", index.strip()) or int(index) >= n:
            _fail(f"--shard auto: {SHARD_INDEX_VAR} must be 0 … {n - 1} ({SHARD_COUNT_VAR}={n}), "
                  f"got {index.strip()[:20]!r}" if index.strip() else f"--shard auto: {SHARD_INDEX_VAR} is not set")
        return int(index) + 1, n
    match = re.fullmatch(r"(\d+)/(\d+)", shard)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        _fail(f"--shard: '{shard}' is not K/N with 1 ≤ K ≤ N, e.g. 2/4, or auto")
    return int(match[1]), int(match[2])


def shard_of(tenant_id: str, shards: int) -> int:
    """1-based shard of a tenant: the same on every machine and every night."""
    return int(hashlib.sha256(tenant_id.lower().encode()).hexdigest(), 16) % shards + 1


def _parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--as-of: '{value}' is not a date like 2026-12-31 or 2026-12-31T09:00:00")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _state(reachable: bool, reason: str, errors: tuple[str, ...]) -> str:
    """"ok", or why the tenant counts as "with errors" (audit.models.tenant_errors)."""
    if not errors:
        return "ok"
    if not reachable:
        return f"NOT REACHED ({reason})"
    return "with errors: " + "; ".join(errors)


def _score(score: float | None) -> str:
    from audit.render.templates import format_score     # as the PDF and the workbooks print it
    return format_score(score)


def _report(outcome: object, *, quiet: bool = False) -> int:
    from audit.pipeline import RunOutcome
    assert isinstance(outcome, RunOutcome)
    errors = outcome.tenants_in_error
    if quiet:     # still names every tenant in error: the morning's first question is which
        for c in outcome.customers:
            if c.errors:
                typer.echo(f"  {c.name}: {_state(c.reachable, c.reason, c.errors)}")
        typer.echo(f"Run {outcome.run_id}: {len(outcome.customers)} customers, {errors} with errors.")
        return outcome.exit_code
    for c in outcome.customers:
        state = _state(c.reachable, c.reason, c.errors)
        counts = ", ".join(f"{k} {v}" for k, v in c.counts.items() if v)
        typer.echo(f"  {c.name}: score {_score(c.score)}; {counts}; {state}")
        if c.pdf:
            typer.echo(f"      {c.pdf}")
    typer.echo(f"Portfolio workbook: {outcome.portfolio}")
    typer.echo(f"Evidence and reports: {outcome.root}")
    typer.echo(f"Run {outcome.run_id}: {len(outcome.customers)} customers, {errors} with errors.")
    return outcome.exit_code


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where to write the run: evidence snapshot and reports.")]
        = Path("demo-output"),
    customers: Annotated[int, typer.Option(min=1, max=2000, help="How many synthetic customers.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic estate (same seed, same estate).")] = 7,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run the whole audit against the built-in Graph emulator: no tenant needed.

    Starts a local HTTPS Graph emulator with a synthetic MSSP estate (planted problems included),
    collects it with real MSAL and httpx, evaluates every check and writes one PDF and one
    workbook per customer plus the portfolio workbook.
    """
    _setup_logging(verbose)
    _check_data_dir(out, "--out")
    from audit.demo import run_demo
    from audit.responses import ResponsesError
    from audit.snapshot.store import StorageError
    typer.echo(f"Starting the Graph emulator with {customers} synthetic customers…")
    try:
        outcome = run_demo(out.resolve(), customers=customers, seed=seed)
    except StorageError as exc:
        _fail_logged(f"{exc}; free space or choose another --out", Exit.STORAGE)
    except ResponsesError as exc:
        _fail(str(exc))
    _report(outcome)
    typer.echo("Demo complete. Open the PDFs for the auditor's view and portfolio.xlsx for the manager's.")


@app.command()
def run(
    config: ConfigOption,
    resume: Annotated[str | None, typer.Option(metavar="RUN_ID",
                                               help="Finish an interrupted run without re-collecting what is complete.")]
        = None,
    as_of: Annotated[str | None, typer.Option(metavar="DATE",
                                              help="Evaluate as of this date instead of the collection time.")]
        = None,
    customers: Annotated[str | None, typer.Option(metavar="A,B", help="Only these customers (names or tenant ids).")]
        = None,
    shard: Annotated[str | None, typer.Option(metavar="K/N|auto", help=(
        "Only shard K of N (a stable split by tenant id); auto: K from JOB_COMPLETION_INDEX (0-based), "
        "N from MSSP_AUDIT_SHARDS, as in a Kubernetes Indexed Job."))]
        = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="Only errors, the tenants in error and the final line.")] = False,
) -> None:
    """Collect every customer tenant, evaluate the checks, write the reports (the nightly job).

    Exit codes: 0 all tenants evaluated; 1 finished with some tenants or resources unreadable;
    2 configuration error; 3 another run is in progress; 70 internal error; 74 a file could not be
    written (disk full): free space and resume.
    """
    _setup_logging(verbose, quiet)
    try:
        whole = _load_config(config)
        cfg = select_customers(whole, customers, shard)
    except ConfigError as exc:
        _fail(str(exc))
    _load_responses(whole)
    _check_data_dir(cfg.output.data_dir, f"{config}: key 'output.data_dir'")
    _check_group(cfg.output.group, f"{config}: key 'output.group'")
    if cfg.output.signing_key is not None:
        from audit.snapshot.signing import SigningError, load_private_key
        try:
            load_private_key(cfg.output.signing_key)
        except SigningError as exc:
            _fail(f"{config}: key 'output.signing_key': {exc}")
    from audit.deliver.lock import AlreadyRunning, run_lock
    from audit.graph.auth import CredentialError
    from audit.pipeline import RunNotFound, run as run_pipeline
    from audit.snapshot.seal import SealError
    from audit.snapshot.store import StorageError
    try:
        parts = parse_shard(shard) if shard else None
        with run_lock(cfg.output.data_dir, parts), _progress(cfg, quiet) as progress:
            outcome = run_pipeline(cfg, config_sha256=config_hash(config), run_id=resume,
                                   resume=resume is not None, as_of=_parse_as_of(as_of), shard=parts,
                                   on_tenant=progress.tenant_done if progress is not None else None)
    except AlreadyRunning as exc:
        _fail_logged(str(exc), Exit.LOCKED)
    except StorageError as exc:
        run_id = _run_of(exc.path, cfg.output.data_dir)
        _fail_logged(f"{exc}; what was collected is kept: free space, then finish the run with "
                     f"`mssp-audit run --resume {run_id}`" if run_id else f"{exc}; nothing was collected",
                     Exit.STORAGE)
    except (CredentialError, RunNotFound, FileExistsError, SealError) as exc:
        _fail(f"{config}: {exc}" if isinstance(exc, CredentialError) else str(exc))
    raise typer.Exit(_report(outcome, quiet=quiet))


@app.command()
def merge(
    config: ConfigOption,
    runs: Annotated[str | None, typer.Option(metavar="R1,R2,…", help=(
        "The shard runs to merge (default: the newest night's: the shard runs of one shard count "
        "collected within 12 hours of the newest)."))] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="Only errors, the tenants in error and the final line.")] = False,
) -> None:
    """The last step of a night run in shards: one portfolio workbook, summary.json, findings CSV and
    metrics from the night's shard runs (`run --shard K/N` or `--shard auto`), under
    <data_dir>/nights/<id>/, without collecting or evaluating anything again.

    Exit codes: 0 every shard finished and every tenant was evaluated; 1 a shard did not finish (it is
    named, with its customers) or some tenants are in error; 2 configuration error or no shard runs;
    3 a run or a shard is still using the data directory; 74 a file could not be written.
    """
    _setup_logging(False, quiet)
    try:
        cfg = _load_config(config)
    except ConfigError as exc:
        _fail(str(exc))
    _check_data_dir(cfg.output.data_dir, f"{config}: key 'output.data_dir'", create=False)
    from audit.deliver.lock import AlreadyRunning, run_lock
    from audit.merge import MergeError, merge_night, named_runs, newest_night
    from audit.snapshot.store import StorageError, private_files
    try:
        with run_lock(cfg.output.data_dir), private_files(cfg.output.group):
            chosen = named_runs(cfg.output.data_dir, [r.strip() for r in runs.split(",") if r.strip()]) if runs \
                else newest_night(cfg.output.data_dir)
            outcome, summary = merge_night(cfg, chosen)
            _retention(cfg)          # a shard run leaves retention to the night's merge
    except AlreadyRunning as exc:
        _fail_logged(str(exc), Exit.LOCKED)
    except MergeError as exc:
        _fail(str(exc))
    except StorageError as exc:
        _fail_logged(f"{exc}; the shard runs are untouched: free space, then merge again", Exit.STORAGE)
    _report(outcome, quiet=quiet)
    for shard in summary["failed_shards"]:      # type: ignore[union-attr]
        typer.echo(f"  shard {shard} did not finish: its customers are not in tonight's results")
    raise typer.Exit(int(summary["exit_code"]))    # type: ignore[call-overload]


def _retention(cfg: Config) -> None:
    """Old runs ([retention] keep_runs, keep_days; with N shards a night is N runs) and old ledger nights."""
    from datetime import UTC, datetime

    from audit.history import apply_retention
    from audit.pipeline import apply_ledger_retention
    now = datetime.now(UTC)
    removed = apply_retention(cfg.output.data_dir, keep_runs=cfg.retention.keep_runs,
                              keep_days=cfg.retention.keep_days, now=now)
    if removed:
        logging.getLogger("audit.retention").info("retention removed %d old run(s): %s", len(removed),
                                                  ", ".join(removed))
    apply_ledger_retention(cfg, now)


@contextlib.contextmanager
def _progress(cfg: Config, quiet: bool) -> Iterator[TenantProgress | None]:
    """A live progress line on a terminal; nothing when cron or a pipe is listening."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from audit.progress import TenantProgress
    total = len(cfg.customers) + (1 if cfg.mssp.partner_tenant_id else 0)
    with TenantProgress(total, cfg.collect.tenant_concurrency) as progress:
        yield progress


def _parse_night(value: str, option: str) -> date:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    _fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)")


@app.command()
def period(
    config: ConfigOption,
    first: Annotated[str, typer.Option("--from", metavar="YYYY-MM-DD", help="The period's first night (UTC date).")],
    last: Annotated[str, typer.Option("--to", metavar="YYYY-MM-DD", help="The period's last night, inclusive.")],
    customers: Annotated[str | None, typer.Option(metavar="A,B", help="Only these customers (names or tenant ids).")]
        = None,
    out: Annotated[Path | None, typer.Option(metavar="DIR", help=(
        "Where to write (default: <data_dir>/period/<from>_<to>/)."))] = None,
) -> None:
    """The auditor's period report: per customer a PDF and a workbook, and a portfolio workbook, saying
    for every night from --from to --to whether each control operated, its exceptions and how they
    ended, the nights without a run, the populations to sample from, responses and a sign-off page.

    Read from the results ledger. Exit codes: 0 written; 2 configuration or command-line error
    (unknown customer, --to before --from, bad responses file); 74 a file could not be written.
    """
    _setup_logging(False, True)
    try:
        cfg = _load_config(config)
    except ConfigError as exc:
        _fail(str(exc))
    start, end = _parse_night(first, "--from"), _parse_night(last, "--to")
    if end < start:
        _fail(f"--to {end} is before --from {start}")
    cfg = select_customers(cfg, customers, None)
    from audit.period import source
    from audit.period.compute import compute
    from audit.period.outputs import default_out, write_period
    from audit.snapshot.store import StorageError
    try:
        responses = source.responses(cfg)
    except ValueError as exc:          # audit.responses.ResponsesError: one line naming the file and key
        _fail(str(exc))
    tenants = [c.tenant_id.lower() for c in cfg.customers]
    results, items = source.load(cfg.output.data_dir, start, end, tenants)
    report = compute(results, items, start, end, cfg.customers, responses)
    target = out or default_out(cfg.output.data_dir, report)
    try:
        files = write_period(report, target, cfg.output.group)
    except StorageError as exc:
        _fail(str(exc), Exit.STORAGE)
    typer.echo(f"Period {start} to {end}: {len(files.pdfs)} customer reports and {files.portfolio.name} in {target}")


@app.command()
def evaluate(
    run_id: Annotated[str, typer.Option("--run", metavar="RUN_ID", help="The stored run to evaluate again.")],
    config: OptionalConfig = None,
    data_dir: DataDirOption = None,
    as_of: Annotated[str | None, typer.Option(help="Evaluate as of this date (a what-if).")] = None,
    customers: Annotated[str | None, typer.Option(metavar="A,B", help="Only these customers (names or tenant ids).")]
        = None,
) -> None:
    """Evaluate a stored run again, offline, from its evidence alone, as a new evaluation record.

    Every evidence file is re-hashed first: a tenant whose evidence changed since collection is
    ERROR "evidence changed since collection" (exit 1), never a result. Nothing earlier is
    overwritten: the reports go under the run's evaluations/<id>/. With --data-dir and no --config,
    the configuration sealed with the run is used.
    """
    _setup_logging(False)
    root, cfg = _where(config, data_dir)
    _check_data_dir(root, f"{config}: key 'output.data_dir'" if cfg is not None and data_dir is None else "--data-dir",
                    create=False)
    from audit.deliver.lock import AlreadyRunning, run_lock
    from audit.pipeline import RunNotFound, evaluate_and_render
    from audit.snapshot.lifecycle import sealed_config
    from audit.snapshot.seal import SealError, read_seal
    from audit.snapshot.store import StorageError
    store = _stored_run(root, run_id)
    try:
        if cfg is None:
            seal = read_seal(store)
            if seal is None:
                raise SealError(f"run {run_id} is not sealed: its collection did not finish")
            sealed = sealed_config(seal)
            cfg = sealed.model_copy(update={"output": sealed.output.model_copy(update={"data_dir": root})})
        _load_responses(cfg)            # the file the configuration names now: responses are not sealed
        with run_lock(root):
            outcome = evaluate_and_render(cfg, store, as_of=_parse_as_of(as_of),
                                          only=_chosen_tenants(store, customers))
    except AlreadyRunning as exc:
        _fail_logged(str(exc), Exit.LOCKED)
    except (RunNotFound, SealError) as exc:
        _fail(str(exc))
    except StorageError as exc:
        _fail_logged(f"{exc}; the run's evidence is untouched: free space, then evaluate it again", Exit.STORAGE)
    code = _report(outcome)
    typer.echo(f"Evaluation {outcome.evaluation} of run {outcome.run_id}: {outcome.outputs}")
    raise typer.Exit(code)


def _where(config: Path | None, data_dir: Path | None) -> tuple[Path, Config | None]:
    """The data directory, from --data-dir, else from the configuration (also returned)."""
    if data_dir is not None:
        return data_dir, None
    if config is None:
        _fail("give --config or --data-dir")
    cfg = _config_or_fail(config)
    return cfg.output.data_dir, cfg


def _chosen_tenants(store: RunStore, customers: str | None) -> set[str] | None:
    """`--customers a,b` among the run's own tenants (names or tenant ids, as the seal records them)."""
    if not customers:
        return None
    from audit.snapshot.seal import SealError, read_seal
    try:
        seal = read_seal(store)
    except SealError as exc:
        _fail(str(exc))
    run_customers = seal.customers if seal is not None else {}
    wanted = {w.strip().lower() for w in customers.split(",") if w.strip()}
    chosen = {t for t, name in run_customers.items() if t in wanted or name.lower() in wanted}
    unknown = wanted - chosen - {run_customers[t].lower() for t in chosen}
    if unknown:
        _fail(f"--customers: no customer named {', '.join(sorted(unknown))} in run {store.run_id}")
    return chosen


@app.command()
def verify(
    run_id: Annotated[str | None, typer.Option("--run", metavar="RUN_ID", help="The stored run to verify.")] = None,
    config: OptionalConfig = None,
    data_dir: DataDirOption = None,
    bundle: Annotated[Path | None, typer.Option(metavar="ZIP", help="An auditor's bundle (mssp-audit export) "
                                                                    "instead of a run: no configuration needed.")]
        = None,
    public_key: Annotated[Path | None, typer.Option(metavar="PEM", help="The MSSP's Ed25519 public key: the seal "
                                                                        "and evaluation records must be signed.")]
        = None,
    ledger: Annotated[bool, typer.Option("--ledger", help="Verify the whole results ledger of the data "
                                                          "directory against the runs still stored.")] = False,
) -> None:
    """Re-hash a stored run, or an auditor's bundle, along its chain of hashes.

    The chain: raw pages, tenant manifests, seal, evaluation records, normalised tables, results,
    reports (docs/results.md).

    The results ledger's rows of the run (or all its rows whose run is still stored) are held
    against the seal, evaluation record and results they cite; rows whose run retention removed
    are listed as not checkable, not as a problem.

    Exit codes: 0 intact; 1 tampered or incomplete (each file named with what is wrong); 2 no such
    run or bundle, RUN_ID is not a run id, or an unusable public key.
    """
    from audit.snapshot.signing import SigningError, load_public_key
    try:
        key = load_public_key(public_key) if public_key is not None else None
    except SigningError as exc:
        _fail(f"--public-key: {exc}")
    if bundle is not None:
        from audit.snapshot.bundle import verify_bundle
        if not bundle.is_file():
            _fail(f"--bundle: no file {bundle}")
        checked, problems = verify_bundle(bundle, key)
        subject = f"Bundle {bundle.name}"
    else:
        if run_id is None and not ledger:
            _fail("give --run RUN_ID, --ledger or --bundle ZIP")
        from audit.snapshot.verify import Finding, verify_run
        root, _ = _where(config, data_dir)
        checked, problems = verify_run(_stored_run(root, run_id), key) if run_id is not None else (0, [])
        problems = problems + [Finding(*p.split(": ", 1)) for p in _ledger_problems(root, run_id)]
        subject = f"Run {run_id}" if run_id is not None else f"Ledger of {root}"
    for problem in problems:
        typer.echo(f"TAMPERED {problem.path}: {problem.problem}")
    if problems:
        typer.echo(f"{subject}: {len(problems)} problem(s) in {checked} file(s) checked.")
        raise typer.Exit(1)
    signed = ", signatures valid" if key is not None else ""
    typer.echo(f"{subject}: intact ({checked} files re-hashed{signed}).")


def _ledger_problems(data_dir: Path, run_id: str | None) -> list[str]:
    """The ledger's mismatches with the run(s) it cites; files whose run is gone are only listed."""
    from audit.ledger import PRUNED, check_ledger
    problems, pruned = check_ledger(data_dir, None if run_id is None else {run_id})
    for name in pruned:
        typer.echo(f"info: {name}: {PRUNED}")
    return problems


@app.command()
def export(
    run_id: Annotated[str, typer.Option("--run", metavar="RUN_ID", help="The stored run.")],
    customer: Annotated[str, typer.Option(metavar="NAME", help="The customer (name or tenant id).")],
    out: Annotated[Path, typer.Option(metavar="ZIP", help="The bundle to write, e.g. bundle.zip.")],
    config: OptionalConfig = None,
    data_dir: DataDirOption = None,
    evaluation: Annotated[str | None, typer.Option(metavar="ID", help="Which evaluation (default: the latest).")]
        = None,
) -> None:
    """Write one customer's auditor bundle (a zip that verifies with no configuration).

    It holds the PDF, workbook, results, tables, raw evidence, manifest, the seal and evaluation
    record reduced to this customer, signatures, and a README. Another customer's data is never in
    it. The run must verify first (exit 1 when it does not).
    """
    from audit.snapshot.bundle import ExportError, RunTampered, export_bundle
    from audit.snapshot.seal import SealError, read_seal
    from audit.snapshot.store import StorageError
    root, _ = _where(config, data_dir)
    store = _stored_run(root, run_id)
    try:
        seal = read_seal(store)
        customers = seal.customers if seal is not None else {}
        wanted = customer.strip().lower()
        tenant_id = next((t for t, name in customers.items() if wanted in (t, name.lower())), None)
        if tenant_id is None:
            _fail(f"--customer: no customer {customer} in run {run_id}")
        members = export_bundle(store, tenant_id, out, evaluation)
    except (ExportError, SealError) as exc:
        _fail(str(exc), Exit.TENANT_ERRORS if isinstance(exc, RunTampered) else Exit.CONFIG)
    except StorageError as exc:
        _fail(str(exc), Exit.STORAGE)
    typer.echo(f"Bundle of {customers[tenant_id]} ({tenant_id}), run {run_id}: {out} ({len(members)} files).")


def _stored_run(data_dir: Path, run_id: str) -> RunStore:
    """The run RUN_ID under the data directory; exit 2 when the id is not a run id (never a path)
    or no such run was started."""
    from audit.snapshot.store import RunStore, is_run_id
    if not is_run_id(run_id):
        _fail(f"no run {run_id}: not a run id (they look like 20261122T020000Z-1a2b3c)")
    store = RunStore(data_dir, run_id)
    if not store.root.is_dir():
        _fail(f"no run {run_id} under {data_dir / 'runs'}")
    return store


@app.command()
def permissions(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Print consent URLs for these customers.",
                                                envvar="MSSP_AUDIT_CONFIG")] = None,
) -> None:
    """Print the Graph application permissions the app needs and each customer's admin-consent URL."""
    from audit.checks.app_permissions import opted_in, required_permissions
    from audit.resources import opt_in_flags
    cfg = None
    if config is not None:
        try:
            cfg = _load_config(config)
        except ConfigError as exc:
            _fail(str(exc))
    # With a configuration, what its [expectations] opt in to is needed too; without one, listed apart.
    chosen = opted_in(cfg.expectations) if cfg is not None else ()
    base = set(required_permissions())
    typer.echo("Microsoft Graph application permissions (read-only) — in every customer tenant:")
    for permission in required_permissions(opted_in=chosen):
        typer.echo(f"  {permission}")
    for flag in opt_in_flags():
        extra = sorted(set(required_permissions(opted_in=(flag,))) - base)
        if flag not in chosen and extra:
            typer.echo(f"  (with [expectations] {flag} = true, also: {', '.join(extra)})")
    typer.echo("In the MSSP partner tenant only (GDAP relationships):")
    for permission in required_permissions(partner=True, opted_in=chosen):
        typer.echo(f"  {permission}")
    if cfg is None:
        typer.echo("Pass --config to print each customer's admin-consent URL.")
        return
    typer.echo("Admin-consent URLs (a Global Administrator of each tenant opens one):")
    for customer in cfg.customers:
        typer.echo(f"  {customer.name}: {cfg.cloud.authority}/{customer.tenant_id}/adminconsent"
                   f"?client_id={cfg.app.client_id}")
    if cfg.mssp.partner_tenant_id:
        typer.echo(f"  MSSP partner tenant: {cfg.cloud.authority}/{cfg.mssp.partner_tenant_id}/adminconsent"
                   f"?client_id={cfg.app.client_id}")


cert_app = typer.Typer(help="The app registration's certificate.", no_args_is_help=True)
app.add_typer(cert_app, name="cert")


@cert_app.command("new")
def cert_new(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Directory for mssp-audit.key (kept here, "
                                                                "mode 0600) and mssp-audit.crt (uploaded).")],
    name: Annotated[str, typer.Option("--name", help="The certificate's common name.")] = "mssp-audit",
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="How many days it is valid.")] = 730,
) -> None:
    """Make a self-signed certificate for the app registration and print what to upload."""
    from audit.graph.certificate import new_certificate
    try:
        made = new_certificate(out.absolute(), common_name=name, days=days)
    except FileExistsError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{out}: cannot write the certificate ({exc.strerror})", Exit.STORAGE)
    typer.echo(f"Private key:  {made.key_path}  (stays on this machine; readable by the audit account only)")
    typer.echo(f"Certificate:  {made.certificate_path}")
    typer.echo(f"Thumbprint:   {made.thumbprint}  (SHA-1; the portal shows it after the upload)")
    typer.echo(f"Valid:        {made.not_before:%Y-%m-%d} to {made.not_after:%Y-%m-%d} UTC")
    typer.echo("")
    typer.echo(f"Upload {made.certificate_path.name} to the app registration: Entra admin center > App "
               "registrations > the app > Certificates & secrets > Certificates > Upload certificate.")
    typer.echo("Then put in the [app] section of the configuration:")
    typer.echo(f'  certificate_path = "{made.certificate_path}"')
    typer.echo(f'  private_key_path = "{made.key_path}"')


runs_app = typer.Typer(help="The history of runs kept under the data directory.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


def _config_or_fail(config: Path) -> Config:
    try:
        return _load_config(config)
    except ConfigError as exc:
        _fail(str(exc))


history_app = typer.Typer(help="The results ledger: every night's results and populations, kept for "
                               "[retention] ledger_days.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(history_app, name="history")


@history_app.command("rebuild")
def history_rebuild(
    config: ConfigOption,
    force: Annotated[bool, typer.Option("--force", help="Rewrite nights already in the ledger.")] = False,
) -> None:
    """Rebuild the results ledger from the runs still stored: each run's nightly evaluation, from
    what it wrote (results, normalised tables, seal, evaluation record). Nothing is collected or
    evaluated again. Nights already in the ledger are left alone unless forced.

    Exit codes: 0 rebuilt; 2 bad configuration; 3 another run holds the data directory's lock;
    74 a ledger file could not be written.
    """
    _setup_logging(False)
    cfg = _config_or_fail(config)
    root = cfg.output.data_dir
    _check_data_dir(root, f"{config}: key 'output.data_dir'", create=False)
    from audit.deliver.lock import AlreadyRunning, run_lock
    from audit.ledger import ledger_dir, rebuild
    try:
        with run_lock(root):
            written = rebuild(cfg, root, force=force)
    except AlreadyRunning as exc:
        _fail_logged(str(exc), Exit.LOCKED)
    except OSError as exc:
        _fail_logged(f"{ledger_dir(root)}: {exc.strerror or exc}; free space, then rebuild again", Exit.STORAGE)
    typer.echo(f"Ledger {ledger_dir(root)}: {written} result row(s) written.")


@runs_app.command("list")
def runs_list(config: OptionalConfig = None, data_dir: DataDirOption = None) -> None:
    """Every stored run, oldest first: id, status, collection time, tenants."""
    from audit.history import list_runs
    root, _ = _where(config, data_dir)
    entries = list_runs(root)
    if not entries:
        typer.echo(f"No runs under {root / 'runs'}.")
    for entry in entries:
        typer.echo(f"{entry.run_id}  {entry.status:<10}  {entry.collected_at:%Y-%m-%d %H:%M} UTC  "
                   f"{len(entry.tenants)} tenant(s)")


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument(
                  metavar="RUN", help="A run id (e.g. 20261122T020000Z-1a2b3c), or `latest` for the most recently "
                                      "collected run.")],
              config: OptionalConfig = None, data_dir: DataDirOption = None) -> None:
    """One run: per customer its score, counts and where its reports are, then its seal and every
    evaluation of it."""
    from audit.snapshot.seal import SealError, read_evaluations, read_seal
    from audit.snapshot.store import read_json
    root, _ = _where(config, data_dir)
    if run_id == "latest":
        from audit.history import list_runs
        entries = list_runs(root)      # ordered by collection time, then id: the last is the latest
        if not entries:
            _fail(f"no run under {root / 'runs'} yet: `latest` names none")
        run_id = entries[-1].run_id
    store = _stored_run(root, run_id)
    from audit.models import Status, tenant_errors
    try:
        manifest = read_json(store.run_manifest_path)
    except (OSError, ValueError) as exc:
        _fail(f"run {run_id}: run.json is unreadable ({type(exc).__name__}); `mssp-audit verify` says more")
    typer.echo(f"Run {run_id}: {manifest.get('status')}, collected {manifest.get('collected_at')}, "
               f"tool {manifest.get('tool_version')}")
    tenants = manifest.get("tenants") or {}
    in_error = 0
    for tenant_id, info in tenants.items():
        counts = info.get("counts") or {}
        reachable, reason = bool(info.get("reachable")), info.get("reason") or ""
        errors = tenant_errors(reachable=reachable, reason=reason, failure=info.get("error") or "",
                               error_results=counts.get(Status.ERROR.value, 0), unread=info.get("unread") or ())
        in_error += bool(errors)
        shown = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        typer.echo(f"  {info.get('customer')} ({tenant_id}): score {_score(info.get('score'))}; {shown}; "
                   + _state(reachable, reason, errors))
    if tenants:
        typer.echo(f"Run {run_id}: {len(tenants)} customers, {in_error} with errors.")
    try:
        seal = read_seal(store)
    except SealError as exc:
        seal = None
        typer.echo(f"Seal: {exc}")
    if seal is not None:
        typer.echo(f"Seal: sealed {seal.sealed_at:%Y-%m-%d %H:%M:%S} UTC, {len(seal.tenants)} tenant manifest(s), "
                   f"tool {seal.tool_version}")
    elif store.seal_path.exists() is False:
        typer.echo("Seal: none (collection did not finish)")
    evaluations = read_evaluations(store)
    typer.echo(f"Evaluations: {len(evaluations)}")
    for record in evaluations:
        shown_in_run = " (shown above)" if record.evaluation_id == manifest.get("evaluation") else ""
        typer.echo(f"  {record.evaluation_id}  evaluated {record.evaluated_at:%Y-%m-%d %H:%M:%S} UTC  as of "
                   f"{record.as_of:%Y-%m-%d %H:%M} UTC  tool {record.tool_version}  {len(record.files)} file(s)  "
                   f"in {record.outputs}{shown_in_run}")


@runs_app.command("diff")
def runs_diff(run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="The earlier run id.")],
              run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="The later run id.")], config: OptionalConfig = None,
              data_dir: DataDirOption = None) -> None:
    """What changed per customer from RUN_A to RUN_B: guests, assignments, settings, check results, and
    what either run could not observe."""
    from audit.history import compute_drift
    from audit.snapshot.seal import SealError, read_seal
    root, cfg = _where(config, data_dir)
    a, b = _stored_run(root, run_a), _stored_run(root, run_b)
    try:
        seal = read_seal(b)
    except SealError:
        seal = None
    # The customers RUN_B collected, as its seal names them; the configuration's for an unsealed run.
    customers = list(seal.customers.items()) if seal is not None else \
        [(c.tenant_id.lower(), c.name) for c in (cfg.customers if cfg is not None else ())]
    for tenant_id, name in customers:
        drift = compute_drift(a.root, b.root, tenant_id, run_a)
        # "row", not "change": a finding still open, or what a run did not observe, is no change.
        typer.echo(f"{name} ({tenant_id}): {len(drift.changes)} row(s)")
        for change in drift.changes:        # every row counted is printed
            typer.echo(f"  {change.kind:<22} {change.subject}  {change.detail}".rstrip())


class Format(enum.StrEnum):
    table = "table"
    markdown = "markdown"
    json = "json"


@app.command()
def checks(fmt: Annotated[Format, typer.Option("--format", "-f", help="table, markdown or json.")] = Format.table,
           ) -> None:
    """List the check catalogue: ids, severities, requirements, references."""
    from audit.checks.catalogue_docs import catalogue_json, catalogue_markdown, catalogue_table
    if fmt is Format.json:
        typer.echo(json.dumps(catalogue_json(), indent=2))
    elif fmt is Format.markdown:
        typer.echo(catalogue_markdown())
    else:
        catalogue_table()


class DoctorFormat(enum.StrEnum):
    table = "table"
    json = "json"


@app.command()
def doctor(
    config: ConfigOption,
    customers: Annotated[str | None, typer.Option(metavar="A,B", help="Only these customers (names or tenant ids).")]
        = None,
    fmt: Annotated[DoctorFormat, typer.Option("--format", "-f", help="table or json.")] = DoctorFormat.table,
) -> None:
    """Check every tenant before the first night: token, each required permission, licences; and the
    management responses file, when one is configured.

    Read-only (GET only), all tenants in parallel. Exit codes: 0 every tenant ready; 1 some tenant
    not ready (its admin-consent URL is printed when consent fixes it) or the responses file is not
    valid (its line names the key); 2 configuration error.
    """
    import asyncio
    _setup_logging(False, quiet=True)
    from audit.doctor import diagnose, file_checks, render_json, render_table
    try:
        cfg = _load_config(config)
        checks = file_checks(cfg)               # the whole configuration: responses may name any customer
        if customers:
            cfg = select_customers(cfg, customers, None)
    except ConfigError as exc:
        _fail(str(exc))
    from audit.graph.auth import CredentialError, app_credential
    try:
        credential = app_credential(cfg)
    except CredentialError as exc:
        _fail(f"{config}: {exc}")
    reports = asyncio.run(diagnose(cfg, credential))
    if fmt is DoctorFormat.json:
        typer.echo(json.dumps(render_json(cfg, reports, checks), indent=2))
    else:
        typer.echo(render_table(cfg, reports, checks))
    raise typer.Exit(0 if all(r.ready for r in reports) and all(c.ok for c in checks) else 1)


def _version(value: bool) -> None:
    if value:
        from audit.pipeline import tool_version
        typer.echo(f"mssp-audit {tool_version()}")
        raise typer.Exit(0)


@app.callback()
def _top(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                              help="Print the installed version and exit.")] = False) -> None:
    """Audit an MSSP's delegated access into its customers' Microsoft Entra and Defender tenants."""


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("mssp-audit: interrupted; resume with `mssp-audit run --resume RUN_ID`", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # the last line of defence: one line, no traceback with secrets
        logging.getLogger("audit").debug("crash", exc_info=True)
        typer.echo(f"mssp-audit: internal error: {type(exc).__name__}: {exc} (run with -v for details)", err=True)
        sys.exit(int(Exit.CRASH))
