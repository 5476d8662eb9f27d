"""OData system query options: parsing, ``$select``/``$expand`` shaping, opaque skip tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from audit.emulator._errors import bad_request, expired_page_token, unsupported_query
from audit.emulator._filter import ParsedFilter, parse_filter

_KNOWN = {"$select", "$expand", "$filter", "$top", "$skip", "$count", "$orderby", "$search", "$skiptoken", "$format"}


@dataclass(frozen=True)
class Expand:
    name: str
    select: tuple[str, ...] | None = None
    expand: tuple[Expand, ...] = ()


@dataclass(frozen=True)
class Query:
    params: tuple[tuple[str, str], ...]     # as received, for nextLinks
    select: tuple[str, ...] | None = None
    expand: tuple[Expand, ...] = ()
    filter: ParsedFilter | None = None
    top: int | None = None
    skip: int | None = None
    count: bool = False
    orderby: tuple[tuple[str, bool], ...] = ()   # (property path, descending)
    search: str | None = None
    skiptoken: str | None = None

    def selects(self, name: str) -> bool:
        return self.select is not None and any(s.lower() == name.lower() for s in self.select)


def _split_top_level(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    if depth != 0:
        raise bad_request("Syntax error: unbalanced parentheses in query option.")
    return [p.strip() for p in parts if p.strip()]


def _names(text: str) -> tuple[str, ...]:
    names = tuple(_split_top_level(text, ","))
    if not names:
        raise bad_request("The query option must name at least one property.")
    return names


def _parse_expand(text: str) -> tuple[Expand, ...]:
    items = []
    for part in _split_top_level(text, ","):
        if "(" not in part:
            items.append(Expand(part))
            continue
        name, _, inner = part.partition("(")
        if not inner.endswith(")"):
            raise bad_request(f"Syntax error in $expand at '{part}'.")
        select: tuple[str, ...] | None = None
        nested: tuple[Expand, ...] = ()
        for option in _split_top_level(inner[:-1], ";"):
            key, _, value = option.partition("=")
            if key.strip().lower() == "$select":
                select = _names(value)
            elif key.strip().lower() == "$expand":
                nested = _parse_expand(value)
            else:
                raise unsupported_query(f"Query option '{key.strip()}' is not supported inside $expand.")
        items.append(Expand(name.strip(), select, nested))
    return tuple(items)


def _int_option(name: str, value: str) -> int:
    if not value.isdigit():
        raise bad_request(f"Invalid value '{value}' for query option {name}.")
    return int(value)


def parse_query(raw: str) -> Query:
    params = tuple(parse_qsl(raw, keep_blank_values=True))
    seen: dict[str, str] = {}
    for key, value in params:
        lowered = key.lower()
        if not lowered.startswith("$"):
            continue   # Graph ignores custom query parameters
        if lowered not in _KNOWN:
            raise bad_request(f"Query option '{key}' is not supported.")
        if lowered in seen:
            raise bad_request(f"Query option '{key}' was specified more than once, but it must be specified "
                              "at most once.")
        seen[lowered] = value
    orderby: list[tuple[str, bool]] = []
    for clause in _split_top_level(seen.get("$orderby", ""), ","):
        prop, _, direction = clause.partition(" ")
        if direction.strip().lower() not in ("", "asc", "desc"):
            raise bad_request(f"Invalid $orderby direction '{direction}'.")
        orderby.append((prop, direction.strip().lower() == "desc"))
    count = seen.get("$count", "false").lower()
    if count not in ("true", "false"):
        raise bad_request("Invalid value for $count; use true or false.")
    return Query(
        params=params,
        select=_names(seen["$select"]) if "$select" in seen else None,
        expand=_parse_expand(seen["$expand"]) if "$expand" in seen else (),
        filter=parse_filter(seen["$filter"]) if "$filter" in seen else None,
        top=_int_option("$top", seen["$top"]) if "$top" in seen else None,
        skip=_int_option("$skip", seen["$skip"]) if "$skip" in seen else None,
        count=count == "true",
        orderby=tuple(orderby),
        search=seen.get("$search"),
        skiptoken=seen.get("$skiptoken"),
    )


# -- shaping ---------------------------------------------------------------------------------

# Navigation properties per entity type -> the type they lead to. They are stored inline (or
# computed) and returned only when $expand names them, as Graph does.
NAVIGATION: dict[str, dict[str, str]] = {
    "user": {}, "group": {}, "directoryObject": {},
    "connectedOrganization": {"externalSponsors": "directoryObject", "internalSponsors": "directoryObject"},
    "accessPackageCatalog": {},
    "accessPackage": {"assignmentPolicies": "accessPackageAssignmentPolicy", "catalog": "accessPackageCatalog"},
    "accessPackageAssignmentPolicy": {"accessPackage": "accessPackage", "catalog": "accessPackageCatalog",
                                      "questions": "question", "customExtensionStageSettings": "setting"},
    "accessPackageAssignment": {"target": "accessPackageSubject", "accessPackage": "accessPackage",
                                "assignmentPolicy": "accessPackageAssignmentPolicy"},
    "accessPackageSubject": {"connectedOrganization": "connectedOrganization"},
    "accessPackageAssignmentRequest": {"requestor": "accessPackageSubject", "accessPackage": "accessPackage",
                                       "assignment": "accessPackageAssignment"},
    "unifiedRoleAssignment": {"principal": "directoryObject", "roleDefinition": "unifiedRoleDefinition"},
}

# Without $select, v1.0 returns only these user properties (§1).
USER_DEFAULT = ("businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
                "officeLocation", "preferredLanguage", "surname", "userPrincipalName")
USER_PROPERTIES = frozenset({
    *USER_DEFAULT, "accountEnabled", "ageGroup", "assignedLicenses", "assignedPlans", "city", "companyName",
    "country", "createdDateTime", "creationType", "deletedDateTime", "department", "employeeId", "employeeType",
    "externalUserState", "externalUserStateChangeDateTime", "identities", "lastPasswordChangeDateTime",
    "mailNickname", "onPremisesSyncEnabled", "onPremisesImmutableId", "otherMails", "proxyAddresses",
    "signInActivity", "signInSessionsValidFromDateTime", "usageLocation", "userType", "sponsors", "manager",
})

Resolver = Callable[[str, str, dict[str, Any]], Any]   # (type, navigation, item) -> value


def validate_select(type_name: str, select: tuple[str, ...] | None) -> None:
    if select is None or type_name != "user":
        return
    for name in select:
        if name not in USER_PROPERTIES and name != "*":
            raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.user'.",
                              code="Request_BadRequest")


def shape(item: dict[str, Any], type_name: str, select: tuple[str, ...] | None, expand: tuple[Expand, ...],
          resolve: Resolver) -> dict[str, Any]:
    navigation = NAVIGATION.get(type_name, {})
    annotations = {k: v for k, v in item.items() if k.startswith("@odata.")}
    if select is not None and "*" not in select:
        out = {**annotations, "id": item["id"]} if "id" in item else dict(annotations)
        for name in select:
            if name not in navigation:
                out[name] = item.get(name)
    elif type_name == "user":
        out = {**annotations, **{name: item.get(name) for name in USER_DEFAULT}}
    else:
        out = {k: v for k, v in item.items() if k not in navigation}
    for option in expand:
        if option.name not in navigation:
            raise bad_request(f"Could not find a property named '{option.name}' on type "
                              f"'microsoft.graph.{type_name}'.")
        child = navigation[option.name]
        value = resolve(type_name, option.name, item)
        if isinstance(value, list):
            out[option.name] = [shape(v, child, option.select, option.expand, resolve) for v in value]
        elif isinstance(value, dict):
            out[option.name] = shape(value, child, option.select, option.expand, resolve)
        else:
            out[option.name] = None
    return out


def sort_items(items: list[dict[str, Any]], orderby: tuple[tuple[str, bool], ...]) -> list[dict[str, Any]]:
    for prop, descending in reversed(orderby):
        path = prop.split("/")

        def key(item: dict[str, Any], path: list[str] = path) -> tuple[bool, Any]:
            value: Any = item
            for segment in path:
                value = value.get(segment) if isinstance(value, dict) else None
            text = value.lower() if isinstance(value, str) else value
            return (value is None, text if value is not None else "")
        items = sorted(items, key=key, reverse=descending)
    return items


# -- skip tokens -----------------------------------------------------------------------------

class SkipTokens:
    """Opaque, tamper-evident skip tokens: an offset (and a "broken" mark) signed per server."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def make(self, offset: int, *, broken: bool = False) -> str:
        payload = json.dumps({"o": offset, "b": broken}, separators=(",", ":")).encode()
        mac = hmac.new(self._secret, payload, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode("ascii")

    def read(self, token: str) -> tuple[int, bool]:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload, mac = raw[:-12], raw[-12:]
            if not hmac.compare_digest(mac, hmac.new(self._secret, payload, hashlib.sha256).digest()[:12]):
                raise ValueError("bad mac")
            data = json.loads(payload)
            return int(data["o"]), bool(data["b"])
        except (ValueError, KeyError, TypeError):
            raise expired_page_token() from None


def next_link(base: str, path: str, params: tuple[tuple[str, str], ...], token: str) -> str:
    """Absolute nextLink keeping every other option as the client sent it, plus ``$skiptoken``."""
    kept = [(k, v) for k, v in params if k.lower() != "$skiptoken"]
    kept.append(("$skiptoken", token))
    query = "&".join(f"{quote(k, safe='$')}={quote(v, safe=chr(39) + '(),/:$*@')}" for k, v in kept)
    return f"{base}{path}?{query}"
