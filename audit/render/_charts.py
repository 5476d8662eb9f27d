"""Chart geometry for the PDF's executive summary, in SVG user units (CSS px).

Laid out here so the templates only place numbers into inline SVG: vector, no script, no raster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from audit.expiry import EXPIRED, LATER, NO_END
from audit.expiry import label as expiry_label
from audit.models import Severity
from audit.render.templates import ordered_keys

SEVERITY_COLOURS: Mapping[str, str] = {
    Severity.CRITICAL.value: "#7a1d14",
    Severity.HIGH.value: "#b42318",
    Severity.MEDIUM.value: "#dc6803",
    Severity.LOW.value: "#5b7aa6",
    Severity.INFO.value: "#98a2b3",
}
OTHER_COLOUR = "#98a2b3"
# Urgency only: whether an assignment without an end is a failure is the checks' call, not the chart's.
EXPIRY_COLOURS: Mapping[str, str] = {
    EXPIRED: "#b42318",
    expiry_label(7): "#dc6803",
    expiry_label(30): "#f79009",
    LATER: "#98a2b3",
    NO_END: "#667085",
}
CALM_COLOUR = "#5b7aa6"
LINE_COLOUR = "#1f3a5f"


@dataclass(frozen=True)
class ChartBar:
    label: str
    count: int
    y: float
    width: float
    colour: str


@dataclass(frozen=True)
class SeverityChart:
    """A horizontal bar chart: one bar per severity."""

    bars: tuple[ChartBar, ...]
    width: int
    height: int
    label_width: int
    bar_height: int
    max_count: int


def severity_chart(counts: Mapping[str, int], *, width: int = 360, bar_height: int = 16) -> SeverityChart:
    keys = ordered_keys(counts, (s.value for s in Severity))
    label_width, gap, count_room = 70, 8, 36
    max_count = max((counts.get(key, 0) for key in keys), default=0)
    scale = (width - label_width - count_room) / max_count if max_count else 0.0
    bars = tuple(
        ChartBar(
            label=key.capitalize(),
            count=counts.get(key, 0),
            y=index * (bar_height + gap),
            width=round(counts.get(key, 0) * scale, 1),
            colour=SEVERITY_COLOURS.get(key, OTHER_COLOUR),
        )
        for index, key in enumerate(keys)
    )
    height = len(bars) * (bar_height + gap) - gap if bars else bar_height
    return SeverityChart(bars, width, height, label_width, bar_height, max_count)


@dataclass(frozen=True)
class Column:
    label: str
    count: int
    x: float            # left edge of the column
    centre: float       # where its count and label are centred
    y: float            # top of the column
    height: float
    colour: str


@dataclass(frozen=True)
class ColumnChart:
    """Vertical columns left to right, in the order given (for expiry: soonest first)."""

    columns: tuple[Column, ...]
    width: int
    height: int
    column_width: float
    baseline: float     # y of the axis the columns stand on
    label_y: float      # baseline of the labels under the axis
    total: int


def expiry_chart(buckets: Sequence[tuple[str, int]], *, width: int = 480, plot_height: int = 76) -> ColumnChart:
    top, label_room = 14, 16    # room for the count above the tallest column, and for the labels below
    slot = width / max(len(buckets), 1)
    column_width = round(slot * 0.56, 1)
    peak = max((count for _, count in buckets), default=0)
    baseline = top + plot_height
    columns = []
    for index, (label, count) in enumerate(buckets):
        height = round(plot_height * count / peak, 1) if peak else 0.0
        columns.append(Column(
            label=label, count=count, x=round(index * slot + (slot - column_width) / 2, 1),
            centre=round(index * slot + slot / 2, 1), y=round(baseline - height, 1), height=height,
            colour=EXPIRY_COLOURS.get(label, CALM_COLOUR)))
    return ColumnChart(tuple(columns), width, baseline + label_room, column_width, baseline, baseline + 12,
                       sum(count for _, count in buckets))


@dataclass(frozen=True)
class TrendPoint:
    label: str
    score: float | None
    x: float
    y: float | None     # None: the run has no score, drawn as a gap


@dataclass(frozen=True)
class AxisLabel:
    position: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class TrendChart:
    """Score (0–100, fixed scale so a small change looks small) over runs, oldest left."""

    points: tuple[TrendPoint, ...]
    lines: tuple[str, ...]          # SVG polyline `points`, one per run of consecutive scored runs
    grid: tuple[AxisLabel, ...]     # y gridlines with their score
    x_labels: tuple[AxisLabel, ...]
    width: int
    height: int
    left: float
    right: float
    label_y: float
    last: TrendPoint | None         # the newest scored run, labelled with its value
    gaps: bool                      # some run had no score


def trend_chart(history: Sequence[tuple[str, float | None]], *, width: int = 208, plot_height: int = 64,
                max_labels: int = 2) -> TrendChart:
    left, right_room, top, label_room = 22.0, 24.0, 6.0, 14.0
    right = width - right_room
    step = (right - left) / (len(history) - 1) if len(history) > 1 else 0.0

    def y_of(score: float) -> float:
        return round(top + (100 - min(max(score, 0.0), 100.0)) / 100 * plot_height, 1)

    points = tuple(TrendPoint(label, score, round(left + i * step, 1), None if score is None else y_of(score))
                   for i, (label, score) in enumerate(history))
    lines: list[str] = []
    run: list[str] = []
    for point in (*points, None):
        if point is not None and point.y is not None:
            run.append(f"{point.x},{point.y}")
            continue
        if len(run) > 1:
            lines.append(" ".join(run))
        run = []
    grid = tuple(AxisLabel(y_of(v), str(v)) for v in (0, 50, 100))
    scored = [p for p in points if p.y is not None]
    return TrendChart(points, tuple(lines), grid, _x_labels(points, max_labels), width,
                      int(top + plot_height + label_room), left, right, top + plot_height + 11,
                      scored[-1] if scored else None, len(scored) < len(points))


def _x_labels(points: Sequence[TrendPoint], limit: int) -> tuple[AxisLabel, ...]:
    if not points:
        return ()
    count = min(len(points), max(limit, 2))
    indices = sorted({round(k * (len(points) - 1) / (count - 1)) for k in range(count)}) if count > 1 else [0]
    last = len(points) - 1
    return tuple(AxisLabel(points[i].x, points[i].label, "start" if i == 0 else "end" if i == last else "middle")
                 for i in indices)
