"""The sensor chart: one vertex per reading, the allowed range shaded, excursions marked, no script or style."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from trace_api.http.charts import Reading, _ticks, sensor_chart, summarise

SVG = "{http://www.w3.org/2000/svg}"
T0 = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def readings(values: list[float]) -> list[Reading]:
    return [Reading(T0 + dt.timedelta(minutes=5 * i), v) for i, v in enumerate(values)]


def test_one_vertex_per_reading_in_time_order() -> None:
    data = readings([18.0, 18.4, 19.1, 18.2])
    svg = ET.fromstring(sensor_chart(list(reversed(data)), quantity="Temperature", unit="°C"))
    (line,) = svg.iter(f"{SVG}polyline")
    xs = [float(p.split(",")[0]) for p in line.get("points", "").split()]
    assert len(xs) == 4 and xs == sorted(xs)
    assert svg.get("data-points") == "4" and svg.get("role") == "img"


def test_range_is_shaded_and_excursions_marked() -> None:
    data = readings([17.5, 18.0, 26.2, 18.1, 14.0])
    svg = ET.fromstring(sensor_chart(data, quantity="Temperature", unit="°C", low=15, high=25))
    assert len(list(svg.iter(f"{SVG}rect"))) == 1
    marks = [c for c in svg.iter(f"{SVG}circle") if c.get("class") == "excursion"]
    assert len(marks) == 2 and svg.get("data-excursions") == "2"
    assert "5 readings, 14 to 26.2 °C, 2 outside" in svg.findtext(f"{SVG}desc", "")
    assert summarise(data, 15, 25).excursions == 2


def test_values_map_to_heights_linearly() -> None:
    svg = ET.fromstring(sensor_chart(readings([10.0, 20.0, 15.0]), quantity="T", unit="°C"))
    (line,) = svg.iter(f"{SVG}polyline")
    ys = [float(p.split(",")[1]) for p in line.get("points", "").split()]
    assert ys[0] > ys[2] > ys[1] and abs((ys[0] + ys[1]) / 2 - ys[2]) < 0.2


def test_no_script_no_style_and_text_is_escaped() -> None:
    text = sensor_chart(readings([1.0]), quantity="<script>alert(1)</script>", unit="&")
    assert "<script" not in text and "style=" not in text and "&lt;script&gt;" in text
    ET.fromstring(text)  # one reading still draws a valid chart


def test_labels_translate_the_summary() -> None:
    text = sensor_chart(
        readings([18.0, 30.0]),
        quantity="温度",
        unit="°C",
        high=25,
        labels={"summary": "{count} 个读数，{min}–{max} {unit}，{excursions} 个超出范围"},
    )
    assert "2 个读数，18–30 °C，1 个超出范围" in text


def test_ticks_are_round_and_cover_the_range() -> None:
    ticks = _ticks(14.0, 26.2)
    assert ticks[0] <= 14.0 and ticks[-1] >= 26.2 and all(t == round(t, 6) for t in ticks)
    with pytest.raises(ValueError):
        sensor_chart([], quantity="T", unit="°C")
