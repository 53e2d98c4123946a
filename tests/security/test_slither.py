"""Slither static analysis of ``contracts/``, gated by ``contracts/slither-triage.json`` (tools/slither_check.py).

The live tests need Slither in ``.venv-tools`` (``make tools``). Locally they skip with the install command when it is
missing; in CI (``CI=true``) a missing Slither is a failure, so the gate cannot silently switch itself off. The
matching tests at the bottom need no Slither and always run.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "tools" / "slither_check.py"
TRIAGE = ROOT / "contracts" / "slither-triage.json"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SLITHER = Path(os.environ.get("SLITHER", ROOT / ".venv-tools" / "bin" / "slither"))
SLITHER_PIN = "slither-analyzer==0.11.6"

_spec = importlib.util.spec_from_file_location("slither_check", CHECKER)
assert _spec is not None and _spec.loader is not None
sc = importlib.util.module_from_spec(_spec)
sys.modules["slither_check"] = sc  # dataclasses resolve their module by name
_spec.loader.exec_module(sc)


def _require_slither() -> None:
    if SLITHER.is_file():
        return
    message = f"Slither is not installed at {SLITHER}: run `make tools` or `.venv-tools/bin/pip install {SLITHER_PIN}`"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: the security gate must run in CI)")
    pytest.skip(message)


def run_checker(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECKER), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_triage(path: Path, entries: list[dict[str, str]]) -> Path:
    path.write_text(json.dumps({"accepted": entries}))
    return path


def _explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


@pytest.fixture(scope="module")
def contracts_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One Slither run over contracts/ with the real triage file."""
    _require_slither()
    out = tmp_path_factory.mktemp("slither-contracts")
    return run_checker("--out-dir", out), out


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One Slither run over the deliberately vulnerable fixture, with the real triage file (which cannot accept it)."""
    _require_slither()
    out = tmp_path_factory.mktemp("slither-fixture")
    return run_checker("--contracts", FIXTURES, "--out-dir", out), out


# ---------------------------------------------------------------- live: the real contracts


def test_contracts_have_no_untriaged_high_or_medium_findings(contracts_run):
    proc, out = contracts_run
    assert proc.returncode == 0, _explain(proc)
    report = json.loads((out / "report.json").read_text())
    assert report["untriaged"] == []
    # Check it again from Slither's own output rather than the checker's verdict.
    findings = sc.load_findings(out / "slither.json")
    triage = sc.load_triage(TRIAGE)
    gated = [f for f in findings if f.impact in ("High", "Medium")]
    missing = [f.key for f in gated if not any(e.matches(f) for e in triage)]
    assert missing == [], f"untriaged High/Medium findings: {missing}"
    assert "| severity" in proc.stdout  # the table is printed


def test_analysis_uses_the_pinned_compiler_settings_and_skips_mocks(contracts_run):
    _, out = contracts_run
    request = json.loads((out / "standard-input.json").read_text())
    sys.path.insert(0, str(ROOT))
    from trace_api.chain.toolchain import compiler_settings

    pinned = compiler_settings()
    assert request["settings"]["evmVersion"] == pinned.evm_version
    assert request["settings"]["optimizer"] == {"enabled": pinned.optimizer_enabled, "runs": pinned.optimizer_runs}
    assert request["settings"]["remappings"] == list(pinned.remappings)
    assert "contracts/TradeEscrow.sol" in request["sources"]
    assert "contracts/TraceRegistry.sol" in request["sources"]
    assert not [s for s in request["sources"] if s.startswith("contracts/test/")]
    data = json.loads((out / "slither.json").read_text())
    files = {
        el["source_mapping"]["filename_relative"]
        for r in data["results"]["detectors"]
        for el in r["elements"]
        if "source_mapping" in el
    }
    assert not [f for f in files if "node_modules" in f or "contracts/test" in f]


def test_empty_triage_fails_against_the_real_contracts(contracts_run, tmp_path):
    _, out = contracts_run
    findings = sc.load_findings(out / "slither.json")
    if not any(f.impact in ("High", "Medium", "Low") for f in findings):
        pytest.skip("Slither reports nothing at Low or above any more: nothing to leave untriaged")
    empty = write_triage(tmp_path / "empty.json", [])
    proc = run_checker("--from-json", out / "slither.json", "--triage", empty, "--fail-on", "low",
                       "--out-dir", tmp_path / "out")  # fmt: skip
    assert proc.returncode == 1, _explain(proc)
    assert "UNTRIAGED" in proc.stdout and "FAIL" in proc.stdout


# ---------------------------------------------------------------- live: the checker refuses a real bug


def test_checker_fails_on_an_untriaged_reentrancy(fixture_run):
    proc, out = fixture_run
    assert proc.returncode == 1, _explain(proc)
    report = json.loads((out / "report.json").read_text())
    keys = {(f["detector"], f["contract"], f["function"], f["impact"]) for f in report["untriaged"]}
    assert ("reentrancy-eth", "ReentrantBank", "withdraw", "High") in keys
    assert "reentrancy-eth" in proc.stdout and "UNTRIAGED" in proc.stdout


def test_triaging_the_fixture_finding_makes_the_checker_pass(fixture_run, tmp_path):
    """End to end with real Slither output: the triage key matches what Slither reports."""
    _, out = fixture_run
    findings = sc.load_findings(out / "slither.json")
    entries = [
        {"detector": f.detector, "contract": f.contract, "function": f.function, "decision": "accepted-risk",
         "justification": "test only: accepting the fixture's finding to check that the key matches"}
        for f in {f.key: f for f in findings if f.impact in ("High", "Medium")}.values()
    ]  # fmt: skip
    triage = write_triage(tmp_path / "triage.json", entries)
    proc = run_checker("--from-json", out / "slither.json", "--triage", triage, "--out-dir", tmp_path / "out")
    assert proc.returncode == 0, _explain(proc)


# ---------------------------------------------------------------- matching, without Slither


def _element_fn(contract: str, function: str, line: int) -> dict[str, Any]:
    return {
        "type": "function",
        "name": function,
        "source_mapping": {"filename_relative": "contracts/X.sol", "lines": [line, line + 1]},
        "type_specific_fields": {
            "parent": {"type": "contract", "name": contract, "source_mapping": {}},
            "signature": f"{function}()",
        },
    }


def _element_local(contract: str, function: str, variable: str, line: int) -> dict[str, Any]:
    fn = _element_fn(contract, function, line)
    return {
        "type": "variable",
        "name": variable,
        "source_mapping": {"filename_relative": "contracts/X.sol", "lines": [line]},
        "type_specific_fields": {"parent": fn},
    }


def _slither_output(*results: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "error": None, "results": {"detectors": list(results)}}


def _result(check: str, impact: str, element: dict[str, Any]) -> dict[str, Any]:
    return {"check": check, "impact": impact, "confidence": "Medium", "description": f"{check} here",
            "elements": [element]}  # fmt: skip


ENTRY = {"detector": "reentrancy-no-eth", "contract": "Vault", "function": "withdraw", "decision": "accepted-risk",
         "justification": "synthetic entry for the matcher tests, long enough to pass validation"}  # fmt: skip


def _check(tmp_path: Path, output: dict[str, Any], entries: list[dict[str, str]], *extra: str) -> tuple[int, dict]:
    src = tmp_path / "slither.json"
    src.write_text(json.dumps(output))
    triage = write_triage(tmp_path / "triage.json", entries)
    report = tmp_path / "out" / "report.json"
    report.unlink(missing_ok=True)
    code = sc.main(["--from-json", str(src), "--triage", str(triage), "--out-dir", str(tmp_path / "out"), *extra])
    return code, json.loads(report.read_text()) if report.is_file() else {}


def test_match_is_by_detector_contract_function_not_line(tmp_path, capsys):
    output = _slither_output(_result("reentrancy-no-eth", "Medium", _element_fn("Vault", "withdraw", 40)))
    assert _check(tmp_path, output, [ENTRY])[0] == 0
    moved = copy.deepcopy(output)
    moved["results"]["detectors"][0]["elements"][0]["source_mapping"]["lines"] = [400, 401]
    assert _check(tmp_path, moved, [ENTRY])[0] == 0
    other = _slither_output(_result("reentrancy-no-eth", "Medium", _element_fn("Vault", "deposit", 40)))
    code, report = _check(tmp_path, other, [ENTRY])
    assert code == 1
    assert [u["function"] for u in report["untriaged"]] == ["deposit"]
    assert "UNTRIAGED" in capsys.readouterr().out


def test_findings_inside_a_function_are_keyed_by_that_function(tmp_path):
    output = _slither_output(_result("uninitialized-local", "Medium", _element_local("Vault", "sum", "acc", 12)))
    entry = ENTRY | {"detector": "uninitialized-local", "function": "sum"}
    assert _check(tmp_path, output, [entry])[0] == 0


def test_wildcard_function_and_other_contract(tmp_path):
    output = _slither_output(_result("reentrancy-no-eth", "High", _element_fn("Vault", "withdraw", 1)))
    assert _check(tmp_path, output, [ENTRY | {"function": "*"}])[0] == 0
    assert _check(tmp_path, output, [ENTRY | {"contract": "OtherVault"}])[0] == 1


def test_low_findings_are_reported_but_gate_only_when_asked(tmp_path):
    output = _slither_output(_result("timestamp", "Low", _element_fn("Vault", "refund", 5)))
    assert _check(tmp_path, output, [])[0] == 0
    assert _check(tmp_path, output, [], "--fail-on", "low")[0] == 1


def test_malformed_triage_is_an_error(tmp_path, capsys):
    output = _slither_output()
    for bad in (
        ENTRY | {"justification": "ok"},
        ENTRY | {"decision": "ignore"},
        {k: v for k, v in ENTRY.items() if k != "function"},
    ):
        assert _check(tmp_path, output, [bad])[0] == 2
    assert _check(tmp_path, output, [ENTRY, ENTRY])[0] == 2
    assert "malformed triage file" in capsys.readouterr().err


def test_failed_slither_run_is_an_error(tmp_path):
    src = tmp_path / "slither.json"
    src.write_text(json.dumps({"success": False, "error": "Invalid compilation", "results": {}}))
    triage = write_triage(tmp_path / "triage.json", [])
    assert sc.main(["--from-json", str(src), "--triage", str(triage), "--out-dir", str(tmp_path / "out")]) == 2


def test_missing_slither_is_an_error(tmp_path):
    triage = write_triage(tmp_path / "triage.json", [])
    proc = run_checker("--slither", tmp_path / "no-slither", "--triage", triage, "--out-dir", tmp_path / "out")
    assert proc.returncode == 2
    assert "make tools" in proc.stderr


def test_project_triage_file_is_valid():
    entries = sc.load_triage(TRIAGE)
    assert entries, "the triage file lists no finding"
    assert all(e.severity in sc.SEVERITIES for e in entries)
