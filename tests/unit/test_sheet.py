"""The spreadsheet form of `trace import`: delimiters, columns, rows, the template (no chain needed)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from trace_api.epcis import parse_event
from trace_api.epcis.vocab import STEP_CODES
from trace_api.errors import ValidationError
from trace_api.services import sheet

HEADER = ["gtin", "lot", "step", "event_time", "location", "sensor_type", "sensor_value", "sensor_uom"]
ROW = ["09506000134352", "L1", "storing", "2026-11-20T08:00:00Z", "9506000134031", "Temperature", "18.5", "CEL"]


def _write(tmp_path: Path, delimiter: str, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    path = tmp_path / "readings.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerows([header, *rows])
    return path


def _events(path: Path, **kwargs: object) -> list[tuple[int, dict]]:
    return [
        (n, sheet.event_from_row(row, header, dev_names=True)) for n, row, header in sheet.read_rows(path, **kwargs)
    ]  # type: ignore[arg-type]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_each_delimiter_reads_the_same_events(tmp_path: Path, delimiter: str) -> None:
    events = _events(_write(tmp_path, delimiter, [ROW, [*ROW[:3], "2026-11-20T09:00:00Z", *ROW[4:]]]))
    assert [n for n, _ in events] == [2, 3]
    reading = events[0][1]["sensorElementList"][0]["sensorReport"][0]
    assert reading == {"type": "Temperature", "value": 18.5, "uom": "CEL"}


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_a_decimal_comma_is_read_where_the_comma_is_no_delimiter(tmp_path: Path, delimiter: str) -> None:
    ((_, event),) = _events(_write(tmp_path, delimiter, [[*ROW[:6], "18,5", "CEL"]]))
    assert event["sensorElementList"][0]["sensorReport"][0]["value"] == 18.5


def test_a_decimal_comma_in_a_comma_file_is_a_stray_value_not_a_shifted_row(tmp_path: Path) -> None:
    path = tmp_path / "readings.csv"
    path.write_text(",".join(HEADER) + "\n" + ",".join([*ROW[:6], "18", "5", "CEL"]) + "\n")
    ((number, row, header),) = sheet.read_rows(path)
    with pytest.raises(ValidationError, match="has 9 values, the header 8 columns"):
        sheet.event_from_row(row, header, dev_names=True)


def test_header_names_are_trimmed_and_case_blind_and_blank_rows_keep_the_numbering(tmp_path: Path) -> None:
    path = tmp_path / "readings.csv"
    path.write_text("\ufeff GTIN ;Lot;STEP;event_time\n\n09506000134352;L1;storing;2026-11-20T08:00:00Z\n")
    assert [n for n, _ in _events(path)] == [3]  # the spreadsheet's row 3: row 2 is blank


def test_an_unknown_column_is_refused_by_name_unless_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, ";", [[*ROW[:4], "4.5"]], header=[*HEADER[:4], "temperature"])
    with pytest.raises(ValidationError, match=r"unknown column\(s\) temperature: nothing imported.*--ignore-column"):
        _events(path)
    assert len(_events(path, ignore=["Temperature"])) == 1
    with pytest.raises(ValidationError, match="--ignore-column humidity: no such column"):
        _events(path, ignore=["temperature", "humidity"])


def test_missing_and_repeated_columns(tmp_path: Path) -> None:
    with pytest.raises(
        ValidationError,
        match=r"missing required column\(s\) event_time \(header read as "
        r"tab-separated",
    ):
        _events(_write(tmp_path, "\t", [ROW[:3]], header=HEADER[:3]))
    with pytest.raises(ValidationError, match="lot appear more than once"):
        _events(_write(tmp_path, ",", [ROW[:5]], header=[*HEADER[:4], "lot"]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({2: "drying"}, "step 'drying' is not a CBV 2.0 business step"),
        ({3: ""}, "event_time empty"),
        ({6: "warm"}, "sensor_value 'warm' is not a number"),
        ({5: ""}, "without a sensor_type"),
    ],
)
def test_bad_rows_say_what_is_wrong(tmp_path: Path, change: dict[int, str], message: str) -> None:
    row = [change.get(i, v) for i, v in enumerate(ROW)]
    with pytest.raises(ValidationError, match=message):
        _events(_write(tmp_path, ",", [row]))


def test_the_template_has_every_column_and_one_valid_row_per_step(tmp_path: Path) -> None:
    text = sheet.template()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(sheet.COLUMNS)
    assert [r["step"] for r in rows] == list(sheet.STEPS)
    assert set(sheet.STEPS) == set(STEP_CODES) - {"transforming"}
    assert {c for c in sheet.COLUMNS if any(r[c] for r in rows)} == set(sheet.COLUMNS)  # each column shown used
    path = tmp_path / "template.csv"
    path.write_text(text)
    events = _events(path)
    assert len(events) == len(sheet.STEPS)
    for _, event in events:
        parse_event(event)


def test_findings_name_repeated_rows_and_unregistered_batches(tmp_path: Path) -> None:
    other = [*ROW[:3], "2026-11-20T09:00:00Z", *ROW[4:]]
    path = _write(tmp_path, ",", [ROW, other, ROW, other, ROW])
    findings = sheet.Findings()
    assert [n for n, _, _ in sheet.read_rows(path, findings=findings)] == [2, 3]  # repeats are not yielded
    findings.unregistered_batch(4, "0x01", "GTIN 09506000134352 lot L9")
    findings.unregistered_batch(7, "0x01", "GTIN 09506000134352 lot L9")
    assert findings.bad_rows() == 5
    assert findings.messages() == [
        "rows 2, 4, 6 are the same (duplicate rows)",
        "rows 3, 5 are the same (duplicate rows)",
        "batch GTIN 09506000134352 lot L9 is not registered (rows 4, 7): register it first with "
        "`trace batch register`, or correct its GTIN/lot",
    ]
