#!/usr/bin/env python3
"""Run forge (npm ``@foundry-rs/forge-linux-amd64``) with the project's compiler: ``tools/forge.py test ...``.

forge reads ``foundry.toml`` for paths and the invariant settings; the compiler comes from here, through forge's
``FOUNDRY_*`` environment variables, so that it has one source of truth: the solc registered by
``trace_api.chain.compiler.ensure_solc()`` (the solc-js bridge, or a native solc of the same version), with the
version, optimizer, ``evmVersion`` and remappings of ``trace_api.chain.toolchain.compiler_settings()``, which reads
brownie-config.yaml. brownie, ``trace deploy`` and forge therefore compile with the same settings.

Exit status: forge's own; 2 when forge or the compiler is missing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from trace_api.chain.compiler import ensure_solc
from trace_api.chain.toolchain import NODE_MODULES, PROJECT_ROOT, compiler_settings
from trace_api.errors import TraceError

FORGE = NODE_MODULES / "@foundry-rs" / "forge-linux-amd64" / "bin" / "forge"


def forge_env(solc: Path) -> dict[str, str]:
    """The FOUNDRY_* variables that give forge the pinned compiler."""
    settings = compiler_settings()
    return {
        "FOUNDRY_SOLC": str(solc),
        "FOUNDRY_EVM_VERSION": settings.evm_version,
        "FOUNDRY_OPTIMIZER": "true" if settings.optimizer_enabled else "false",
        "FOUNDRY_OPTIMIZER_RUNS": str(settings.optimizer_runs),
        "FOUNDRY_REMAPPINGS": ",".join(settings.remappings),
        "FOUNDRY_OFFLINE": "true",
    }


def main(argv: list[str]) -> int:
    if not FORGE.is_file():
        print("forge: error: forge is missing: run `make setup` (npm ci installs it)", file=sys.stderr)
        return 2
    try:
        solc = ensure_solc()
    except TraceError as exc:
        print(f"forge: error: {exc}", file=sys.stderr)
        return 2
    env = {**os.environ, **forge_env(solc)}
    os.chdir(PROJECT_ROOT)
    os.execve(FORGE, [str(FORGE), *argv], env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
