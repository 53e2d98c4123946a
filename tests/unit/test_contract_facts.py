"""Contract facts come from the contracts: the constants, enums and struct widths shipped in contracts.json are the
ones the Solidity source states, and the escrow's checks use them (no second hand-written copy)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from trace_api.chain.artifacts import load_artifacts, load_constants, load_enums, load_structs
from trace_api.chain.compiler import compile_facts
from trace_api.services.escrow import inputs, terms

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86_400, "weeks": 604_800, "ether": 10**18}
# `uint32 public constant MAX_RULING_PERIOD = 90 days;` and `bytes32 public constant X = keccak256("X");`
CONSTANT = re.compile(r"^\s*(\w+)\s+(?:public|private|internal)\s+constant\s+(\w+)\s*=\s*(.+?);", re.MULTILINE)


def _source_constants(name: str) -> dict[str, int | str]:
    """The contract's constants whose value is a number literal (with a unit) or keccak256 of a string, evaluated
    from the source text here, independently of solc's AST."""
    found: dict[str, int | str] = {}
    for _, const, expression in CONSTANT.findall((CONTRACTS / f"{name}.sol").read_text()):
        number = re.fullmatch(r"([\d_]+)\s*(\w+)?", expression.strip())
        hashed = re.fullmatch(r'keccak256\("([^"]*)"\)', expression.strip())
        if number and (number.group(2) is None or number.group(2) in UNITS):
            found[const] = int(number.group(1).replace("_", "")) * UNITS.get(number.group(2) or "seconds", 1)
        elif hashed:
            found[const] = "0x" + keccak(text=hashed.group(1)).hex()
    return found


@pytest.mark.parametrize("contract", ["TradeEscrow", "TraceRegistry"])
def test_shipped_constants_are_the_sources(contract: str) -> None:
    expected = _source_constants(contract)
    assert expected, f"no constants parsed from {contract}.sol"
    # the file's own contracts and libraries, each read from the AST on its own
    in_file = [n for n, a in load_artifacts().items() if a.source == f"contracts/{contract}.sol"]
    shipped = {k: v for n in in_file for k, v in load_constants().get(n, {}).items()}
    assert {name: shipped.get(name) for name in expected} == expected


def test_escrow_limits_are_the_contracts() -> None:
    source = _source_constants("TradeEscrow")
    assert source["MIN_RULING_PERIOD"] == inputs.MIN_RULING_PERIOD_S
    assert source["MAX_RULING_PERIOD"] == inputs.MAX_RULING_PERIOD_S
    assert source["MIN_DISPUTE_WINDOW"] == inputs.MIN_DISPUTE_WINDOW_S
    assert source["MAX_DISPUTE_WINDOW"] == inputs.MAX_DISPUTE_WINDOW_S
    assert source["MAX_DELIVERY_WINDOW"] == inputs.MAX_DELIVERY_WINDOW_S
    assert inputs.MAX_LINES == terms.MAX_LINES == source["MAX_LINES"]
    assert source["_BPS"] == inputs.BPS


def test_the_largest_amount_is_the_width_the_escrow_stores() -> None:
    text = (CONTRACTS / "TradeEscrow.sol").read_text()
    record = re.search(r"struct TradeRecord \{(.*?)\}", text, re.DOTALL)
    assert record is not None
    width = re.search(r"uint(\d+)\s+amount;", record.group(1))
    assert width is not None
    assert 2 ** int(width.group(1)) - 1 == inputs.MAX_AMOUNT
    assert load_structs()["TradeEscrow.TradeRecord"]["amount"] == f"uint{width.group(1)}"


def test_enums_in_the_escrow_are_the_contracts() -> None:
    text = (CONTRACTS / "interfaces" / "ITradeEscrow.sol").read_text()

    def members(name: str) -> list[str]:
        body = re.search(rf"enum {name} \{{(.*?)\}}", text, re.DOTALL)
        assert body is not None
        return [m.strip() for m in re.sub(r"//[^\n]*", "", body.group(1)).split(",") if m.strip()]

    assert list(terms.INCOTERMS) == [m.upper() for m in members("Incoterm")]
    assert list(inputs.MILESTONES) == [m.lower() for m in members("Milestone")]
    assert load_enums()["ITradeEscrow.State"] == tuple(members("State"))


def test_folded_expressions_are_evaluated_like_solc() -> None:
    registry = load_constants()["TraceRegistry"]
    assert registry["_HANDLERS"] == registry["_PRODUCER"] | registry["_PROCESSOR"] | registry["_CARRIER"] | 32
    assert registry["_LAST_STEP"] == len(load_enums()["ITraceRegistry.Step"]) - 1  # uint256(type(Step).max)
    library = load_constants()["BatchStateLibrary"]
    assert library["_ADDRESS_MASK"] == 2**160 - 1  # type(uint160).max
    assert library["_RECALLED_BIT"] == 1 << 240


def test_shipped_facts_match_a_fresh_compile() -> None:
    fresh = compile_facts()
    assert fresh["constants"] == load_constants(), "run `trace compile` and commit trace_api/chain/contracts.json"
    assert fresh["structs"] == load_structs()
    assert {k: tuple(v) for k, v in fresh["enums"].items()} == load_enums()
