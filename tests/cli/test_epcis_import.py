"""GS1's EPCIS 2.0 example documents imported as a partner sends them, nothing registered first; refusals that
leave the store exactly as it was. On a real anvil through the real `trace` command.

GS1's ~120 example documents all go into one chain and home, each through `trace import` run in this process
(``trace_here``: the command's own entry point, ``cli.main.main``, with its exit status and output, without a
Python start-up per call); the re-import, the verifications and the chain's refusal run `trace` as a subprocess."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult, run_trace

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "data" / "epcis" / "gs1-epcis"
JSON_EXAMPLES = sorted((EXAMPLES / "json").rglob("*.jsonld"))
XML_EXAMPLES = sorted(p for p in (EXAMPLES / "xml").rglob("*.xml") if p.parent.name != "1.2") + [
    EXAMPLES / "xml" / "1.2" / name for name in ("AggregationEvent.xml", "TransactionEvent.xml",
                                                 "TransformationEvent.xml")]  # fmt: skip


def _events_in(path: Path) -> int:
    body = json.loads(path.read_text(encoding="utf-8"))["epcisBody"]
    if "queryResults" in body:
        body = body["queryResults"]["resultsBody"]
    return len(body.get("eventList") or [body.get("event")])


def _snapshot(env: dict[str, str]) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    from trace_api.config import Settings

    settings = Settings(home=Path(env["TRACE_HOME"]), node_port=int(env["TRACE_NODE_PORT"]))
    engine = create_engine(settings.effective_database_url)
    with engine.connect() as conn:
        counts = {name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
                  for name in ("epcis_events", "event_batches", "anchor_roots")}  # fmt: skip
    engine.dispose()
    return counts


def _ok(env: dict[str, str], *args: str) -> dict:
    result = run_trace(*args, "--json", env=env)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def chain_env(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.conftest import free_port

    env = {"TRACE_HOME": str(tmp_path_factory.mktemp("epcis-home")), "TRACE_NODE_PORT": str(free_port())}
    assert run_trace("deploy", env=env).code == 0
    yield env
    run_trace("node", "stop", env=env)


class TraceHere:
    """`trace ARGS` in this process, on one chain's environment (see the module's docstring)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def run(self, *args: str) -> CliResult:
        from cli.main import main

        self.capsys.readouterr()
        code = main(list(args))
        out = self.capsys.readouterr()
        return CliResult(code, out.out, out.err)

    def __call__(self, *args: str) -> Any:
        """`trace ARGS --json`: asserts exit 0, returns the JSON output."""
        result = self.run(*args, "--json")
        assert result.code == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def trace_here(chain_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str]) -> Iterator[TraceHere]:  # fmt: skip
    for name, value in chain_env.items():
        monkeypatch.setenv(name, value)
    umask = os.umask(0o022)
    os.umask(umask)
    yield TraceHere(capsys)
    os.umask(umask)  # the command makes the process's files private; later tests in this worker expect not


def test_every_gs1_json_example_is_accepted_and_anchored(chain_env: dict[str, str],
                                                         trace_here: TraceHere) -> None:  # fmt: skip
    accepted = 0
    for path in JSON_EXAMPLES:
        report = trace_here("import", str(path))
        assert report["rows"] == _events_in(path), path.name
        accepted += report["rows"]
    assert accepted == 56  # every event of GS1's 56
    anchored = _ok(chain_env, "anchor")
    assert anchored["roots_built"] == 0  # imports anchored their own roots; nothing left pending
    again = _ok(chain_env, "import", str(JSON_EXAMPLES[0]))
    assert again["new_events"] == 0  # keyed by hash: nothing twice
    for path in (JSON_EXAMPLES[0], EXAMPLES / "json" / "Example_9.6.1-ObjectEvent.jsonld"):
        verdicts = _ok(chain_env, "epcis", "verify", str(path))  # no batch registered: proofs against roots
        assert [v["status"] for v in verdicts] == ["verified"] * _events_in(path)
        assert {v["how"] for v in verdicts} == {"merkle"}


