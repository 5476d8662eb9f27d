"""Shared reading of Graph values: typed accessors that name what they did not understand.

Graph is read as it is documented (graph-api.md), not as it happens to arrive: a value of the wrong
type, a key that is missing where one is always sent, or an absurdly long string raises
`ShapeError` naming the property, and the resource becomes unreadable for that customer (ERROR
with the reason) instead of stopping the run or being guessed at. Properties the documentation
says may be null or absent (createdDateTime before 2018, signInActivity, mail, externalUserState…)
read as None; the checks decide what None means.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import TypeAdapter, ValidationError

from audit.snapshot.store import iter_raw

UTC_TIME = pl.Datetime("us", "UTC")
_DURATION = TypeAdapter(timedelta)
# Graph's longest free-text values are a few hundred characters (displayName ≤ 256, descriptions
# ≤ 1,024, review queries and membership rules a few KB). 64 KiB is far above any of them, yet
# keeps a broken or hostile value from being copied into every table, PDF and workbook cell.
MAX_TEXT = 64 * 1024
_ABSENT = object()


class ShapeError(ValueError):
    """A Graph value we were not promised: names the property, what was expected and what came."""

    def __init__(self, path: str, expected: str, got: Any, *, subject: str = "") -> None:
        self.path, self.expected, self.subject = path, expected, subject
        self.got = describe(got)
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"property {self.path}" + (f" of {self.subject}" if self.subject else "")
        return f"{where}: expected {self.expected}, got {self.got}"


def describe(value: Any) -> str:
    """A value as a reason can show it: short, quoted, never the whole of a 10 MB string."""
    if value is _ABSENT:
        return "no value (the property is missing)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"[:60]
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return f"a string of {len(value):,} characters"
        return f"the string {value[:40]!r}" + ("…" if len(value) > 40 else "")
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _short(ident: Any) -> str:
    return ident if len(ident) <= 40 else f"{ident[:36]}…"


class GraphObject:
    """One Graph object (or a nested complex value) and where it sits, so a `ShapeError` names the
    full property path (`signInActivity.lastSuccessfulSignInDateTime`) and the object (`user <id>`).

    An absent or null property reads as None (an empty object, an empty list): Graph omits or nulls
    what is not set. Anything present must have its documented type.
    """

    __slots__ = ("_value", "_path", "subject")

    def __init__(self, value: Mapping[str, Any], *, path: str = "", subject: str = "") -> None:
        self._value, self._path, self.subject = value, path, subject

    @classmethod
    def item(cls, value: Any, kind: str, index: int) -> GraphObject:
        """One item of a collection, named by its id (or its position when it has none to show)."""
        ident = value.get("id") if isinstance(value, Mapping) else None
        subject = f"{kind} {_short(ident)}" if isinstance(ident, str) and ident else f"{kind} #{index + 1}"
        if not isinstance(value, Mapping):
            raise ShapeError("(the item itself)", "an object", value, subject=subject)
        return cls(value, subject=subject)

    def _where(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def _fail(self, name: str, expected: str, got: Any) -> ShapeError:
        return ShapeError(self._where(name), expected, got, subject=self.subject)

    def raw(self, name: str) -> Any:
        value = self._value.get(name, _ABSENT)
        return None if value is _ABSENT else value

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self._value.get(name, _ABSENT)
        if value is _ABSENT or value is None:
            if required:
                raise self._fail(name, "a string", value)
            return None
        if not isinstance(value, str):
            raise self._fail(name, "a string", value)
        if len(value) > MAX_TEXT:
            raise self._fail(name, f"a string of at most {MAX_TEXT:,} characters", value)
        return value

    def flag(self, name: str) -> bool | None:
        value = self.raw(name)
        if value is not None and not isinstance(value, bool):
            raise self._fail(name, "a boolean", value)
        return value

    def number(self, name: str) -> int | None:
        value = self.raw(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self._fail(name, "a whole number", value)
        return value

    def when(self, name: str) -> datetime | None:
        """Graph DateTimeOffset → aware UTC datetime. `0001-01-01…` means "never" in some tenants."""
        value = self.text(name)
        if value is None or value.startswith("0001-01-01"):
            return None
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self._fail(name, "a date and time (ISO 8601)", value) from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)

    def days(self, name: str) -> float | None:
        """ISO 8601 durations as Graph writes them: P365D, P1Y, PT8760H, P1Y2M (a year = 365 days)."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return _DURATION.validate_python(value).total_seconds() / 86400
        except ValidationError:
            raise self._fail(name, "a duration (ISO 8601, e.g. P365D)", value) from None

    def child(self, name: str) -> GraphObject:
        value = self.raw(name)
        if value is not None and not isinstance(value, Mapping):
            raise self._fail(name, "an object", value)
        return GraphObject(value or {}, path=self._where(name), subject=self.subject)

    def children(self, name: str) -> list[GraphObject]:
        value = self.raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(name, "a list of objects", value)
        out = []
        for index, element in enumerate(value):
            if not isinstance(element, Mapping):
                raise self._fail(f"{name}[{index}]", "an object", element)
            out.append(GraphObject(element, path=f"{self._where(name)}[{index}]", subject=self.subject))
        return out

    def texts(self, name: str) -> list[str]:
        value = self.raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(name, "a list of strings", value)
        for index, element in enumerate(value):
            if not isinstance(element, str):
                raise self._fail(f"{name}[{index}]", "a string", element)
            if len(element) > MAX_TEXT:
                raise self._fail(f"{name}[{index}]", f"a string of at most {MAX_TEXT:,} characters", element)
        return value

    def kind(self) -> str:
        """`@odata.type` without its namespace: 'user', 'groupMembers', 'azureActiveDirectoryTenant'…

        Responses carry `#microsoft.graph.x`; the v1.0 docs' examples often write `microsoft.graph.x`
        (connectedOrganization's identitySources, subject sets): both name the same type."""
        return (self.text("@odata.type") or "").removeprefix("#").removeprefix("microsoft.graph.")

    @property
    def id(self) -> str:
        """The object's key: every Graph entity has one, never null (CSDL Key, Nullable=false)."""
        return self.text("id", required=True) or ""


