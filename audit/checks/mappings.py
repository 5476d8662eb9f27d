"""Framework mappings as data: mappings.toml, validated against the check catalogue.

The checks stay framework-neutral; this module reads which controls each check gives evidence for
and refuses a file that cannot be right: a control of an undeclared framework, a mapping to a check
the catalogue does not have, a framework declared twice in two versions, a duplicate.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

DEFAULT_FILE = "mappings.toml"
_FRAMEWORK_KEYS = {"family", "name", "source"}
_CONTROL_KEYS = {"framework", "id", "title", "checks"}
_OPTIONAL_CONTROL_KEYS = {"note"}


class MappingError(ValueError):
    """The mappings file is not valid against the catalogue; the message names the entry."""


@dataclass(frozen=True)
class Framework:
    key: str                         # how controls refer to it: "cis_m365"
    family: str                      # declared once: one version of each framework
    name: str                        # as reports print it, version included: "CIS M365 Foundations v7.0.0"
    source: str                      # the publication the control ids and titles come from


@dataclass(frozen=True)
class Control:
    framework: Framework
    id: str                          # as the framework publishes it: "5.1.6.2", "AC-6(5)", "MS.AAD.8.1v1"
    title: str
    checks: tuple[str, ...]
    note: str = ""                   # where the checks cover only part of the control


@dataclass(frozen=True)
class Mappings:
    frameworks: tuple[Framework, ...]
    controls: tuple[Control, ...]

    def for_check(self, check_id: str) -> tuple[tuple[str, str], ...]:
        """(framework name, control id) pairs for one check, in the file's order."""
        return tuple((c.framework.name, c.id) for c in self.controls if check_id in c.checks)

    def control(self, framework_name: str, control_id: str) -> Control:
        return next(c for c in self.controls if c.framework.name == framework_name and c.id == control_id)

    def unmapped(self, check_ids: Iterable[str]) -> list[str]:
        mapped = {check for c in self.controls for check in c.checks}
        return [check for check in check_ids if check not in mapped]


def default_text() -> str:
    return resources.files("audit.checks").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")


def load_mappings(check_ids: Collection[str], text: str | None = None, origin: str = DEFAULT_FILE) -> Mappings:
    """Parse and validate; every error is a MappingError naming `origin` and the offending entry."""
    try:
        data = tomllib.loads(default_text() if text is None else text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{origin}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"frameworks", "controls"}
    if unknown:
        raise MappingError(f"{origin}: unknown top-level key(s) {sorted(unknown)}")
    frameworks = _frameworks(data.get("frameworks", {}), origin)
    controls = _controls(data.get("controls", []), frameworks, set(check_ids), origin)
    idle = [key for key in frameworks if not any(c.framework.key == key for c in controls)]
    if idle:
        raise MappingError(f"{origin}: framework(s) {idle} declared but no control maps to them")
    return Mappings(tuple(frameworks.values()), tuple(controls))


def _frameworks(table: dict[str, Any], origin: str) -> dict[str, Framework]:
    frameworks: dict[str, Framework] = {}
    families: dict[str, str] = {}
    for key, entry in table.items():
        where = f"{origin}: [frameworks.{key}]"
        _require(entry, _FRAMEWORK_KEYS, set(), where)
        framework = Framework(key, entry["family"], entry["name"], entry["source"])
        if framework.family in families:
            raise MappingError(f"{where}: {framework.family!r} is already declared as [frameworks."
                               f"{families[framework.family]}]; map one version of each framework")
        families[framework.family] = key
        frameworks[key] = framework
    names = [f.name for f in frameworks.values()]
    if len(set(names)) != len(names):
        raise MappingError(f"{origin}: two frameworks share a name: {names}")
    return frameworks


def _controls(entries: list[dict[str, Any]], frameworks: dict[str, Framework], catalogue: set[str],
              origin: str) -> list[Control]:
    controls: list[Control] = []
    seen: set[tuple[str, str]] = set()
    for number, entry in enumerate(entries, start=1):
        where = f"{origin}: [[controls]] #{number} ({entry.get('framework', '?')} {entry.get('id', '?')})"
        _require(entry, _CONTROL_KEYS, _OPTIONAL_CONTROL_KEYS, where)
        framework = frameworks.get(entry["framework"])
        if framework is None:
            raise MappingError(f"{where}: framework {entry['framework']!r} is not declared in [frameworks] "
                               f"(declared: {sorted(frameworks)})")
        if (framework.key, entry["id"]) in seen:
            raise MappingError(f"{where}: control {entry['id']} of {framework.key} is listed twice")
        seen.add((framework.key, entry["id"]))
        checks = entry["checks"]
        if not checks:
            raise MappingError(f"{where}: maps no check")
        duplicates = sorted({c for c in checks if checks.count(c) > 1})
        if duplicates:
            raise MappingError(f"{where}: lists {duplicates} more than once")
        unknown = [c for c in checks if c not in catalogue]
        if unknown:
            raise MappingError(f"{where}: maps {unknown}, which the check catalogue does not have")
        controls.append(Control(framework, entry["id"], entry["title"], tuple(checks), entry.get("note", "")))
    return controls


def _require(entry: Any, required: set[str], optional: set[str], where: str) -> None:
    if not isinstance(entry, dict):
        raise MappingError(f"{where}: must be a table")
    missing = sorted(required - set(entry))
    if missing:
        raise MappingError(f"{where}: missing {missing}")
    extra = sorted(set(entry) - required - optional)
    if extra:
        raise MappingError(f"{where}: unknown key(s) {extra}")
    for key in required | (optional & set(entry)):
        value = entry[key]
        if key == "checks":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise MappingError(f"{where}: 'checks' must be a list of check ids")
        elif not isinstance(value, str) or not value.strip():
            raise MappingError(f"{where}: {key!r} must be a non-empty string")
