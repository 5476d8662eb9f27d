"""docs/graph-conformance.md, generated from the declarations (issue 18): per resource of the
catalogue, the checks that read it and, for each documented enum or `@odata.type` the checks act
on, every value Microsoft documents, what the checks do with it, and which they leave unsupported.

Regenerate: python -c "from audit.checks.conformance_docs import conformance_markdown as m; print(m())" \
    > docs/graph-conformance.md   (tests/conformance/test_conformance_table.py keeps it in step)
"""

from __future__ import annotations

from audit.checks import CATALOGUE
from audit.normalize.vocabulary import VOCABULARIES, Vocabulary
from audit.resources import RESOURCES

RULE = """\
A value a check reads and cannot interpret is never folded into a PASS or a FAIL
(audit/checks/_framework.py, `_not_understood`): a FAIL that rests on values the check understood
stands, with the others listed beside it; any other result becomes **WARN** when every such value
is documented by Microsoft but unsupported here, and **ERROR** when one is not documented at all.
The reason names the resource, property, value and object, and the evidence shows them. A value
of the wrong *type* makes the whole resource unreadable (ERROR, audit/normalize/_common.py). A
property the checks read that Graph did not return (absent or null) is named the same way, as
documented but not understood."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _vocabulary(v: Vocabulary) -> list[str]:
    lines = [f"#### `{v.property}`", "",
             f"Documented on [{v.page}]({v.url}); read by {', '.join(v.read_by) or 'no check'}.", "",
             "| value | what the checks do |", "|:--|:--|"]
    lines += [f"| `{value}` | {_cell(v.meanings[value]) if value in v.meanings else '**unsupported** (WARN)'} |"
              for value in v.documented]
    lines.append("| anything else | **not documented** (ERROR) |")
    if v.unsupported:
        lines += ["", f"Unsupported on purpose: {', '.join(f'`{u}`' for u in v.unsupported)}"
                  + (f" — {v.note}." if v.note else ".")]
    elif v.note:
        lines += ["", f"Note: {v.note}."]
    return [*lines, ""]


def conformance_markdown() -> str:
    lines = ["# Graph v1.0 conformance", "",
             "Generated from the vocabularies declared beside the normalisers (audit/normalize/vocabulary.py) and "
             "the check catalogue; do not edit by hand. The fixtures that hold the documentation's example "
             "responses are under tests/conformance/fixtures.", "", "## The rule for values not understood", "",
             RULE, ""]
    for resource in RESOURCES:
        readers = [c.spec.id for c in CATALOGUE if resource.name in c.spec.resources]
        if resource.kind == "facet":             # part of its parent's request
            continue
        vocabularies = [v for v in VOCABULARIES if v.resource == resource.name]
        lines += [f"## {resource.name}", "",
                  f"`{resource.request_line()}` — read by {', '.join(readers) or 'no check'}.", ""]
        if not vocabularies:
            lines += ["No enum or `@odata.type` of this resource decides a result; its values are read with their "
                      "documented types only.", ""]
        for v in vocabularies:
            lines += _vocabulary(v)
    return "\n".join(lines).rstrip() + "\n"
