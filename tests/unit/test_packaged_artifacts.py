"""The ABI and bytecode the package ships are what contracts/ compiles to today."""

from __future__ import annotations

import json

from trace_api.chain.artifacts import PACKAGED, load_artifacts
from trace_api.chain.compiler import compile_contracts


def test_shipped_artifacts_match_a_fresh_compile_of_contracts() -> None:
    fresh = compile_contracts()
    shipped = load_artifacts()
    assert sorted(shipped) == sorted(fresh), "run `trace compile` and commit trace_api/chain/contracts.json"
    for name, artifact in fresh.items():
        assert shipped[name].abi == artifact.abi, f"{name}: ABI differs; run `trace compile`"
        assert shipped[name].bytecode == artifact.bytecode, f"{name}: bytecode differs; run `trace compile`"
        assert shipped[name].deployed_bytecode == artifact.deployed_bytecode, name


def test_shipped_record_names_the_sources_it_was_built_from() -> None:
    record = json.loads(PACKAGED.read_text())
    assert "contracts/TraceRegistry.sol" in record["source_hashes"]
    assert all(value.startswith("0x") and len(value) == 66 for value in record["source_hashes"].values())
