"""The compiled contracts the running tool uses: ABI and bytecode shipped inside the package.

``contracts.json`` next to this module is generated from ``contracts/`` by ``trace compile`` (and ``trace deploy``
on a source checkout); a test compiles ``contracts/`` afresh and fails when the shipped copy differs. Connecting to
a chain only reads this file, so an installed package needs neither the sources nor a compiler.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trace_api.errors import ConfigError

PACKAGED = Path(__file__).with_name("contracts.json")


@dataclass(frozen=True)
class Artifact:
    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str

    @property
    def bytecode_hash(self) -> str:
        return "0x" + hashlib.sha256(bytes.fromhex(self.deployed_bytecode)).hexdigest()


def load_artifacts(path: Path = PACKAGED) -> dict[str, Artifact]:
    """The shipped artifacts, re-read only when the file changed (``trace compile`` in the same process)."""
    return _parsed(path, _stamp(path))[0]


def load_enums(path: Path = PACKAGED) -> dict[str, tuple[str, ...]]:
    """The contracts' enums by canonical name (``ITraceRegistry.Step``), members in on-chain order."""
    return _parsed(path, _stamp(path))[1]


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigError(f"{path.name} is missing: run `trace compile` on a source checkout") from None


@functools.lru_cache(maxsize=4)
def _parsed(path: Path, stamp: int) -> tuple[dict[str, Artifact], dict[str, tuple[str, ...]]]:
    """The file read and parsed once per version, for both the artifacts and the enums."""
    record = json.loads(path.read_text())
    artifacts = {name: Artifact(**data) for name, data in record["contracts"].items()}
    return artifacts, {name: tuple(members) for name, members in record["enums"].items()}


def packaged_record(
    artifacts: dict[str, Artifact], *, enums: dict[str, list[str]], solc_version: str, source_hashes: dict[str, str]
) -> str:
    """The text of ``contracts.json`` for these artifacts: stable (sorted), so unchanged sources change no byte."""
    record = {
        "generated_by": "trace compile",
        "solc_version": solc_version,
        "source_hashes": dict(sorted(source_hashes.items())),
        "enums": dict(sorted(enums.items())),
        "contracts": {name: asdict(artifacts[name]) for name in sorted(artifacts)},
    }
    return json.dumps(record, indent=1, sort_keys=True) + "\n"


def write_packaged(text: str, path: Path = PACKAGED) -> bool:
    """Replace the shipped artifacts with ``text``; returns False when they were already the same."""
    if path.is_file() and path.read_text() == text:
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # concurrent writers never share a file
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True
