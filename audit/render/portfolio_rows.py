"""The portfolio's rows as a JSON file beside portfolio.xlsx, so that `mssp-audit merge` builds a night's
one workbook from its shard runs without evaluating anything again (the rows are the view-model the
workbook is drawn from, not a copy of the workbook)."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import date, datetime
from pathlib import Path
from typing import Any

from audit.render.viewmodel import PortfolioReport
from audit.snapshot.store import atomic_open

SCHEMA = "mssp-audit/portfolio-rows/1"
FILENAME = "portfolio.json"


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):     # tagged: a Cell may be a str, a date or a datetime
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(kind: Any, value: Any) -> Any:
    if isinstance(value, dict) and value.keys() == {"datetime"}:
        return datetime.fromisoformat(value["datetime"])
    if isinstance(value, dict) and value.keys() == {"date"}:
        return date.fromisoformat(value["date"])
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: _decode(hints[f.name], value[f.name]) for f in dataclasses.fields(kind)
                       if f.name in value})
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        if len(args) != len(value):
            raise ValueError(f"expected {len(args)} items, got {len(value)}")
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict:
        return {_decode(args[0], k): _decode(args[1], v) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        for arg in args:                 # the first dataclass or container member that fits
            if dataclasses.is_dataclass(arg) or typing.get_origin(arg) in (tuple, dict):
                try:
                    return _decode(arg, value)
                except (TypeError, KeyError, ValueError):
                    continue
        return value
    return value


def write_portfolio_rows(portfolio: PortfolioReport, path: Path) -> Path:
    with atomic_open(path) as handle:
        json.dump({"schema": SCHEMA, "portfolio": _encode(portfolio)}, handle, ensure_ascii=False)
    return path


def read_portfolio_rows(path: Path) -> PortfolioReport:
    """The rows `write_portfolio_rows` wrote; ValueError when the file is not that."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}")
        return _decode(PortfolioReport, data["portfolio"])
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not the portfolio's rows: {type(error).__name__}: {error}") from None