def subject_refs(subjects: list[GraphObject]) -> list[str]:
    """subjectSet[] → 'groupMembers:<id>', 'singleUser:<id>', 'connectedOrganizationMembers:<id>', …"""
    refs = []
    for subject in subjects:
        kind = subject.kind()
        ident = (subject.text("groupId") or subject.text("userId") or subject.text("connectedOrganizationId")
                 or subject.text("servicePrincipalId") or _level(subject) or "")
        refs.append(f"{kind}:{ident}" if ident != "" else kind)
    return refs


def _level(subject: GraphObject) -> str | None:
    level = subject.number("managerLevel")     # requestorManager / targetManager: Int32
    return str(level) if level else None


Items = Iterable[tuple[Any, str | None]]          # (raw item, the id of the parent it was fanned out from)


def graph_items(items: Items, kind: str) -> Iterator[tuple[GraphObject, str | None]]:
    """The items of a collection as `GraphObject`s named `<kind> <id>`, with their parent's id."""
    for index, (item, parent) in enumerate(items):
        yield GraphObject.item(item, kind, index), parent


def raw_items(tenant_dir: Path, file: str, *, collection: bool = True) -> Iterator[tuple[Any, str | None]]:
    """Every item of a committed raw file with the id of the parent it was fanned out from; the
    object itself for a singleton (`collection=False`)."""
    for record in iter_raw(tenant_dir / file):
        page = record["page"]
        parent = record.get("parent")
        if not collection:
            yield page, parent
        elif isinstance(page, dict) and isinstance(page.get("value"), list):
            yield from ((item, parent) for item in page["value"])
        else:
            # A collection's page is {"value": [...], "@odata.nextLink"?}; anything else is not one.
            raise ShapeError("value", "a list (a page of a collection)",
                             page.get("value", _ABSENT) if isinstance(page, dict) else page)


def frame(rows: list[dict[str, Any]], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict(schema))
