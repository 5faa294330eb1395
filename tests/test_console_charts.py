"""Server-drawn SVG charts: round axes, a title, axis labels, numbers on every mark, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from cds_service.console import charts
from cds_service.console.charts import Series

HOSTILE = '<script>alert(1)</script>"&'
SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: Markup) -> ET.Element:
    """The chart must be well-formed XML (an unescaped label would break it)."""
    return ET.fromstring(str(svg))  # noqa: S314 - our own output, parsed to check it


@pytest.mark.parametrize(
    ("maximum", "integer", "expected"),
    [
        (0, True, [0, 1]),
        (17, True, [0, 5, 10, 15, 20]),
        (11, True, [0, 5, 10, 15]),
        (3, True, [0, 1, 2, 3]),
        (1.0, False, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (73.4, False, [0, 20, 40, 60, 80]),
    ],
)
def test_ticks_are_round_and_cover_the_data(
    maximum: float, integer: bool, expected: list[float]
) -> None:
    assert charts.ticks(maximum, integer=integer) == pytest.approx(expected)


def charts_under_test() -> list[tuple[str, Markup]]:
    labels = ["11-01", "11-02", HOSTILE]
    return [
        (
            "vbars",
            charts.vbars(
                "Bars " + HOSTILE,
                labels,
                [Series("a", [1, 2, 3], "s0"), Series(HOSTILE, [0, 1, None], "s1")],
                x_label="day",
                y_label="count",
            ),
        ),
        (
            "hbars",
            charts.hbars(
                "Rows",
                labels,
                [Series("info", [4, 0, 1], "info")],
                x_label="cards",
                links=["/console/rules/a", None, "/console/rules/" + HOSTILE],
            ),
        ),
        (
            "lines",
            charts.lines(
                "Lines",
                labels,
                [Series("p50", [1.5, None, 2.5], "s0")],
                x_label="day",
                y_label="ms",
                fmt=charts.millis,
            ),
        ),
        (
            "heatmap",
            charts.heatmap(
                "Heat",
                ["rule-a", HOSTILE],
                ["w1", "w2"],
                [[0.5, None], [1.0, 0.0]],
                [["a1", "a2"], [HOSTILE, "b2"]],
                x_label="week",
            ),
        ),
    ]


@pytest.mark.parametrize(("kind", "svg"), charts_under_test())
def test_every_chart_has_a_title_axes_and_numbers_on_its_marks(kind: str, svg: Markup) -> None:
    root = parsed(svg)
    assert root.get("role") == "img"
    assert root.get("aria-label")
    assert root.find(f"{SVG}title") is not None
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "axis-label"]
    assert labels, kind
    marks = [e for e in root.iter() if "mark" in (e.get("class") or "").split()]
    assert marks, kind
    for mark in marks:
        assert mark.get("data-tip"), kind
        title = mark.find(f"{SVG}title")
        assert title is not None
        assert title.text == mark.get("data-tip")
        assert re.search(r"\d", title.text or ""), kind  # the numbers are in the hover text
    assert "<script>" not in str(svg)


def test_a_line_breaks_where_there_is_no_data() -> None:
    svg = charts.lines(
        "Gaps", ["a", "b", "c", "d"], [Series("x", [1, 2, None, 3], "s0")], x_label="", y_label=""
    )
    path = parsed(svg).find(f"{SVG}path")
    assert path is not None
    assert (path.get("d") or "").count("M") == 2
