"""The catalogue as a person reads it: a terminal table, markdown (docs/checks.md), JSON."""

from __future__ import annotations

from typing import Any

from audit.checks import CATALOGUE, MAPPINGS, Check


def _framework_json(framework: str, control: str) -> dict[str, str]:
    mapped = MAPPINGS.control(framework, control)
    return {"framework": framework, "control": control, "title": mapped.title, "note": mapped.note}


def catalogue_json() -> list[dict[str, Any]]:
    return [{
        "id": c.spec.id, "version": c.spec.version, "title": c.spec.title, "area": c.spec.area,
        "severity": c.spec.severity.value, "requirement": c.spec.requirement, "rationale": c.spec.rationale,
        "remediation": c.spec.remediation, "references": list(c.spec.references),
        "frameworks": [_framework_json(f, ctl) for f, ctl in c.spec.frameworks],
        "resources": list(c.spec.resources),
        "manual_unless": c.manual_unless,
    } for c in CATALOGUE]


def _evidence(c: Check) -> str:
    needed = ", ".join(c.spec.resources) or "attestation"
    if c.manual_unless:
        return f"{needed} (opt-in: `[expectations] {c.manual_unless} = true`; otherwise an attestation)"
    return needed


def catalogue_markdown() -> str:
    lines = ["# Check catalogue", "",
             "Generated from the check specs by `mssp-audit checks --format markdown`; a test keeps it in sync.", ""]
    area = None
    for c in CATALOGUE:
        s = c.spec
        if s.area != area:
            area = s.area
            lines += [f"## {area}", ""]
        lines += [f"### {s.versioned_id} — {s.title}", "",
                  f"- **Severity:** {s.severity.value}",
                  f"- **Requirement:** {s.requirement}",
                  f"- **Rationale:** {s.rationale}",
                  f"- **Remediation:** {s.remediation}",
                  "- **References:**", *(f"  - {r}" for r in s.references),
                  "- **Frameworks:**", *([f"  - {_control_line(f, ctl)}" for f, ctl in s.frameworks] or ["  - none"]),
                  f"- **Evidence needed:** {_evidence(c)}", ""]
    lines += ["## Framework sources", "",
              "Mappings are kept in `audit/checks/mappings.toml`, apart from the checks; a mapping says the check "
              "is evidence for the control, and a note says where it covers only part of it.", ""]
    lines += [f"- **{f.name}:** {f.source}" for f in MAPPINGS.frameworks]
    return "\n".join(lines)


def _control_line(framework: str, control: str) -> str:
    mapped = MAPPINGS.control(framework, control)
    note = f" — {mapped.note}" if mapped.note else ""
    return f"{framework} {control}: {mapped.title}{note}"


def catalogue_table() -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"mssp-audit check catalogue ({len(CATALOGUE)} checks)", show_lines=False)
    for column in ("Id", "Severity", "Area", "Title"):
        table.add_column(column)
    for c in CATALOGUE:
        table.add_row(c.spec.versioned_id, c.spec.severity.value, c.spec.area, c.spec.title)
    Console().print(table)
