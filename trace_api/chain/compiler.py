"""Compile ``contracts/`` through py-solc-x's ``compile_standard``, with artifacts cached in ``build/trace``.

Only ``trace compile``, ``trace deploy`` on a source checkout, brownie and the tests compile; connecting to a chain
reads the artifacts shipped in the package (``trace_api/chain/artifacts.py``), which ``refresh_packaged`` writes.

When no native solc of the pinned version is installed, a bridge over the npm ``solc`` package (solc-js) is
registered as ``solc-v<version>`` in py-solc-x's binary folder, so py-solc-x and brownie both find it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import solcx
from solcx.exceptions import SolcError

from trace_api.chain.artifacts import Artifact, packaged_record, write_packaged
from trace_api.chain.facts import solidity_facts
from trace_api.chain.toolchain import (
    BRIDGE_SCRIPT,
    BUILD_DIR,
    CONTRACTS_DIR,
    NODE_MODULES,
    PROJECT_ROOT,
    compiler_settings,
)
from trace_api.errors import CompileError, ConfigError

ARTIFACTS_FILE = "artifacts.json"


def _bridge_text() -> str:
    node = shutil.which("node") or "node"
    return (
        "#!/bin/sh\n"
        "# solc-js bridge registered by trace (trace_api/chain/compiler.py)\n"
        f'NODE_PATH="{NODE_MODULES}" exec "{node}" "{BRIDGE_SCRIPT}" "$@"\n'
    )


def ensure_solc() -> Path:
    """Return the solc for the pinned version: a native one if installed, else register the solc-js bridge."""
    version = compiler_settings().version
    folder = solcx.get_solcx_install_folder()
    target = Path(folder) / f"solc-v{version}"
    if target.is_file() and "solc-js bridge" not in target.read_text(errors="ignore")[:200]:
        return target  # a native binary of the same version: same version and settings give the same bytecode
    if not (NODE_MODULES / "solc").is_dir():
        raise ConfigError("npm package solc is missing: run `make setup`")
    text = _bridge_text()
    if not target.is_file() or target.read_text() != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, target)
    return target


def _sources(contracts_dir: Path) -> dict[str, str]:
    files = sorted(contracts_dir.rglob("*.sol"))
    return {p.relative_to(contracts_dir.parent).as_posix(): p.read_text() for p in files}


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, max(offset, 0)) + 1


def _first_error(errors: list[dict[str, Any]], sources: dict[str, str]) -> str | None:
    for err in errors:
        if err.get("severity") != "error":
            continue
        loc = err.get("sourceLocation") or {}
        file = loc.get("file", "")
        where = file
        if file in sources and "start" in loc:
            where = f"{file}:{_line_of(sources[file], loc['start'])}"
        elif file:
            where = file
        kind = err.get("type", "Error")
        message = err.get("message", "").strip()
        return f"{where}: {kind}: {message}" if where else f"{kind}: {message}"
    return None


def _cache_key(sources: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(compiler_settings().standard_settings(), sort_keys=True).encode())
    digest.update(compiler_settings().version.encode())
    for name, text in sources.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(text.encode()).digest())
    return digest.hexdigest()


def compile_facts(*, contracts_dir: Path = CONTRACTS_DIR, build_dir: Path = BUILD_DIR) -> dict[str, Any]:
    """The enums, constants and structs of ``contracts/`` as compiled today (see :mod:`trace_api.chain.facts`)."""
    return _compile(force=False, contracts_dir=contracts_dir, build_dir=build_dir)[1]


def compile_contracts(
    *, force: bool = False, contracts_dir: Path = CONTRACTS_DIR, build_dir: Path = BUILD_DIR
) -> dict[str, Artifact]:
    """Compile every contract under ``contracts/``; reuse ``build/trace`` when no source changed."""
    return _compile(force=force, contracts_dir=contracts_dir, build_dir=build_dir)[0]


def _compile(*, force: bool, contracts_dir: Path, build_dir: Path) -> tuple[dict[str, Artifact], dict[str, Any]]:
    """The artifacts, and the facts read from the AST (:func:`solidity_facts`: enums, constants, structs)."""
    sources = _sources(contracts_dir)
    key = _cache_key(sources)
    cache = build_dir / ARTIFACTS_FILE
    if not force and cache.is_file():
        try:
            cached = json.loads(cache.read_text())
        except ValueError:
            cached = {}
        if cached.get("cache_key") == key and "facts" in cached:
            return {name: Artifact(**data) for name, data in cached["contracts"].items()}, cached["facts"]

    solc_path = ensure_solc()
    settings = compiler_settings()
    request = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": settings.standard_settings(),
    }
    try:
        output = solcx.compile_standard(
            request,
            base_path=str(contracts_dir.parent),
            allow_paths=[str(contracts_dir.parent), str(PROJECT_ROOT)],
            solc_binary=solc_path,
            allow_empty=True,
        )
    except SolcError as exc:
        message = _first_error(getattr(exc, "error_dict", None) or [], sources) if hasattr(exc, "error_dict") else None
        raise CompileError(message or f"solc failed: {str(exc).strip().splitlines()[0]}") from exc
    message = _first_error(output.get("errors", []), sources)
    if message:
        raise CompileError(message)

    artifacts: dict[str, Artifact] = {}
    for source, contracts in output.get("contracts", {}).items():
        if not source.startswith(f"{contracts_dir.name}/"):
            continue
        for name, data in contracts.items():
            artifacts[name] = Artifact(
                name=name,
                source=source,
                abi=data["abi"],
                bytecode=data["evm"]["bytecode"]["object"],
                deployed_bytecode=data["evm"]["deployedBytecode"]["object"],
            )
    facts = solidity_facts(output, contracts_dir.name)
    build_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "cache_key": key,
        "solc_version": settings.version,
        "evm_version": settings.evm_version,
        "source_hashes": {n: "0x" + hashlib.sha256(t.encode()).hexdigest() for n, t in sources.items()},
        "contracts": {name: a.__dict__ for name, a in artifacts.items()},
        "facts": facts,
    }
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, cache)
    return artifacts, facts


def is_source_checkout() -> bool:
    """True when running from a checkout with ``contracts/`` (not from an installed package)."""
    return CONTRACTS_DIR.is_dir() and (PROJECT_ROOT / "brownie-config.yaml").is_file()


def refresh_packaged(*, force: bool = False) -> tuple[dict[str, Artifact], bool]:
    """Compile ``contracts/`` and write the artifacts the package ships; returns them and whether the file changed."""
    artifacts, facts = _compile(force=force, contracts_dir=CONTRACTS_DIR, build_dir=BUILD_DIR)
    hashes = {n: "0x" + hashlib.sha256(t.encode()).hexdigest() for n, t in _sources(CONTRACTS_DIR).items()}
    text = packaged_record(artifacts, facts=facts, solc_version=compiler_settings().version, source_hashes=hashes)
    return artifacts, write_packaged(text)


def get_artifact(name: str) -> Artifact:
    artifacts = compile_contracts()
    if name not in artifacts:
        raise ConfigError(f"no contract named {name} in contracts/")
    return artifacts[name]
