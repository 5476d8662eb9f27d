"""Management responses: what the MSSP will do about a finding, who owns it, and by when.

The file is TOML, named by `[output] responses` in the configuration:

    [[response]]
    customer = "Contoso Retail"        # a configured customer: its name or its tenant id
    check = "EM-006"                   # a catalogue check id
    owner = "Jane Doe, MSSP service manager"
    response = "Analyst assignments will move to the 30-day policy."
    target_date = 2026-12-31

A bad file is a configuration error: `ResponsesError`, one line naming the file and the key. The
command line loads it once before anything is collected (exit 2); the view-model asks
`responses_for(config)`, which hands back that same object while the file is unchanged, so the
pipeline does not have to carry it.

The text is the MSSP's own, but it lands in reports beside tenant text and is treated the same way:
control characters (NUL included) are refused here, and the renderers escape HTML and formulas.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

from audit.config import Config, Customer, read_toml
from audit.models import Status

FIELDS = ("customer", "check", "owner", "response", "target_date")
# A response may run over several lines of a TOML multi-line string; no other control character belongs in it.
_ALLOWED_CONTROLS = frozenset("\n\t")
# An open finding needs the response acted on; ERROR is missing evidence, not a finding (it still shows one).
OPEN_STATUSES = frozenset({Status.FAIL.value, Status.WARN.value})


class ResponsesError(ValueError):
    """One line that names the responses file and the key."""


@dataclass(frozen=True)
class Response:
    tenant_id: str           # the customer's tenant id, lower case: the key, display names are not unique
    customer: str            # the customer's configured name
    check_id: str            # a catalogue check id, e.g. "EM-006"
    owner: str
    response: str
    target_date: date

    def overdue(self, on: date, still_open: bool) -> bool:
        """Past its target date while the finding it answers is still open."""
        return still_open and on > self.target_date


class Responses:
    """The responses of one file, found by (tenant id, check id)."""

    EMPTY: ClassVar[Responses]

    def __init__(self, responses: tuple[Response, ...] | list[Response]) -> None:
        self._by_key = {(r.tenant_id.lower(), r.check_id): r for r in responses}

    def get(self, tenant_id: str, check_id: str) -> Response | None:
        return self._by_key.get((tenant_id.lower(), check_id))

    def __iter__(self) -> Iterator[Response]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)


Responses.EMPTY = Responses(())


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES


def load_responses(config: Config) -> Responses:
    """Read and validate the configured file against every configured customer and the catalogue;
    `Responses.EMPTY` when none is configured. Call it with the whole configuration, before customers
    are selected: a response to a customer left out of tonight's run is still a valid one."""
    path = config.output.responses
    if path is None:
        return Responses.EMPTY
    data = read_toml(path, "the responses file", ResponsesError)
    try:
        return Responses(_entries(data, config))
    except ValueError as exc:
        raise ResponsesError(f"{path}: {exc}") from None


_loaded: dict[Path, tuple[tuple[int, int, int], Responses]] = {}


def responses_for(config: Config) -> Responses:
    """The configured responses, loaded once: the object `load_responses` gave for this file while it
    is unchanged (its inode, size and modification time), read again only when it changed."""
    path = config.output.responses
    if path is None:
        return Responses.EMPTY
    try:
        stat = path.stat()
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    except OSError:
        signature = (0, 0, 0)
    cached = _loaded.get(path)
    if cached is not None and cached[0] == signature:
        return cached[1]
    responses = load_responses(config)
    _loaded[path] = (signature, responses)
    return responses


def _entries(data: dict[str, Any], config: Config) -> list[Response]:
    extra = sorted(set(data) - {"response"})
    if extra:
        raise ValueError(f"key '{extra[0]}' is not a known setting (each response is a [[response]] table)")
    entries = data.get("response", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError("key 'response': must be an array of tables ([[response]])")
    out: list[Response] = []
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(entries):
        response = _entry(entry, f"response[{index}]", config)
        key = (response.tenant_id, response.check_id)
        if key in seen:
            raise ValueError(f"key 'response[{index}]': {response.check_id} of {response.customer!r} already has a "
                             f"response (response[{seen[key]}]); keep one")
        seen[key] = index
        out.append(response)
    return out


def _entry(entry: dict[str, Any], where: str, config: Config) -> Response:
    for name in FIELDS:
        if name not in entry:
            raise ValueError(f"key '{where}.{name}' is missing")
    extra = sorted(set(entry) - set(FIELDS))
    if extra:
        raise ValueError(f"key '{where}.{extra[0]}' is not a known setting")
    text = {name: _text(entry[name], f"{where}.{name}") for name in FIELDS if name != "target_date"}
    target = entry["target_date"]
    if not isinstance(target, date) or isinstance(target, datetime):
        raise ValueError(f"key '{where}.target_date': must be a TOML date like 2026-12-31, not {target!r}")
    customer = _customer(text["customer"], config, f"{where}.customer")
    check_id = text["check"]
    from audit.checks import SPECS           # the catalogue (and polars) only once the file is read
    if check_id not in SPECS:
        raise ValueError(f"key '{where}.check': {check_id!r} is not a check; known: {', '.join(SPECS)}")
    return Response(customer.tenant_id.lower(), customer.name, check_id, text["owner"], text["response"], target)


def _text(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"key '{key}': must be a string, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"key '{key}': must not be empty")
    bad = next((ch for ch in value if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) == "Cc"), None)
    if bad is not None:
        raise ValueError(f"key '{key}': contains the control character U+{ord(bad):04X}; remove it")
    return value


def _customer(value: str, config: Config, key: str) -> Customer:
    """A configured customer, by tenant id (any case) or by its exact name; a name two customers
    share cannot say which one is meant."""
    by_id = [c for c in config.customers if c.tenant_id.lower() == value.strip().lower()]
    if by_id:
        return by_id[0]
    by_name = [c for c in config.customers if c.name == value]
    if len(by_name) > 1:
        raise ValueError(f"key '{key}': {value!r} is the name of {len(by_name)} customers; give its tenant id")
    if not by_name:
        raise ValueError(f"key '{key}': {value!r} is not a configured customer (give its name or tenant id)")
    return by_name[0]


__all__ = ["OPEN_STATUSES", "Response", "Responses", "ResponsesError", "is_open", "load_responses",
           "responses_for"]
