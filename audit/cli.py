"""The command line: parse, load the config, call the pipeline, map the outcome to an exit code."""

from __future__ import annotations

import enum
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from audit.config import ConfigError, config_hash, load_config


class Exit(enum.IntEnum):
    """Exit codes, documented in the README; cron and monitoring key on them."""

    OK = 0
    TENANT_ERRORS = 1      # the run finished, but some tenants or resources could not be read
    CONFIG = 2             # bad configuration or command line: nothing was collected
    CRASH = 70             # an unexpected internal error (EX_SOFTWARE)


app = typer.Typer(
    name="mssp-audit",
    help="Audit an MSSP's delegated access into its customers' Microsoft Entra and Defender tenants.\n\n"
         "Start with `mssp-audit demo`: it runs the whole nightly audit against a built-in Graph emulator.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The TOML configuration file.",
                                            envvar="MSSP_AUDIT_CONFIG")]


def _fail(message: str, code: Exit = Exit.CONFIG) -> NoReturn:
    typer.echo(f"mssp-audit: {message}", err=True)
    raise typer.Exit(int(code))


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "msal", "urllib3", "fontTools", "weasyprint", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--as-of: '{value}' is not a date like 2026-12-31 or 2026-12-31T09:00:00")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _report(outcome: object) -> int:
    from audit.pipeline import RunOutcome
    assert isinstance(outcome, RunOutcome)
    for c in outcome.customers:
        state = "ok" if c.reachable else f"NOT REACHED ({c.reason})"
        score = "n/a" if c.score is None else f"{c.score:.0f}"
        counts = ", ".join(f"{k} {v}" for k, v in c.counts.items() if v)
        typer.echo(f"  {c.name}: score {score}; {counts}; {state}")
        if c.pdf:
            typer.echo(f"      {c.pdf}")
    typer.echo(f"Portfolio workbook: {outcome.portfolio}")
    typer.echo(f"Evidence and reports: {outcome.root}")
    errors = outcome.tenants_in_error
    typer.echo(f"Run {outcome.run_id}: {len(outcome.customers)} customers, {errors} with errors.")
    return int(Exit.TENANT_ERRORS if errors else Exit.OK)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where to write the run: evidence snapshot and reports.")]
        = Path("demo-output"),
    customers: Annotated[int, typer.Option(min=1, max=2000, help="How many synthetic customers.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic estate (same seed, same estate).")] = 7,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the whole audit against the built-in Graph emulator: no tenant needed.

    Starts a local HTTPS Graph emulator with a synthetic MSSP estate (planted problems included),
    collects it with real MSAL and httpx, evaluates every check and writes one PDF and one
    workbook per customer plus the portfolio workbook.
    """
    _setup_logging(verbose)
    from audit.demo import run_demo
    typer.echo(f"Starting the Graph emulator with {customers} synthetic customers…")
    outcome = run_demo(out.resolve(), customers=customers, seed=seed)
    _report(outcome)
    typer.echo("Demo complete. Open the PDFs for the auditor's view and portfolio.xlsx for the manager's.")


@app.command()
def run(
    config: ConfigOption,
    resume: Annotated[str | None, typer.Option(metavar="RUN_ID",
                                               help="Finish an interrupted run without re-collecting what is complete.")]
        = None,
    as_of: Annotated[str | None, typer.Option(help="Evaluate as of this date instead of the collection time.")]
        = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Collect every customer tenant, evaluate the checks, write the reports (the nightly job)."""
    _setup_logging(verbose)
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        _fail(str(exc))
    from audit.graph.auth import CredentialError
    from audit.pipeline import RunNotFound, run as run_pipeline
    try:
        outcome = run_pipeline(cfg, config_sha256=config_hash(config), run_id=resume, resume=resume is not None,
                               as_of=_parse_as_of(as_of))
    except (CredentialError, RunNotFound, FileExistsError) as exc:
        _fail(f"{config}: {exc}" if isinstance(exc, CredentialError) else str(exc))
    raise typer.Exit(_report(outcome))


@app.command()
def evaluate(
    config: ConfigOption,
    run_id: Annotated[str, typer.Option("--run", metavar="RUN_ID", help="The stored run to evaluate again.")],
    as_of: Annotated[str | None, typer.Option(help="Evaluate as of this date (a what-if).")] = None,
) -> None:
    """Re-evaluate and re-render a stored run offline, from its evidence alone."""
    _setup_logging(False)
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        _fail(str(exc))
    from audit.pipeline import RunNotFound, evaluate_and_render
    from audit.snapshot.store import RunStore
    store = RunStore(cfg.output.data_dir, run_id)
    if not store.run_manifest_path.exists():
        _fail(f"no run {run_id} under {cfg.output.data_dir / 'runs'}")
    try:
        outcome = evaluate_and_render(cfg, store, as_of=_parse_as_of(as_of))
    except RunNotFound as exc:
        _fail(str(exc))
    raise typer.Exit(_report(outcome))


@app.command()
def verify(
    config: ConfigOption,
    run_id: Annotated[str, typer.Option("--run", metavar="RUN_ID", help="The stored run to verify.")],
) -> None:
    """Re-hash a stored run's evidence and report anything changed since it was collected (exit 1)."""
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        _fail(str(exc))
    from audit.snapshot.store import RunStore
    from audit.snapshot.verify import verify_run
    store = RunStore(cfg.output.data_dir, run_id)
    checked, problems = verify_run(store)
    for problem in problems:
        typer.echo(f"TAMPERED {problem.path}: {problem.problem}")
    if problems:
        typer.echo(f"Run {run_id}: {len(problems)} problem(s) in {checked} file(s) checked.")
        raise typer.Exit(1)
    typer.echo(f"Run {run_id}: intact ({checked} files re-hashed).")


@app.command()
def permissions(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Print consent URLs for these customers.",
                                                envvar="MSSP_AUDIT_CONFIG")] = None,
) -> None:
    """Print the Graph application permissions the app needs and each customer's admin-consent URL."""
    from audit.checks.app_permissions import required_permissions
    typer.echo("Microsoft Graph application permissions (read-only) — in every customer tenant:")
    for permission in required_permissions():
        typer.echo(f"  {permission}")
    typer.echo("In the MSSP partner tenant only (GDAP relationships):")
    for permission in required_permissions(partner=True):
        typer.echo(f"  {permission}")
    if config is None:
        typer.echo("Pass --config to print each customer's admin-consent URL.")
        return
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        _fail(str(exc))
    typer.echo("Admin-consent URLs (a Global Administrator of each tenant opens one):")
    for customer in cfg.customers:
        typer.echo(f"  {customer.name}: {cfg.cloud.authority}/{customer.tenant_id}/adminconsent"
                   f"?client_id={cfg.app.client_id}")
    if cfg.mssp.partner_tenant_id:
        typer.echo(f"  MSSP partner tenant: {cfg.cloud.authority}/{cfg.mssp.partner_tenant_id}/adminconsent"
                   f"?client_id={cfg.app.client_id}")


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
