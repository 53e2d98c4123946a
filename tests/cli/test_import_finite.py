"""`trace import` refuses non-finite numbers anywhere in a file (a sensor value, an extension field) before
anything is written (issue 16: finite numbers only, in every input)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_trace

GTIN = "09506000134352"


def _document(extension: str) -> str:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-20T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "bizStep": "sensor_reporting",
        "quantityList": [{"epcClass": f"https://id.gs1.org/01/{GTIN}/10/L1"}],
        "https://example.org/reading": 12345.5,
    }
    document = {
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-20T11:00:00Z",
        "epcisBody": {"eventList": [event]},
    }
    return json.dumps(document).replace("12345.5", extension)


@pytest.mark.parametrize("literal", ["NaN", "-Infinity", "1e999"])
def test_a_non_finite_extension_value_is_refused(
    trace_session_env: dict[str, str], tmp_path: Path, literal: str
) -> None:
    path = tmp_path / "doc.jsonld"
    path.write_text(_document(literal))
    result = run_trace("import", str(path), env=trace_session_env)
    assert result.code == 1 and "finite" in result.stderr, result.stderr


def test_a_non_finite_csv_sensor_value_is_refused(trace_session_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "readings.csv"
    path.write_text(
        "gtin,lot,step,event_time,sensor_type,sensor_value\n"
        f"{GTIN},L1,sensor_reporting,2026-11-20T10:00:00Z,Temperature,inf\n"
    )
    result = run_trace("import", str(path), env=trace_session_env)
    assert result.code == 1 and "finite" in result.stderr, result.stderr