def test_verify_refuses_an_event_never_captured(chain_env: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "other.jsonld"
    other.write_text(
        '{"type":"ObjectEvent","eventTime":"2031-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00",'
        '"action":"OBSERVE","epcList":["urn:epc:id:sgtin:4012345.011111.99"]}'
    )
    result = run_trace("epcis", "verify", str(other), env=chain_env)
    assert result.code == 6, result.stderr
    assert "1 of 1 events not verified" in result.stderr


def test_every_gs1_xml_example_is_accepted_and_anchored(chain_env: dict[str, str],
                                                        trace_here: TraceHere) -> None:  # fmt: skip
    accepted = 0
    for path in XML_EXAMPLES:
        report = trace_here("import", str(path))
        accepted += report["rows"]
        hashes = trace_here("epcis", "hash", str(path))
        assert len(hashes) == report["rows"], path.name
    assert accepted == 64  # the 2.0 examples' 60 events and three 1.2 documents' 4
    assert _ok(chain_env, "anchor")["roots_built"] == 0


BAD_EVENTS = {
    "non-finite number": '{"type":"ObjectEvent","eventTime":"2024-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00",'
    '"action":"OBSERVE","epcList":["urn:epc:id:sgtin:4012345.011111.1"],"sensorElementList":'
    '[{"sensorReport":[{"type":"Temperature","value":NaN}]}]}',
    "unknown field": '{"type":"ObjectEvent","eventTime":"2024-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00",'
    '"action":"OBSERVE","colour":"red"}',
    "no time zone": '{"type":"ObjectEvent","eventTime":"2024-01-01T00:00:00","eventTimeZoneOffset":"+00:00",'
    '"action":"OBSERVE"}',
    "not JSON": "<xml",
}


@pytest.mark.parametrize("case", sorted(BAD_EVENTS))
def test_refused_file_leaves_the_store_as_it_was(chain_env: dict[str, str], trace_here: TraceHere, tmp_path: Path,
                                                case: str) -> None:  # fmt: skip
    good = (
        '{"type":"ObjectEvent","eventTime":"2024-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00",'
        '"action":"OBSERVE","bizStep":"shipping","readPoint":{"id":"urn:epc:id:sgln:4012345.00001.0"},'
        '"epcList":["urn:epc:id:sgtin:4012345.011111.' + case.replace(" ", "") + '"]}'
    )
    document = tmp_path / "bad.jsonld"
    document.write_text(
        '{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],'
        '"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2024-01-01T00:00:00Z",'
        f'"epcisBody":{{"eventList":[{good},{BAD_EVENTS[case]}]}}}}'
    )
    before = _snapshot(chain_env)
    result = trace_here.run("import", str(document))
    assert result.code == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trace: error: "), result.stderr
    assert _snapshot(chain_env) == before
    assert trace_here("anchor")["roots_built"] == 0


def test_export_json_and_xml_rehash_to_the_anchored_hashes(trace_here: TraceHere, tmp_path: Path) -> None:
    from trace_api.epcis import event_hash_bytes, iter_events

    gtin, lot = "09506000134352", "EXPORT1"
    trace_here("batch", "register", "--gtin", gtin, "--lot", lot, "--quantity", "10", "--uom", "KGM")
    trace_here("event", "add", gtin, lot, "--step", "storing", "--location", "9506000134000")
    timeline = trace_here("batch", "show", gtin, lot)["timeline"]
    anchored = [e["event_hash"] for e in timeline]
    assert anchored and all(e["status"] == "verified" for e in timeline)
    for fmt in ("json", "xml"):
        out = tmp_path / f"export.{fmt}"
        trace_here("epcis", "export", gtin, lot, "--format", fmt, "-o", str(out))
        assert ["0x" + event_hash_bytes(e).hex() for e in iter_events(out)] == anchored, fmt
    assert trace_here.run("epcis", "export", gtin, lot, "--format", "csv").code == 1


def test_step_the_chain_would_refuse_is_refused_before_anything_is_written(
    chain_env: dict[str, str], tmp_path: Path
) -> None:
    """A partner's receiving event for a batch registered here that is not in transit to the importer: the
    contract refuses it (TraceNotInTransit). It must be refused in validation, not after the write."""
    gtin, lot = "09506000134352", "NOTSHIPPED1"
    _ok(chain_env, "batch", "register", "--gtin", gtin, "--lot", lot)
    receipt = tmp_path / "receipt.jsonld"
    receipt.write_text(
        '{"type":"ObjectEvent","eventTime":"2024-05-01T00:00:00Z","eventTimeZoneOffset":"+00:00",'
        '"action":"OBSERVE","bizStep":"receiving","readPoint":{"id":"urn:epc:id:sgln:9506000.13400.0"},'
        f'"quantityList":[{{"epcClass":"https://id.gs1.org/01/{gtin}/10/{lot}"}}]}}'
    )
    before = _snapshot(chain_env)
    result = run_trace("import", str(receipt), env=chain_env)
    assert result.code == 1, (result.stdout, result.stderr)
    assert "nothing imported" in result.stderr and f"batch {gtin}/{lot} is not in transit" in result.stderr
    assert _snapshot(chain_env) == before
    assert run_trace("anchor", env=chain_env).code == 0
