"""The documented values the checks read, declared next to the normalisers that read them (issue 18).

Microsoft documents every enum of Graph v1.0 and every `@odata.type` variant of its polymorphic
types; the checks give a meaning to some of those values. A `Vocabulary` says, for one property
of one resource, every value the documentation lists (with the page it lists them on) and what the
checks do with each value they understand. A value is then one of three things:

- understood: it is in `meanings`, and the checks act on it as that line says;
- documented but unsupported: Microsoft lists it (`unknownFutureValue`, a subject set the checks
  cannot resolve to people), the checks give it no meaning;
- undocumented: not on the page at all (a value added after our reading of the docs, or noise).

The last two are never folded into a PASS or a FAIL: a check that meets one reports it as
`NotUnderstood`, and the framework (audit/checks/_framework.py, `_not_understood`) decides the
result from it. Wrong *types* stay with `ShapeError` (the resource is unreadable); this is about
values of the right type whose meaning we do not know. docs/graph-conformance.md is generated
from `VOCABULARIES`, so the table and the code cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from audit.models import NotUnderstood
from audit.normalize._common import describe

DOCS = "https://learn.microsoft.com/en-us/graph/api/resources/"
ABSENT = "(absent or null)"          # the key of `meanings` that gives a missing value a meaning


@dataclass(frozen=True)
class Vocabulary:
    resource: str                          # the catalogue's name (audit/resources.py)
    property: str                          # the Graph property path, as the docs spell it
    documented: tuple[str, ...]            # every value the docs list, in their order
    meanings: Mapping[str, str]            # value → what the checks do with it; ABSENT for a missing value
    page: str                              # the docs page that lists the values (resource page name)
    read_by: tuple[str, ...] = ()          # the check ids that act on the value
    note: str = ""                         # why a documented value is left unsupported
    case_insensitive: bool = False         # Graph compares these case-blind (status strings, GUIDs)
    _index: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = set(self.meanings) - set(self.documented) - {ABSENT}
        assert not unknown, f"{self.resource}.{self.property}: meanings for undocumented values {unknown}"
        object.__setattr__(self, "_index", {self._key(v): v for v in self.documented})

    def _key(self, value: str) -> str:
        return value.lower() if self.case_insensitive else value

    @property
    def unsupported(self) -> tuple[str, ...]:
        """Documented values the checks give no meaning to."""
        return tuple(v for v in self.documented if v not in self.meanings)

    @property
    def url(self) -> str:
        return DOCS + self.page

    def canonical(self, value: str | None) -> str | None:
        """The documented spelling of a value (Graph's case-insensitive strings), or the value itself."""
        if value is None:
            return None
        return self._index.get(self._key(value), value)

    def understands(self, value: str | None) -> bool:
        if value is None:
            return ABSENT in self.meanings
        return self.canonical(value) in self.meanings

    def judge(self, value: str | None, subject: str) -> NotUnderstood | None:
        """None when the checks understand the value; otherwise what was not understood, and where."""
        if self.understands(value):
            return None
        if value is None:
            return missing(self.resource, self.property, subject)
        if self.canonical(value) in self.documented:
            return NotUnderstood(self.resource, self.property, describe(value), subject, True,
                                 "Microsoft documents it, the checks give it no meaning")
        return NotUnderstood(self.resource, self.property, describe(value), subject, False,
                             f"not a documented value ({', '.join(self.documented)})")


def missing(resource: str, prop: str, subject: str) -> NotUnderstood:
    """A property the checks read that Graph did not return (absent or null) and that has no documented
    meaning when missing: the requirement can be neither shown nor refuted from it."""
    return NotUnderstood(resource, prop, "no value", subject, True, "not returned, so it cannot be told")


VOCABULARIES: list[Vocabulary] = []


def declare(*vocabularies: Vocabulary) -> None:
    """Register the vocabularies a normaliser module reads (once per module, at import)."""
    for vocabulary in vocabularies:
        assert all((v.resource, v.property) != (vocabulary.resource, vocabulary.property) for v in VOCABULARIES), \
            f"{vocabulary.resource}.{vocabulary.property} declared twice"
        VOCABULARIES.append(vocabulary)
