"""Suite-wide settings."""

from datetime import UTC, date, datetime

import polars as pl

# freezegun replaces datetime.datetime on the stdlib module itself while time is frozen. polars'
# Rust core looks that class up once, on first use, and keeps it: if the first use happens inside
# a frozen test, real datetimes are forever after taken for dates. Using polars once here, before
# any test freezes time, makes it cache the real classes.
pl.DataFrame({"at": [datetime(2026, 1, 1, tzinfo=UTC)], "on": [date(2026, 1, 1)]})
