"""The spreadsheet form of `trace import`: its columns, the steps it takes, a template, and reading a CSV whatever
its delimiter (``,``, ``;`` or tab, as spreadsheets save them).

A column this module does not know is an error, never silently dropped (a ``temperature`` column would lose every
reading); ``ignore`` names the columns a user chose to leave out. Rows are numbered as a spreadsheet numbers them:
the header is row 1.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace_api.domain import batch_key, parse_gln, resolve_account
from trace_api.epcis.vocab import BIZ_STEPS, STEP_CODES, biz_step_name
from trace_api.errors import ValidationError
from trace_api.services.batches import build_event

COLUMNS: dict[str, str] = {  # in the template's order
    "gtin": "GTIN-8/12/13/14 of the batch, with its check digit (required)",
    "lot": "the batch's lot number, GS1 AI 10 (required)",
    "step": "what happened, a CBV 2.0 business step (required; see the steps)",
    "event_time": "when, ISO 8601 with a time zone, e.g. 2026-11-20T08:00:00Z (required)",
    "location": "GLN (13 digits) of where it happened",
    "to": "consignee of a shipping step: an address (or a dev account name on the local chain)",
    "disposition": "CBV 2.0 disposition after the step, e.g. in_transit",
    "sensor_type": "GS1 measurement type of a reading, e.g. Temperature",
    "sensor_value": "the reading, a number (a decimal comma is accepted in a ';' or tab file)",
    "sensor_uom": "UN/ECE Rec 20 unit of the reading, e.g. CEL",
}
REQUIRED = ("gtin", "lot", "step", "event_time")
# The registry's lifecycle steps (its Step enum) in a batch's usual order; a transformation is `trace batch
# derive`, not a row.
STEPS = (
    "commissioning",
    "inspecting",
    "packing",
    "storing",
    "sensor_reporting",
    "shipping",
    "departing",
    "arriving",
    "receiving",
    "retail_selling",
    "holding",
    "destroying",
)
assert set(STEPS) == set(STEP_CODES) - {"transforming"}, "a lifecycle step is missing from the spreadsheet's list"
OTHER_STEPS = tuple(sorted(BIZ_STEPS - set(STEPS)))
DELIMITERS = (",", ";", "\t")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def steps_note() -> str:
    return f"steps: {', '.join(STEPS)}; any other CBV 2.0 step is accepted too ({', '.join(OTHER_STEPS)})"


def columns_note() -> str:
    return "columns: " + ", ".join(f"{c} ({'required' if c in REQUIRED else 'optional'})" for c in COLUMNS)


@dataclass(frozen=True)
class Header:
    delimiter: str
    columns: list[str]  # as read, normalised (stripped, lower case)
    used: dict[str, int]  # known column -> its position


def _normal(name: str) -> str:
    return name.strip().lower()


def read_header(line: str, *, name: str, ignore: Iterable[str] = ()) -> Header:
    """The header row: its delimiter (the candidate that splits it into the most known column names), and its
    columns, checked: every required one present, none unknown unless ignored, none twice."""
    best: tuple[int, int, str, list[str]] | None = None
    for delimiter in DELIMITERS:
        fields = [_normal(f) for f in next(csv.reader([line], delimiter=delimiter), [])]
        score = (len(set(fields) & COLUMNS.keys()), len(fields))
        if best is None or score > best[:2]:
            best = (*score, delimiter, fields)
    assert best is not None
    _, _, delimiter, columns = best
    ignored = {_normal(c) for c in ignore}
    stray = sorted(ignored - set(columns))
    if stray:
        raise ValidationError(
            f"{name}: --ignore-column {', '.join(stray)}: no such column in the header "
            f"({', '.join(c for c in columns if c)})"
        )
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        shown = {",": "comma", ";": "semicolon", "\t": "tab"}[delimiter]
        raise ValidationError(
            f"{name}: missing required column(s) {', '.join(missing)} (header read as "
            f"{shown}-separated: {', '.join(columns) or 'empty'}); {columns_note()}"
        )
    unknown = [c or "(empty)" for c in columns if c not in COLUMNS and c not in ignored]
    if unknown:
        raise ValidationError(
            f"{name}: unknown column(s) {', '.join(unknown)}: nothing imported; the "
            f"{columns_note()}; sensor readings go in sensor_type, sensor_value, sensor_uom; "
            f"to import without a column, pass --ignore-column NAME"
        )
    twice = sorted({c for c in columns if columns.count(c) > 1 and c in COLUMNS})
    if twice:
        raise ValidationError(f"{name}: column(s) {', '.join(twice)} appear more than once in the header")
    return Header(delimiter, columns, {c: i for i, c in enumerate(columns) if c in COLUMNS})


def read_rows(path: Path, *, ignore: Iterable[str] = (),
              findings: Findings | None = None) -> Iterator[tuple[int, dict[str, str], Header]]:  # fmt: skip
    """(row number, {known column: value}, header) for each non-blank row. With ``findings``, a row whose values
    repeat an earlier row's is noted there instead of yielded."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        first = fh.readline()
        header = read_header(first.rstrip("\r\n"), name=path.name, ignore=ignore)
        reader = csv.reader(fh, delimiter=header.delimiter)
        width = len(header.columns)
        for number, fields in enumerate(reader, start=2):
            if not any(f.strip() for f in fields):
                continue
            if len(fields) > width:
                yield (
                    number,
                    {
                        "": f"has {len(fields)} values, the header {width} columns (a stray "
                        f"{_delimiter_name(header.delimiter)} in a value?)"
                    },
                    header,
                )
                continue
            row = {c: fields[i].strip() for c, i in header.used.items() if i < len(fields)}
            if findings is None or findings.row(number, row):
                yield number, row, header
    if findings is not None:
        findings.source = (path, tuple(ignore))


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab"}[delimiter]


