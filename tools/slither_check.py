#!/usr/bin/env python3
"""Run Slither on ``contracts/`` with the pinned compiler settings and check every finding against the triage file.

Slither lives in the tools venv (``.venv-tools``, ``make tools``) because its dependencies clash with eth-brownie's
pins; this script runs under the project venv (``.venv/bin/python``), which has ``trace_api`` for the compiler pins
and the solc-js bridge, and calls Slither as a subprocess.

How it compiles: the directory mode of Slither cannot carry ``evmVersion`` or the optimizer runs, so the script
writes a solc standard-JSON input from ``trace_api.chain.toolchain.compiler_settings()`` (read from
brownie-config.yaml, the one place they are pinned) with every ``.sol`` under the contracts directory except the
``test/`` mocks, and hands that file to Slither with ``--compile-force-framework solc-json`` and the bridge as
``--solc``. Dependencies and mocks are also dropped from the results by ``--filter-paths``.

Triage: ``contracts/slither-triage.json`` lists accepted findings, matched by detector + contract + function (or
the variable/contract a finding names when it is not inside a function), never by line number, so an entry
survives edits elsewhere in the file. Each entry needs a decision and a justification.

Exit status: 0 when every finding at or above ``--fail-on`` (default: medium) is triaged; 1 when one is not;
2 when Slither is missing, the compile failed or the triage file is malformed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TRIAGE = PROJECT_ROOT / "contracts" / "slither-triage.json"
DEFAULT_OUT_DIR = PROJECT_ROOT / "build" / "slither"
DEFAULT_SLITHER = PROJECT_ROOT / ".venv-tools" / "bin" / "slither"
FILTER_PATHS = "node_modules|contracts/test"
EXIT_OK, EXIT_UNTRIAGED, EXIT_ERROR = 0, 1, 2


sys.path.insert(0, str(Path(__file__).resolve().parent))  # slither_triage beside this script, however it is loaded
from slither_triage import (  # noqa: E402
    RANK,
    SEVERITIES,
    CheckError,
    Finding,
    Result,
    load_findings,
    load_triage,
)

# ---------------------------------------------------------------- running slither


def _compiler():
    """The pinned settings and the solc binary (native or the solc-js bridge), both from trace_api."""
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    try:
        from trace_api.chain.compiler import ensure_solc
        from trace_api.chain.toolchain import compiler_settings
    except ImportError as exc:
        raise CheckError(f"cannot import trace_api ({exc}): run this with the project venv, .venv/bin/python") from exc
    try:
        return compiler_settings(), ensure_solc()
    except Exception as exc:  # ConfigError: npm solc missing, bad brownie-config.yaml
        raise CheckError(f"compiler setup failed: {exc}") from exc


def standard_json_input(contracts_dir: Path, settings: Any) -> dict[str, Any]:
    """A solc standard-JSON input with every .sol under ``contracts_dir`` but its ``test/`` mocks."""
    files = sorted(p for p in contracts_dir.rglob("*.sol") if "test" not in p.relative_to(contracts_dir).parts[:-1])
    if not files:
        raise CheckError(f"no .sol files under {contracts_dir}")
    standard = settings.standard_settings()
    # Slither needs the AST; crytic-compile reads the bytecodes and source maps too.
    standard["outputSelection"] = {
        "*": {"*": ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode"], "": ["ast"]}
    }
    sources = {}
    for p in files:
        try:
            name = p.resolve().relative_to(PROJECT_ROOT).as_posix()
        except ValueError:
            name = p.resolve().as_posix()
        sources[name] = {"content": p.read_text()}
    return {"language": "Solidity", "sources": sources, "settings": standard}


def run_slither(slither: Path, contracts_dir: Path, out_dir: Path) -> tuple[Path, float]:
    """Run Slither; return the path of its JSON output and the seconds it took."""
    if not slither.is_file():
        raise CheckError(f"{slither} not found: install it with `make tools` (.venv-tools)")
    settings, solc = _compiler()
    out_dir.mkdir(parents=True, exist_ok=True)
    request = out_dir / "standard-input.json"
    request.write_text(json.dumps(standard_json_input(contracts_dir, settings), indent=1))
    output = out_dir / "slither.json"
    output.unlink(missing_ok=True)  # Slither refuses to overwrite its JSON output
    cmd = [
        str(slither),
        str(request),
        "--compile-force-framework",
        "solc-json",
        "--solc",
        str(solc),
        "--solc-working-dir",
        str(PROJECT_ROOT),
        "--filter-paths",
        FILTER_PATHS,
        "--json",
        str(output),
        "--fail-none",
        "--disable-color",
    ]
    env = dict(os.environ)
    # The bridge is a node script: make sure node is found even from a bare CI environment.
    env["PATH"] = os.pathsep.join([str(PROJECT_ROOT / "node_modules" / ".bin"), env.get("PATH", "")])
    start = time.monotonic()
    # cwd is the output folder, so no stray slither.config.json or slither.db.json (Slither's own triage
    # database, which silently hides findings) in the repository can change the results.
    proc = subprocess.run(cmd, cwd=out_dir, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    (out_dir / "slither.log").write_text(proc.stdout + proc.stderr)
    if not output.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise CheckError(f"Slither exited {proc.returncode} without JSON output:\n{tail}")
    return output, elapsed


# ---------------------------------------------------------------- report


def _status(result: Result, f: Finding) -> str:
    entry = result.matched[f]
    if entry is not None:
        return entry.decision
    return "UNTRIAGED" if result.gated(f) else "untriaged (not gated)"


def table(result: Result, *, show_info: bool) -> str:
    rows = [
        (f.impact, f.confidence, f.detector, f"{f.contract}.{f.function}", f.location, _status(result, f))
        for f in result.findings
        if show_info or RANK.get(f.impact, 9) <= RANK["Low"]
    ]
    header = ("severity", "confidence", "detector", "contract.function", "location", "triage")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)) + " |"

    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def report(result: Result, *, elapsed: float | None) -> dict[str, Any]:
    counts = {s: sum(1 for f in result.findings if f.impact == s) for s in SEVERITIES}
    return {
        "elapsed_seconds": None if elapsed is None else round(elapsed, 1),
        "fail_on": result.fail_on,
        "counts": counts,
        "untriaged": [f.__dict__ | {"key": list(f.key)} for f in result.untriaged],
        "stale_triage": [e.__dict__ for e in result.stale],
        "findings": [
            f.__dict__ | {"triage": result.matched[f].decision if result.matched[f] else None} for f in result.findings
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--contracts",
        type=Path,
        default=PROJECT_ROOT / "contracts",
        help="directory of .sol files to analyse; its test/ mocks are skipped (default: contracts)",
    )
    parser.add_argument("--triage", type=Path, default=DEFAULT_TRIAGE, help="triage file (default: %(default)s)")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help="where the solc input, Slither's JSON and log and report.json go (default: %(default)s)",
    )
    parser.add_argument(
        "--slither",
        type=Path,
        default=Path(os.environ.get("SLITHER", DEFAULT_SLITHER)),
        help="the slither executable (default: $SLITHER or .venv-tools/bin/slither)",
    )
    parser.add_argument("--from-json", type=Path, help="check an existing Slither JSON output instead of running it")
    parser.add_argument(
        "--fail-on",
        choices=["high", "medium", "low"],
        default="medium",
        help="lowest severity whose untriaged findings fail the check (default: medium)",
    )
    parser.add_argument("--show-info", action="store_true", help="list Informational/Optimization findings too")
    args = parser.parse_args(argv)

    try:
        triage = load_triage(args.triage)
        if args.from_json:
            output, elapsed = args.from_json, None
        else:
            output, elapsed = run_slither(args.slither, args.contracts.resolve(), args.out_dir.resolve())
        findings = load_findings(output)
    except CheckError as exc:
        print(f"slither_check: error: {exc}", file=sys.stderr)
        return EXIT_ERROR

    result = Result(findings, triage, args.fail_on.capitalize())
    data = report(result, elapsed=elapsed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "report.json").write_text(json.dumps(data, indent=2))

    print(table(result, show_info=args.show_info))
    counts = ", ".join(f"{n} {s.lower()}" for s, n in data["counts"].items() if n)
    took = f" in {elapsed:.1f} s" if elapsed is not None else ""
    print(f"\nslither: {len(findings)} findings ({counts or 'none'}){took}; Slither JSON: {output}")
    for entry in result.stale:
        print(
            f"note: triage entry matches no finding (fixed or renamed?): "
            f"{entry.detector} {entry.contract}.{entry.function}"
        )
    if result.untriaged:
        print(f"\nFAIL: {len(result.untriaged)} untriaged finding(s) of severity {result.fail_on} or above:")
        for f in result.untriaged:
            print(f"  [{f.impact}] {f.detector} {f.contract}.{f.function} at {f.location}\n      {f.description}")
        print(
            f"Fix the code, or, for a false positive or an accepted risk, add an entry to {args.triage} "
            "with its justification."
        )
        return EXIT_UNTRIAGED
    print(f"OK: every {result.fail_on}-or-above finding is triaged.")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
