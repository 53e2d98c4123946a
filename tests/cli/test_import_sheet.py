"""`trace import` of a producer's spreadsheet through the real command on a real anvil: the template and --help
show every column and step; bad sheets are refused in one line (JSON with --json) and leave nothing behind."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.conftest import run_trace
from tests.conftest import trace_fails as fails
from tests.conftest import trace_ok as ok
from trace_api.services import sheet

GTIN = "09506000134352"
GLN = "9506000134031"


def _lot() -> str:
    return "S" + uuid.uuid4().hex[:10].upper()


def _timeline(env: dict[str, str], lot: str) -> list[dict]:
    return ok(env, "batch", "show", GTIN, lot)["timeline"]


def test_template_and_help_show_every_column_and_step(trace_session_env: dict[str, str], tmp_path: Path) -> None:
    env = trace_session_env
    help_text = " ".join(run_trace("import", "--help", env={**env, "COLUMNS": "200"}).stdout.split())
    missing = [name for name in (*sheet.COLUMNS, *sheet.STEPS, *sheet.OTHER_STEPS) if name not in help_text]
    assert not missing, missing
    out = tmp_path / "events.csv"
    written = ok(env, "import", "--template", str(out))
    assert written["columns"] == list(sheet.COLUMNS) and written["rows"] == len(sheet.STEPS)
    assert out.read_text() == sheet.template()
    assert "exists" in fails(env, 1, "import", "--template", str(out))  # never overwrites a user's file


def test_bad_sheets_are_refused_whole_with_row_numbers(trace_session_env: dict[str, str], tmp_path: Path) -> None:
    env, lot, other = trace_session_env, _lot(), _lot()
    ok(env, "batch", "register", "--gtin", GTIN, "--lot", lot)
    reading = f"{GTIN};{lot};storing;2026-11-20T0{{h}}:00:00Z;{GLN};Temperature;18,{{h}};CEL"
    rows = [reading.format(h=h) for h in range(6)]
    header = "gtin;lot;step;event_time;location;sensor_type;sensor_value;sensor_uom"

    def sheet_of(name: str, *lines: str, head: str = header) -> str:
        path = tmp_path / name
        path.write_text("\n".join([head, *lines]) + "\n")
        return str(path)

    # A `temperature` column is never dropped without a word: refused, named, until --ignore-column says so.
    extra = sheet_of("extra.csv", *(r + ";4.5" for r in rows), head=header + ";temperature")
    line = fails(env, 1, "import", extra)
    assert "unknown column(s) temperature" in line and "--ignore-column" in line
    problem = json.loads(run_trace("import", extra, "--json", env=env).stderr)  # --json: one JSON object
    assert problem["exit_status"] == 1 and "temperature" in problem["error"]

    # The same reading twice, a batch no one registered, a step the CBV does not know: every row named.
    line = fails(
        env,
        1,
        "import",
        sheet_of(
            "bad.csv",
            *rows,
            rows[1],
            f"{GTIN};{other};storing;2026-11-21T00:00:00Z;;;;",
            f"{GTIN};{other};storing;2026-11-21T01:00:00Z;;;;",
            f"{GTIN};{lot};drying;2026-11-21T02:00:00Z;;;;",
        ),
    )
    assert "rows 3, 8 are the same (duplicate rows)" in line
    assert f"batch GTIN {GTIN} lot {other} is not registered (rows 9, 10)" in line
    assert "row 11: step 'drying' is not a CBV 2.0 business step" in line and "steps: commissioning" in line
    assert _timeline(env, lot) == []  # nothing of any of it was written

    # A semicolon sheet with decimal commas, the extra column ignored: every reading imported.
    report = ok(env, "import", extra, "--ignore-column", "temperature")
    assert report["rows"] == report["new_events"] == 6

    limited = ok(env, "batch", "show", GTIN, lot, "--limit", "2")
    assert limited["timeline_total"] == 6 and len(limited["timeline"]) == 2
    assert [e["event_time"] for e in limited["timeline"]] == [e["event_time"] for e in _timeline(env, lot)[-2:]]


def test_a_step_that_cannot_be_recorded_lists_the_steps(trace_session_env: dict[str, str]) -> None:
    env, lot = trace_session_env, _lot()
    ok(env, "batch", "register", "--gtin", GTIN, "--lot", lot)
    line = fails(env, 1, "event", "add", GTIN, lot, "--step", "drying")
    assert "'drying' cannot be recorded on chain" in line
    assert all(step in line for step in sheet.STEPS)
