"""The $filter parser and the query-option helpers, without a server."""

from __future__ import annotations

import pytest

from audit.emulator._errors import GraphError
from audit.emulator._filter import parse_filter
from audit.emulator._query import SkipTokens, next_link, parse_query

GUEST = {"id": "1", "userType": "Guest", "mail": "a-josh3@soc.example", "accountEnabled": False,
         "externalUserState": None, "target": {"objectId": "42"}, "displayName": "O'Brien"}


@pytest.mark.parametrize(("text", "expected"), [
    ("userType eq 'Guest'", True),
    ("userType eq 'guest'", True),                    # directory comparisons ignore case
    ("userType ne 'Guest'", False),
    ("accountEnabled eq false", True),
    ("externalUserState eq null", True),
    ("target/objectId eq '42'", True),
    ("userType in ('Member', 'Guest')", True),
    ("startswith(mail,'a-')", True),
    ("startsWith(mail, 'b-')", False),
    ("endswith(mail,'.example')", True),
    ("displayName eq 'O''Brien'", True),
    ("userType eq 'Member' or (accountEnabled eq false and startswith(mail,'a-'))", True),
    ("userType eq 'Guest' and accountEnabled eq true", False),
])
def test_supported_forms(text: str, expected: bool) -> None:
    assert parse_filter(text).matches(GUEST) is expected


@pytest.mark.parametrize("text", [
    "userType gt 'Guest'", "not userType eq 'Guest'", "contains(mail,'x')", "userType eq",
    "userType eq 'Guest' and", "(userType eq 'Guest'", "createdDateTime ge 2024-01-01T00:00:00Z",
    "groupTypes/any(c:c eq 'Unified')", "userType eq Guest", "microsoft.graph.user/userType eq 'x'",
])
def test_everything_else_is_refused(text: str) -> None:
    with pytest.raises(GraphError) as refused:
        parse_filter(text)
    assert refused.value.status == 400
    assert refused.value.code == "Request_UnsupportedQuery"


def test_operators_and_paths_are_recorded() -> None:
    parsed = parse_filter("userType ne 'Guest' and signInActivity/lastSignInDateTime eq null")
    assert parsed.operators == {"ne", "eq", "and"}
    assert ("signInActivity", "lastSignInDateTime") in parsed.paths
    assert parsed.comparisons == 2


def test_query_options() -> None:
    query = parse_query("$select=id,mail&$expand=target($expand=connectedOrganization;$select=objectId),accessPackage"
                        "&$top=5&$count=true&$orderby=displayName desc")
    assert query.select == ("id", "mail")
    assert [e.name for e in query.expand] == ["target", "accessPackage"]
    assert query.expand[0].select == ("objectId",)
    assert query.expand[0].expand[0].name == "connectedOrganization"
    assert (query.top, query.count, query.orderby) == (5, True, (("displayName", True),))
    with pytest.raises(GraphError):
        parse_query("$top=5&$top=6")
    with pytest.raises(GraphError):
        parse_query("$bogus=1")


def test_skip_tokens_are_opaque_and_signed() -> None:
    tokens = SkipTokens(b"k" * 32)
    token = tokens.make(300)
    assert tokens.read(token) == (300, False)
    assert tokens.read(tokens.make(5, broken=True)) == (5, True)
    with pytest.raises(GraphError):
        SkipTokens(b"x" * 32).read(token)
    link = next_link("https://127.0.0.1:1/v1.0", "/users", (("$filter", "userType eq 'Guest'"), ("$skiptoken", "old")),
                     token)
    assert link == f"https://127.0.0.1:1/v1.0/users?$filter=userType%20eq%20'Guest'&$skiptoken={token}"
