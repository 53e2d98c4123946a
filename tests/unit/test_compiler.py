import json
import shutil
import time
from pathlib import Path

import pytest

from trace_api.chain.compiler import compile_contracts, ensure_solc
from trace_api.chain.toolchain import CONTRACTS_DIR, compiler_settings
from trace_api.errors import CompileError

BROKEN = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
contract Broken is Ownable {
    constructor() Ownable(msg.sender) {}
    function f() external pure returns (uint256) { return 1 }
}
"""


def test_bridge_reports_pinned_version() -> None:
    import subprocess

    out = subprocess.run([str(ensure_solc()), "--version"], capture_output=True, text=True, check=True).stdout
    assert f"Version: {compiler_settings().version}+commit" in out


def test_project_compiles_and_caches(tmp_path: Path) -> None:
    build = tmp_path / "build"
    artifacts = compile_contracts(build_dir=build, force=True)
    assert {"TraceRegistry", "ITraceRegistry"} <= set(artifacts)
    record = json.loads((build / "artifacts.json").read_text())
    assert record["solc_version"] == compiler_settings().version
    assert record["evm_version"] == compiler_settings().evm_version
    assert "contracts/TraceRegistry.sol" in record["source_hashes"]
    started = time.perf_counter()
    again = compile_contracts(build_dir=build)
    assert time.perf_counter() - started < 0.5  # served from the cache: no solc run
    assert again["TraceRegistry"].bytecode == artifacts["TraceRegistry"].bytecode


def test_changed_source_recompiles(tmp_path: Path) -> None:
    src = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, src)
    build = tmp_path / "build"
    first = compile_contracts(contracts_dir=src, build_dir=build)
    (src / "Extra.sol").write_text("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\ncontract Extra {}\n")
    second = compile_contracts(contracts_dir=src, build_dir=build)
    assert "Extra" in second and "Extra" not in first


def test_broken_source_names_file_and_line(tmp_path: Path) -> None:
    src = tmp_path / "contracts"
    src.mkdir()
    (src / "Broken.sol").write_text(BROKEN)
    with pytest.raises(CompileError) as info:
        compile_contracts(contracts_dir=src, build_dir=tmp_path / "build")
    assert str(info.value).startswith("contracts/Broken.sol:6: ParserError:")
    assert "';'" in str(info.value)


def test_missing_import_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "contracts"
    src.mkdir()
    (src / "Imp.sol").write_text('// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\nimport "./Nope.sol";\n')
    with pytest.raises(CompileError, match=r"contracts/Imp.sol:3: .*Nope.sol"):
        compile_contracts(contracts_dir=src, build_dir=tmp_path / "build")
