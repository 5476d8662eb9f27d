"""The period PDF of one customer, in the nightly report's house style (report.css, PDF/A-3b, the
period's figures attached as period.json)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.period.model import ControlOperation, CustomerPeriod, NightSource, PopulationItem, period_json
from audit.render.filenames import atomic_output
from audit.render.pdf import PDF_VARIANT, PRODUCT_NAME, _stylesheet, _unique_associated_files, status_class
from audit.render.templates import make_environment, templates_dir

if TYPE_CHECKING:
    from jinja2 import Template

TEMPLATE = "period.html"
ATTACHMENT = "period.json"
ATTACHMENT_DESCRIPTION = "The period report's figures: control operation, exceptions, populations, sign-off sources"
SAMPLE_ROWS = 15
OTHER_STATUSES = ("ACCEPTED", "MANUAL", "ATTESTED")


@dataclass(frozen=True)
class SourceRange:
    """Consecutive nights with a run under one tool version: the sign-off page's compact provenance."""

    first: date
    last: date
    runs: int
    tool_version: str
    first_run: str
    last_run: str
    evaluations: str


def night_ranges(nights: Iterable[date]) -> str:
    """`2026-03-10, 2026-06-10 – 2026-06-11`: consecutive nights said once."""
    spans: list[list[date]] = []
    for night in sorted(nights):
        if spans and night - spans[-1][1] == timedelta(days=1):
            spans[-1][1] = night
        else:
            spans.append([night, night])
    return ", ".join(str(a) if a == b else f"{a} – {b}" for a, b in spans)


def source_ranges(sources: Sequence[NightSource]) -> list[SourceRange]:
    groups: list[list[NightSource]] = []
    for source in sources:
        last = groups[-1][-1] if groups else None
        if last and last.tool_version == source.tool_version and source.night - last.night == timedelta(days=1):
            groups[-1].append(source)
        else:
            groups.append([source])
    return [SourceRange(g[0].night, g[-1].night, len(g), g[0].tool_version, g[0].run_id, g[-1].run_id,
                        ", ".join(sorted({s.evaluation_id for s in g}))) for g in groups]


def _seen(evidence_of: Callable[[PopulationItem], Any]) -> Callable[[PopulationItem], str]:
    return lambda item: f"{evidence_of(item).night} ({evidence_of(item).run_id})"


POPULATION_COLUMNS: dict[str, list[tuple[str, Callable[[PopulationItem], Any]]]] = {
    "assignment": [("Analyst", lambda i: i.name), ("Package", lambda i: i.related),
                   ("First seen", _seen(lambda i: i.first_seen)), ("Last seen", _seen(lambda i: i.last_seen)),
                   ("End", lambda i: i.end), ("How it ended", lambda i: i.outcome),
                   ("Nights beyond policy", lambda i: i.beyond_policy_nights)],
    "review_instance": [("Review", lambda i: i.name), ("State", lambda i: i.state), ("Start", lambda i: i.start),
                        ("End", lambda i: i.end), ("Last seen", _seen(lambda i: i.last_seen)),
                        ("Outcome", lambda i: i.detail)],
    "mssp_guest": [("Guest", lambda i: i.name), ("Domain", lambda i: i.related), ("State", lambda i: i.state),
                   ("First seen", _seen(lambda i: i.first_seen)), ("Last seen", _seen(lambda i: i.last_seen)),
                   ("In the period", lambda i: i.outcome)],
    "gdap_relationship": [("Relationship", lambda i: i.name), ("State", lambda i: i.state),
                          ("Start", lambda i: i.start), ("End", lambda i: i.end), ("Roles", lambda i: i.detail),
                          ("Last seen", _seen(lambda i: i.last_seen))],
}


def _other(control: ControlOperation) -> int:
    return sum(control.count(s) for s in OTHER_STATUSES)


def build_context(period: CustomerPeriod, *, link_stylesheet: bool = True) -> dict[str, Any]:
    customer_gaps = sorted(set(_period_nights(period)) - {s.night for s in period.signoff.sources})
    return {
        "product": PRODUCT_NAME, "link_stylesheet": link_stylesheet, "p": period,
        "counts": period.conclusion_counts(), "status_class": status_class, "other": _other,
        "other_legend": ", ".join(s.lower() for s in OTHER_STATUSES),
        "missing_nights": night_ranges(customer_gaps),
        "errors": [(c, night_ranges(c.error_nights)) for c in period.controls if c.error_nights],
        "sample_rows": SAMPLE_ROWS,
        "populations": [("MSSP access-package assignments", period.assignments, POPULATION_COLUMNS["assignment"]),
                        ("Access-review instances", period.reviews, POPULATION_COLUMNS["review_instance"]),
                        ("MSSP guests", period.guests, POPULATION_COLUMNS["mssp_guest"]),
                        ("GDAP relationships", period.gdap, POPULATION_COLUMNS["gdap_relationship"])],
        "responses": [c for c in period.controls if c.response is not None],
        "scope": ", ".join(f"{check} v{version}" for check, version in period.signoff.checks),
        "source_ranges": source_ranges(period.signoff.sources),
    }


def _period_nights(period: CustomerPeriod) -> list[date]:
    return [period.first + timedelta(days=i) for i in range(period.nights)]


@cache
def _template() -> Template:
    return make_environment().get_template(TEMPLATE)


def render_period_html(period: CustomerPeriod, *, link_stylesheet: bool = True) -> str:
    return _template().render(build_context(period, link_stylesheet=link_stylesheet))


def render_period_pdf(period: CustomerPeriod, path: Path) -> Path:
    """Write one customer's period PDF to `path` atomically, with period.json attached, and return `path`."""
    from weasyprint import HTML, Attachment

    stylesheet, fonts = _stylesheet()
    document = HTML(string=render_period_html(period, link_stylesheet=False), base_url=str(templates_dir()) + "/")
    attachment = Attachment(string=period_json(period), name=ATTACHMENT, description=ATTACHMENT_DESCRIPTION,
                            created=period.generated_at, modified=period.generated_at, relationship="Data")
    with atomic_output(path) as tmp:
        document.write_pdf(tmp, stylesheets=[stylesheet], font_config=fonts, pdf_variant=PDF_VARIANT,
                           attachments=[attachment], finisher=_unique_associated_files)
    return path
