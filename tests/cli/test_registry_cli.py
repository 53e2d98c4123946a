"""The traceability CLI end to end on a real anvil: batches, events, custody, lineage, recalls, bad input."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_environ, run_trace
from tests.conftest import trace_fails as fails
from tests.conftest import trace_ok as ok

GTIN = "09506000134352"
GTIN2 = "09506000134369"


def lot() -> str:
    return "L" + uuid.uuid4().hex[:10].upper()


def show(env: dict[str, str], gtin: str, lot_: str) -> dict:
    return ok(env, "batch", "show", gtin, lot_)


def test_lifecycle_custody_documents(trace_session_env: dict[str, str], tmp_path: Path) -> None:
    env, l1 = trace_session_env, lot()
    reg = ok(
        env,
        "batch",
        "register",
        "--gtin",
        GTIN,
        "--lot",
        l1,
        "--quantity",
        "1200.5",
        "--uom",
        "KGM",
        "--product",
        "Green coffee",
    )
    assert reg["gtin"] == GTIN and reg["batch_id"].startswith("0x")
    ok(env, "event", "add", GTIN, l1, "--step", "commissioning", "--location", "9506000134000")
    cert = tmp_path / "certificate.txt"
    cert.write_text("organic certificate")
    added = ok(env, "event", "add", GTIN, l1, "--step", "inspecting", "--doc", str(cert), "--as", "inspector")
    assert added["gas_used"] <= 40_000 + 2_000  # plain step: the registry's ≤ 40k target (+ calldata of this tx)
    secret = tmp_path / "invoice.pdf"
    secret.write_bytes(b"%PDF-1.4 private invoice")
    ok(env, "event", "add", GTIN, l1, "--step", "storing", "--doc", str(secret), "--private", "--share", "buyer")
    ok(env, "event", "add", GTIN, l1, "--step", "shipping", "--to", "processor")
    ok(env, "event", "add", GTIN, l1, "--step", "receiving", "--as", "processor")

    data = show(env, GTIN, l1)
    steps = [e["biz_step"] for e in data["timeline"]]
    assert steps == ["commissioning", "inspecting", "storing", "shipping", "receiving"]
    assert all(e["status"] == "verified" and e["how"] == "recorded" for e in data["timeline"])
    assert data["hash_chain"] == {"ok": True, "events_on_chain": 5, "head": data["hash_chain"]["head"]}
    from trace_api.chain.accounts import dev_account

    assert data["custodian"] == dev_account("processor").address.lower()
    docs = {d["name"]: d for e in data["timeline"] for d in e["documents"]}
    assert docs["certificate.txt"]["verified"] and not docs["certificate.txt"]["private"]
    assert docs["invoice.pdf"]["verified"] and docs["invoice.pdf"]["private"]
    stored = Path(env["TRACE_HOME"]) / "documents" / docs["invoice.pdf"]["sha256"][2:]
    assert b"private invoice" not in stored.read_bytes()  # encrypted at rest


# What a command must not load because it does not need it: web3 (about half a second; the lean JSON-RPC transport
# encodes, signs and sends), biip (its GS1 prefix tables: a batch key needs only a check digit), psutil (the local
# node is found by asking it), lxml (only XML documents need it).
NOT_NEEDED = ("web3", "ens", "biip", "psutil", "lxml")


def _run_loading_only_what_is_needed(env: dict[str, str], *args: str) -> str:
    """Run `trace ARGS --json` in a fresh interpreter; its stdout, after checking it loaded none of NOT_NEEDED."""
    probe = (
        "import sys\n"
        "from cli.main import main\n"
        f"code = main({[*args, '--json']!r})\n"
        f"sys.stderr.write(repr((code, sorted(m for m in {NOT_NEEDED!r} if m in sys.modules))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=cli_environ(env), capture_output=True, text=True)
    assert done.stderr.strip().endswith("(0, [])"), done.stderr
    return done.stdout


def test_event_add_anchor_and_batch_show_load_only_what_they_need(trace_session_env: dict[str, str]) -> None:
    """The producer's shell loop (`trace event add`, `trace anchor`) and the read (`trace batch show`) run against
    the chain without importing what they do not need (the CLI bench times event add and batch show)."""
    env, l1 = trace_session_env, lot()
    ok(env, "batch", "register", "--gtin", GTIN, "--lot", l1)
    added = _run_loading_only_what_is_needed(env, "event", "add", GTIN, l1, "--step", "storing")
    assert json.loads(added)["step"] == "storing"
    anchored = json.loads(_run_loading_only_what_is_needed(env, "anchor"))
    assert anchored["direct_events"] == 0 and anchored["roots_anchored"] == []  # the step went on chain at once
    shown = json.loads(_run_loading_only_what_is_needed(env, "batch", "show", GTIN, l1))
    assert [e["biz_step"] for e in shown["timeline"]] == ["storing"]
    ok(env, "batch", "recall", GTIN, l1, "--reason", "label misprint")  # the journey then reads the recall's block
    shown = json.loads(_run_loading_only_what_is_needed(env, "batch", "show", GTIN, l1))
    assert shown["recalled"] and shown["journey"]["recalls"][0]["recalled_at"].endswith("Z")


def test_derive_and_transitive_recall(trace_session_env: dict[str, str]) -> None:
    env, green, roasted = trace_session_env, lot(), lot()
    ok(env, "batch", "register", "--gtin", GTIN, "--lot", green)
    ok(env, "event", "add", GTIN, green, "--step", "shipping", "--to", "processor")
    ok(env, "event", "add", GTIN, green, "--step", "receiving", "--as", "processor")
    ok(env, "batch", "derive", "--gtin", GTIN2, "--lot", roasted, "--from", f"{GTIN}/{green}", "--as", "processor")
    child = show(env, GTIN2, roasted)
    assert [p["lot"] for p in child["parents"]] == [green]
    assert [c["lot"] for c in show(env, GTIN, green)["children"]] == [roasted]
    # The derive anchors its own transformation event: verified on both sides without a `trace anchor`.
    for gtin, lot_ in ((GTIN2, roasted), (GTIN, green)):
        data = show(env, gtin, lot_)
        made = [e for e in data["timeline"] if e["type"] == "TransformationEvent"]
        assert len(made) == 1 and made[0]["status"] == "verified", made
        assert data["pending"] == 0

    ok(env, "batch", "recall", GTIN, green, "--reason", "aflatoxin above limit")
    recall = [
        e
        for e in show(env, GTIN, green)["timeline"]
        if e.get("disposition") == "recalled" or e["biz_step"] == "holding"
    ]
    assert len(recall) == 1 and recall[0]["status"] == "verified", recall  # anchored by the recall itself
    child = show(env, GTIN2, roasted)
    assert child["recalled"] is True and child["recall"]["self"] is False
    assert child["recall"]["upstream"] == [show(env, GTIN, green)["batch_id"]]
    # Nothing may be recorded after a recall, upstream included: exit 5 with the contract's error.
    line = fails(env, 5, "event", "add", GTIN2, roasted, "--step", "storing", "--as", "processor")
    assert "has been recalled; nothing more can be recorded" in line


def test_bad_input_writes_nothing(trace_session_env: dict[str, str], tmp_path: Path) -> None:
    env, l1 = trace_session_env, lot()
    assert "invalid check digit" in fails(env, 1, "batch", "register", "--gtin", "09506000134353", "--lot", l1)
    assert "lot" in fails(env, 1, "batch", "register", "--gtin", GTIN, "--lot", "bad lot with spaces~")
    ok(env, "batch", "register", "--gtin", GTIN, "--lot", l1)
    # Reverts read as sentences: batches by GTIN/lot, accounts by name, steps by name, and what to do next.
    exists = fails(env, 5, "batch", "register", "--gtin", GTIN, "--lot", l1)
    assert f"Batch {GTIN}/{l1} is already registered" in exists and "TraceBatchExists" not in exists
    assert "is not registered" in fails(env, 1, "batch", "show", GTIN, lot())
    unknown = fails(env, 5, "event", "add", GTIN, lot(), "--step", "storing")
    assert "is not registered on this chain" in unknown and "trace batch register" in unknown
    # A carrier may not commission; a retailer may not receive what was not shipped to it.
    unauthorized = fails(env, 5, "event", "add", GTIN, l1, "--step", "commissioning", "--as", "carrier")
    assert "Carrier (0x" in unauthorized and "may not record commissioning" in unauthorized
    assert f"Batch {GTIN}/{l1} is not in transit" in fails(
        env, 5, "event", "add", GTIN, l1, "--step", "receiving", "--as", "retailer"
    )
    # With --json the error is one JSON object on stderr, with the raw custom error for scripts.
    as_json = run_trace("batch", "register", "--gtin", GTIN, "--lot", l1, "--json", env=env)
    problem = json.loads(as_json.stderr)
    assert as_json.code == 5 and problem["exit_status"] == 5 and problem["contract_error"] == "TraceBatchExists"
    assert f"{GTIN}/{l1}" in problem["error"] and as_json.stdout == ""
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (1024 * 1024 + 1))
    too_big = run_trace(
        "event",
        "add",
        GTIN,
        l1,
        "--step",
        "storing",
        "--doc",
        str(big),
        env={**env, "TRACE_MAX_DOCUMENT_BYTES": str(1024 * 1024)},
    )
    assert too_big.code == 1 and "limit" in too_big.stderr
    assert show(env, GTIN, l1)["timeline"] == []  # none of the failures above left an event behind
    docs = Path(env["TRACE_HOME"]) / "documents"
    assert not docs.exists() or not any(p.stat().st_size > 1024 * 1024 for p in docs.iterdir() if p.is_file())


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("gtin,lot,step,event_time,location,sensor_type,sensor_value,sensor_uom\n" + "\n".join(rows) + "\n")
    return path


def test_import_csv_dry_run_resume_and_bad_row(trace_session_env: dict[str, str], tmp_path: Path) -> None:
    env, l1 = trace_session_env, lot()
    ok(env, "batch", "register", "--gtin", GTIN, "--lot", l1)
    rows = [
        f"{GTIN},{l1},sensor_reporting,2026-11-20T{h:02d}:{m:02d}:00.000Z,9506000134017,Temperature,18.{m},CEL"
        for h in range(20)
        for m in range(0, 60, 1)
    ][:1000]
    good = _csv(tmp_path / "readings.csv", rows)
    dry = ok(env, "import", str(good), "--dry-run")
    assert dry == {
        "rows": 1000,
        "new_events": 0,
        "anchored_roots": 0,
        "direct_events": 0,
        "batches": 1,
        "dry_run": True,
    }
    assert show(env, GTIN, l1)["timeline"] == []

    bad = _csv(tmp_path / "bad.csv", rows[:700] + [f"{GTIN[:-1]}3,{l1},storing,2026-11-21T00:00:00Z,,,,"] + rows[700:])
    line = fails(env, 1, "import", str(bad))
    assert "row 702" in line and "nothing imported" in line
    assert show(env, GTIN, l1)["timeline"] == []

    first = ok(env, "import", str(good), "--batch-size", "256")
    assert first["new_events"] == 1000 and first["anchored_roots"] == 4
    again = ok(env, "import", str(good))
    assert again["new_events"] == 0 and again["anchored_roots"] == 0
    timeline = show(env, GTIN, l1)["timeline"]
    assert len(timeline) == 1000
    assert all(e["status"] == "verified" and e["how"] == "merkle" for e in timeline)


def test_epcis_hash_and_export(trace_session_env: dict[str, str], tmp_path: Path) -> None:
    env, l1 = trace_session_env, lot()
    ok(env, "batch", "register", "--gtin", GTIN, "--lot", l1)
    ok(env, "event", "add", GTIN, l1, "--step", "commissioning")
    out = tmp_path / "export.jsonld"
    ok(env, "epcis", "export", GTIN, l1, "-o", str(out))
    document = json.loads(out.read_text())
    assert document["type"] == "EPCISDocument" and document["schemaVersion"] == "2.0"
    events = document["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in events] == ["commissioning"]
    hashes = run_trace("epcis", "hash", str(out), env=env)
    assert hashes.code == 0, hashes.stderr
    (line,) = hashes.stdout.strip().splitlines()
    assert line == "ni:///sha-256;" + show(env, GTIN, l1)["timeline"][0]["event_hash"][2:] + "?ver=CBV2.0"
    unknown = tmp_path / "unknown.jsonld"
    assert "is not registered" in fails(env, 1, "epcis", "export", GTIN, lot(), "-o", str(unknown))
    assert not unknown.exists()


@pytest.mark.parametrize("role", ["carrier", "inspector"])
def test_role_grant_and_revoke(trace_session_env: dict[str, str], role: str) -> None:
    env = trace_session_env
    member = "0x" + uuid.uuid4().hex[:8] + "00" * 16
    granted = ok(env, "role", "grant", role, member)
    assert granted["granted"] is True
    revoked = ok(env, "role", "revoke", role, member)
    assert revoked["granted"] is False
    assert "lacks the admin role" in fails(env, 5, "role", "grant", role, member, "--as", "buyer")
