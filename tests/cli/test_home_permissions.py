"""TRACE_HOME is its owner's alone: the folder 0700, every file 0600 (issue 16: the index and the journals were
0644, readable by every local user)."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.conftest import run_trace


def _loose(home: Path) -> list[str]:
    """Paths under ``home`` (and itself) that give group or others any permission."""
    return [
        f"{p.relative_to(home.parent)} {stat.filemode(p.stat().st_mode)}"
        for p in (home, *home.rglob("*"))
        if not p.is_symlink() and p.stat().st_mode & 0o077
    ]


def test_what_trace_creates_is_private(trace_env: dict[str, str]) -> None:
    home = Path(trace_env["TRACE_HOME"])
    env = {**trace_env, "TRACE_IMPORT_KEY": "0x" + "11" * 32, "TRACE_KEY_PASSWORD": "a-password-for-the-test"}
    assert run_trace("deploy", env=env).code == 0  # node state, deployments, index, journals
    assert run_trace("apikey", "create", "Perm Co", "--account", "producer", env=env).code == 0
    assert run_trace("keys", "import", "perm", env=env).code == 0
    assert run_trace("node", "stop", env=env).code == 0
    assert (home / "index.sqlite").exists() and any(home.rglob("*.json"))
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert _loose(home) == []


def test_a_home_made_before_is_tightened(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "journal").mkdir(parents=True, mode=0o755)
    home.chmod(0o755)
    (home / "index.sqlite").write_text("")
    (home / "index.sqlite").chmod(0o644)
    (home / "journal" / "producer.jsonl").write_text("{}\n")
    (home / "journal" / "producer.jsonl").chmod(0o664)
    result = run_trace("apikey", "list", env={"TRACE_HOME": str(home)})
    assert result.code in (0, 1), result.stderr  # the empty file is no database; the modes are fixed first
    assert _loose(home) == []