def event_from_row(row: dict[str, str], header: Header, *, dev_names: bool) -> dict[str, Any]:
    """The EPCIS event of one row; ValidationError says what is wrong with it."""
    if "" in row:
        raise ValidationError(row[""])
    empty = [c for c in REQUIRED if not row.get(c)]
    if empty:
        raise ValidationError(f"{', '.join(empty)} empty")
    key = batch_key(row["gtin"], row["lot"])
    step = row["step"]
    if biz_step_name(step) is None:
        raise UnknownStep(f"step {step!r} is not a CBV 2.0 business step")
    gln = row.get("location") or None
    parse_gln(gln)
    to = resolve_account(row.get("to") or None, dev_names=dev_names)
    event = build_event(key=key, step=step, gln=gln, to=to, when=row["event_time"])
    if row.get("disposition"):
        event["disposition"] = row["disposition"]
    if row.get("sensor_type"):
        event["sensorElementList"] = [{"sensorReport": [_reading(row, header.delimiter)]}]
    elif row.get("sensor_value") or row.get("sensor_uom"):
        raise ValidationError("a sensor_value or sensor_uom without a sensor_type (e.g. Temperature)")
    return event


class UnknownStep(ValidationError):
    """A row's step is not a CBV 2.0 business step (the import's error then lists the steps)."""


def _reading(row: dict[str, str], delimiter: str) -> dict[str, Any]:
    text = row.get("sensor_value", "")
    if delimiter != "," and _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError as exc:
        raise ValidationError(f"sensor_value {row.get('sensor_value')!r} is not a number") from exc
    if not math.isfinite(value):
        raise ValidationError(f"sensor_value {row.get('sensor_value')!r} is not a finite number")
    report: dict[str, Any] = {"type": row["sensor_type"], "value": value}
    if row.get("sensor_uom"):
        report["uom"] = row["sensor_uom"]
    return report


_EXAMPLE_BATCH = {"gtin": "09506000134352", "lot": "L1", "location": "9506000134031"}
_EXAMPLE_EXTRA: dict[str, dict[str, str]] = {
    "inspecting": {"disposition": "conformant"},
    "storing": {"sensor_type": "Temperature", "sensor_value": "18.5", "sensor_uom": "CEL"},
    "sensor_reporting": {"sensor_type": "RelativeHumidity", "sensor_value": "61", "sensor_uom": "P1"},
    "shipping": {"to": "processor", "disposition": "in_transit"},
    "holding": {"disposition": "non_sellable_other"},
    "destroying": {"disposition": "destroyed"},
}


def template() -> str:
    """A CSV with every column and one example row per lifecycle step, an hour apart."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for hour, step in enumerate(STEPS):
        writer.writerow(
            {
                **_EXAMPLE_BATCH,
                "step": step,
                "event_time": f"2026-11-20T{6 + hour:02d}:00:00Z",
                **_EXAMPLE_EXTRA.get(step, {}),
            }
        )
    return out.getvalue()


def _numbers(rows: list[int], limit: int = 10) -> str:
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


class Findings:
    """What a spreadsheet's rows say together: the same row twice, batches no one registered, unknown steps.
    Pass 1 notes them (:func:`read_rows` the repeated rows, the import the rest); its messages join the import's
    error."""

    def __init__(self) -> None:
        self._seen: set[int] = set()  # hashes only: a 1,000,000-row file must not be held in memory
        self.repeated: dict[int, list[int]] = {}
        self.unregistered: dict[str, tuple[str, list[int]]] = {}
        self.unknown_step = False
        self.source: tuple[Path, tuple[str, ...]] | None = None

    @staticmethod
    def identity(row: dict[str, str]) -> int:
        return hash(tuple(row.items()))

    def row(self, number: int, row: dict[str, str]) -> bool:
        """Note a row; False when it repeats an earlier row."""
        h = self.identity(row)
        if h in self._seen:
            self.repeated.setdefault(h, []).append(number)
            return False
        self._seen.add(h)
        return True

    def unregistered_batch(self, number: int, batch_id: str, name: str) -> None:
        self.unregistered.setdefault(batch_id, (name, []))[1].append(number)

    def bad_rows(self) -> int:
        return sum(len(r) for r in self.repeated.values()) + sum(len(r) for _, r in self.unregistered.values())

    def _first_rows(self) -> dict[int, int]:
        """The first row of each repeated row, read again (pass 1 kept hashes, not row numbers)."""
        first: dict[int, int] = {}
        if self.repeated and self.source is not None:
            path, ignore = self.source
            for number, row, _ in read_rows(path, ignore=ignore):
                h = self.identity(row)
                if h in self.repeated:
                    first.setdefault(h, number)
        return first

    def messages(self) -> list[str]:
        first = self._first_rows()
        found = [
            f"rows {_numbers(sorted([first[h], *later]))} are the same (duplicate rows)"
            for h, later in self.repeated.items()
            if h in first
        ]
        found += [
            f"batch {name} is not registered (rows {_numbers(rows)}): register it first with "
            f"`trace batch register`, or correct its GTIN/lot"
            for name, rows in self.unregistered.values()
        ]
        if self.unknown_step:
            found.append(steps_note())
        return found
