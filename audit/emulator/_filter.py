"""A small real parser for the ``$filter`` forms a collector uses, and nothing more.

Supported: ``path eq|ne literal``, ``path in (literal, …)``, ``startswith(path,'x')``,
``endswith(path,'x')``, joined by ``and``/``or`` with parentheses; a path may cross complex
or navigation properties (``target/objectId``, ``signInActivity/lastSignInDateTime``);
literals are 'strings' ('' escapes a quote), true, false, null and numbers. Anything else is
refused with 400 ``Request_UnsupportedQuery`` rather than silently mis-evaluated.

String comparisons ignore case, as Graph's directory does (``userType eq 'guest'`` matches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from audit.emulator._errors import GraphError, unsupported_query

Literal = str | bool | int | float | None

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<punct>[(),])
      | (?P<number>-?\d+(?:\.\d+)?(?![\w:-]))
      | (?P<word>[A-Za-z_@$][\w./@$]*)
      | (?P<other>\S+?)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Compare:
    path: tuple[str, ...]
    op: str            # "eq" | "ne"
    value: Literal


@dataclass(frozen=True)
class InList:
    path: tuple[str, ...]
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Function:
    name: str          # "startswith" | "endswith"
    path: tuple[str, ...]
    argument: str


@dataclass(frozen=True)
class Boolean:
    op: str            # "and" | "or"
    left: Node
    right: Node


Node = Compare | InList | Function | Boolean


@dataclass
class ParsedFilter:
    root: Node
    operators: set[str] = field(default_factory=set)     # eq, ne, in, startswith, endswith, and, or
    paths: set[tuple[str, ...]] = field(default_factory=set)
    comparisons: int = 0

    def matches(self, item: dict[str, Any]) -> bool:
        return _evaluate(self.root, item)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            break
        position = match.end()
        kind = match.lastgroup
        if kind is None:
            continue
        out.append((kind, match.group(kind)))
    if any(kind == "other" for kind, _ in out):
        bad = next(value for kind, value in out if kind == "other")
        raise unsupported_query(f"Invalid filter clause: syntax error at '{bad}'.")
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0
        self.result = ParsedFilter(root=Compare((), "eq", None))

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise unsupported_query("Invalid filter clause: unexpected end of expression.")
        self.position += 1
        return token

    def expect(self, value: str) -> None:
        _, text = self.take()
        if text.lower() != value:
            raise unsupported_query(f"Invalid filter clause: expected '{value}' but found '{text}'.")

    def keyword(self) -> str | None:
        token = self.peek()
        return token[1].lower() if token and token[0] == "word" else None

    def parse(self) -> ParsedFilter:
        self.result.root = self.disjunction()
        if self.peek() is not None:
            raise unsupported_query(f"Invalid filter clause: unexpected '{self.peek()[1]}'.")  # type: ignore[index]
        return self.result

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.keyword() == "or":
            self.take()
            self.result.operators.add("or")
            node = Boolean("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.primary()
        while self.keyword() == "and":
            self.take()
            self.result.operators.add("and")
            node = Boolean("and", node, self.primary())
        return node

    def primary(self) -> Node:
        kind, text = self.take()
        if text == "(":
            node = self.disjunction()
            self.expect(")")
            return node
        if kind != "word":
            raise unsupported_query(f"Invalid filter clause: unexpected '{text}'.")
        name = text.lower()
        if name in ("startswith", "endswith") and self.peek() == ("punct", "("):
            self.take()
            path = self.path(self.take())
            self.expect(",")
            argument = self.literal()
            self.expect(")")
            if not isinstance(argument, str):
                raise unsupported_query(f"The second argument of {text} must be a string.")
            self.note(name, path)
            return Function(name, path, argument)
        if self.peek() == ("punct", "(") or name in ("not", "any", "all", "contains", "tolower"):
            raise unsupported_query(f"Unsupported or invalid query filter clause specified: '{text}'.")
        path = self.path((kind, text))
        operator = (self.keyword() or "")
        if operator in ("eq", "ne"):
            self.take()
            self.note(operator, path)
            return Compare(path, operator, self.literal())
        if operator == "in":
            self.take()
            self.expect("(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.literal())
            self.expect(")")
            self.note("in", path)
            return InList(path, tuple(values))
        found = self.peek()[1] if self.peek() else "end of expression"  # type: ignore[index]
        raise unsupported_query(f"Unsupported or invalid query filter clause specified: '{found}'.")

    def note(self, operator: str, path: tuple[str, ...]) -> None:
        self.result.operators.add(operator)
        self.result.paths.add(path)
        self.result.comparisons += 1

    @staticmethod
    def path(token: tuple[str, str]) -> tuple[str, ...]:
        kind, text = token
        if kind != "word" or "." in text or text.startswith(("$", "@")):
            # Casts like microsoft.graph.user and lambda variables are not supported here.
            raise unsupported_query(f"Unsupported property path '{text}' in filter.")
        return tuple(text.split("/"))

    def literal(self) -> Literal:
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text) if "." in text else int(text)
        lowered = text.lower()
        if kind == "word" and lowered in ("true", "false"):
            return lowered == "true"
        if kind == "word" and lowered == "null":
            return None
        raise unsupported_query(f"Unsupported literal '{text}' in filter; quote strings and dates.")


def parse_filter(text: str) -> ParsedFilter:
    if not text.strip():
        raise GraphError(400, "BadRequest", "The $filter query option must not be empty.")
    return _Parser(text).parse()


def _resolve(item: Any, path: tuple[str, ...]) -> Any:
    value = item
    for segment in path:
        if not isinstance(value, dict):
            return None
        value = value.get(segment)
    return value


def _equal(actual: Any, expected: Literal) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.lower() == expected.lower()
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    return bool(actual == expected)


def _evaluate(node: Node, item: dict[str, Any]) -> bool:
    if isinstance(node, Boolean):
        if node.op == "and":
            return _evaluate(node.left, item) and _evaluate(node.right, item)
        return _evaluate(node.left, item) or _evaluate(node.right, item)
    if isinstance(node, Compare):
        same = _equal(_resolve(item, node.path), node.value)
        return same if node.op == "eq" else not same
    if isinstance(node, InList):
        actual = _resolve(item, node.path)
        return any(_equal(actual, value) for value in node.values)
    actual = _resolve(item, node.path)
    if not isinstance(actual, str):
        return False
    if node.name == "startswith":
        return actual.lower().startswith(node.argument.lower())
    return actual.lower().endswith(node.argument.lower())
