"""Logging for people and for machines: readable lines on a terminal, JSON lines otherwise.

Every record passes a redaction filter: whatever a library puts in a message, a bearer token,
a JWT or a PEM key never reaches a log line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

_SECRET = re.compile(
    r"eyJ[\w-]+\.[\w-]+\.[\w-]*"                                   # JWTs (tokens, client assertions)
    r"|(?i:bearer)\s+[\w.~+/-]+=*"                                 # Authorization headers
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----"
    r"|(?i:client_secret|client_assertion)=[^&\s]+",
    re.DOTALL,
)
NOISY = ("httpx", "httpcore", "msal", "urllib3", "fontTools", "weasyprint", "uvicorn", "asyncio")


def redact(text: str) -> str:
    return _SECRET.sub("[redacted]", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for key in ("tenant", "run_id", "customer", "resource"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(*, verbose: bool = False, quiet: bool = False, json_lines: bool | None = None) -> None:
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    if json_lines if json_lines is not None else not sys.stderr.isatty():
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose and name in ("httpx", "msal") else logging.WARNING)
    # WeasyPrint warns about CSS it ignores; that is our template's business, not the operator's.
    logging.getLogger("weasyprint").setLevel(logging.DEBUG if verbose else logging.ERROR)
