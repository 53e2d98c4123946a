"""Slither's findings and the triage file that accepts some of them (see slither_check.py for how both are used):
a finding is matched by detector + contract + function, never by line number."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEVERITIES = ("High", "Medium", "Low", "Informational", "Optimization")
RANK = {name: i for i, name in enumerate(SEVERITIES)}
DECISIONS = ("false-positive", "accepted-risk")
MIN_JUSTIFICATION = 40  # characters: a triage entry must say why, not just "ok"


class CheckError(Exception):
    """Slither could not run, or its input or the triage file is unusable (exit status 2)."""


# ---------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    detector: str
    impact: str
    confidence: str
    contract: str
    function: str
    location: str  # file:line, for display only
    description: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.detector, self.contract, self.function)


@dataclass(frozen=True)
class TriageEntry:
    detector: str
    contract: str
    function: str
    decision: str
    justification: str
    severity: str = ""

    def matches(self, finding: Finding) -> bool:
        return (
            self.detector == finding.detector
            and self.contract == finding.contract
            and self.function in ("*", finding.function)
        )


@dataclass
class Result:
    findings: list[Finding]
    triage: list[TriageEntry]
    fail_on: str
    matched: dict[Finding, TriageEntry | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in self.findings:
            self.matched[f] = next((e for e in self.triage if e.matches(f)), None)

    def gated(self, f: Finding) -> bool:
        return RANK.get(f.impact, len(SEVERITIES)) <= RANK[self.fail_on]

    @property
    def untriaged(self) -> list[Finding]:
        return [f for f in self.findings if self.gated(f) and self.matched[f] is None]

    @property
    def stale(self) -> list[TriageEntry]:
        return [e for e in self.triage if not any(e.matches(f) for f in self.findings)]


def _parent(element: dict[str, Any]) -> dict[str, Any] | None:
    return (element.get("type_specific_fields") or {}).get("parent")


def _contract_of(element: dict[str, Any] | None) -> str:
    """The name of the contract that (transitively) holds ``element``."""
    while element is not None:
        if element.get("type") == "contract":
            return element.get("name", "?")
        element = _parent(element)
    return "-"


def _location(element: dict[str, Any]) -> str:
    sm = element.get("source_mapping") or {}
    path = sm.get("filename_absolute") or sm.get("filename_relative") or "?"
    try:
        path = Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        pass
    lines = sm.get("lines") or []
    return f"{path}:{lines[0]}" if lines else path


def finding_from_result(result: dict[str, Any]) -> Finding:
    """Reduce one Slither detector result to detector + contract + function (the triage key)."""
    elements = result.get("elements") or []
    first = elements[0] if elements else {}
    kind = first.get("type")
    if kind == "function":
        contract, function = _contract_of(_parent(first)), first.get("name", "?")
    elif kind == "node":
        func = _parent(first) or {}
        contract, function = _contract_of(_parent(func)), func.get("name", "?")
    elif kind == "contract":
        contract, function = first.get("name", "?"), "*"
    elif kind is None:
        contract, function = "-", "*"
    else:
        # a variable, event, struct, enum...: inside a function, the function is the key; otherwise its own name
        parent = _parent(first) or {}
        if parent.get("type") == "function":
            contract, function = _contract_of(_parent(parent)), parent.get("name", "?")
        else:
            contract, function = _contract_of(parent), first.get("name", "?")
    description = " ".join((result.get("description") or "").split())
    return Finding(
        detector=result.get("check", "?"),
        impact=result.get("impact", "?"),
        confidence=result.get("confidence", "?"),
        contract=contract,
        function=function,
        location=_location(first) if first else "-",
        description=description,
    )


def load_findings(slither_json: Path) -> list[Finding]:
    try:
        data = json.loads(slither_json.read_text())
    except (OSError, ValueError) as exc:
        raise CheckError(f"cannot read Slither output {slither_json}: {exc}") from exc
    if not data.get("success", False):
        raise CheckError(f"Slither failed: {data.get('error') or 'no error message'}")
    detectors = (data.get("results") or {}).get("detectors") or []
    findings = [finding_from_result(r) for r in detectors]
    return sorted(findings, key=lambda f: (RANK.get(f.impact, 9), f.detector, f.contract, f.function, f.location))


def load_triage(path: Path) -> list[TriageEntry]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise CheckError(f"cannot read triage file {path}: {exc}") from exc
    except ValueError as exc:
        raise CheckError(f"{path}: not valid JSON: {exc}") from exc
    raw = data.get("accepted") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise CheckError(f'{path}: expected an object with an "accepted" list')
    entries: list[TriageEntry] = []
    problems: list[str] = []
    for i, item in enumerate(raw):
        where = f"{path.name}: accepted[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: not an object")
            continue
        missing = [k for k in ("detector", "contract", "function", "decision", "justification") if not item.get(k)]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        if item["decision"] not in DECISIONS:
            problems.append(f"{where}: decision must be one of {', '.join(DECISIONS)}")
        if len(item["justification"].strip()) < MIN_JUSTIFICATION:
            problems.append(f"{where}: justification shorter than {MIN_JUSTIFICATION} characters")
        if item.get("severity") and item["severity"] not in SEVERITIES:
            problems.append(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
        entries.append(
            TriageEntry(
                detector=item["detector"],
                contract=item["contract"],
                function=item["function"],
                decision=item["decision"],
                justification=item["justification"].strip(),
                severity=item.get("severity", ""),
            )
        )
    keys = [(e.detector, e.contract, e.function) for e in entries]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"{path.name}: duplicate entry for {key[0]} {key[1]}.{key[2]}")
    if problems:
        raise CheckError("malformed triage file:\n  " + "\n  ".join(problems))
    return entries
