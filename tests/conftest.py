"""Suite-wide settings."""

from datetime import UTC, date, datetime

import polars as pl

# freezegun replaces datetime.datetime on the stdlib module itself while time is frozen. polars'
# Rust core looks that class up once, on first use, and keeps it: if the first use happens inside
# a frozen test, real datetimes are forever after taken for dates. Using polars once here, before
# any test freezes time, makes it cache the real classes.
pl.DataFrame({"at": [datetime(2026, 1, 1, tzinfo=UTC)], "on": [date(2026, 1, 1)]})


import logging  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _root_logger_restored():
    """A command run in-process (typer's CliRunner) points the root logger at a stream the runner
    closes afterwards; later log lines from other threads (the SMTP test server) would then fail
    with "I/O operation on closed file". Each test gets the root logger back as it found it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
