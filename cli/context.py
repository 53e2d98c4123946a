"""Global options and what commands share: settings, output mode, the signing account."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:  # imported when used: `trace --help` must not pay for web3 and pydantic
    from trace_api.chain.client import Chain
    from trace_api.config import Settings

# Flags accepted anywhere on the command line, before or after the subcommand.
GLOBAL_FLAGS = ("--json", "--traceback", "--wide")
GLOBAL_VALUE_OPTIONS = ("--as",)


@dataclass
class Globals:
    json: bool = False
    traceback: bool = False
    wide: bool = False
    as_: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _chain: Chain | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from trace_api.config import PRIVATE_UMASK, load_settings, make_private

            self._settings = load_settings(**self.overrides)
            os.umask(PRIVATE_UMASK)  # the index, journals, keystores and documents are the owner's alone
            make_private(self._settings.home)
        return self._settings

    def chain(self, *, autostart: bool = True) -> Chain:
        if self._chain is None:
            from trace_api.chain.client import connect

            self._chain = connect(self.settings, autostart=autostart)
        return self._chain

    @property
    def connected_chain(self) -> Chain | None:
        """The chain this invocation connected to, if any (never connects)."""
        return self._chain

    def reset(self, other: Globals) -> None:
        """Start a fresh invocation (main() may run many times in one process, as in tests)."""
        self.json, self.traceback, self.as_, self.wide = other.json, other.traceback, other.as_, other.wide
        console.width = UNBOUNDED_WIDTH if self.wide or not console.is_terminal else None  # type: ignore[assignment]
        self.overrides = {}
        self._settings = None
        self._chain = None

    def account(self, default: str | None = None) -> Any:
        """The signer, by the one rule every command follows: `--as NAME` (or TRACE_ACCOUNT); then
        TRACE_PRIVATE_KEY (local chain only); then the role the command needs, on the local chain. Says who signs
        (human output only) before anything is sent."""
        from trace_api.chain.accounts import load_account

        name = self.as_ or self.settings.account or (None if self.settings.private_key else default)
        account = load_account(self.settings, name, prompt=_prompt_password)
        if not self.json:
            console.print(f"signing as {name or 'TRACE_PRIVATE_KEY'} ({account.address})")
        return account


STATE = Globals()
# Output to a pipe or file (and --wide) is as wide as its content: tables and values are never cut or wrapped.
UNBOUNDED_WIDTH = 10_000
console = Console(stderr=False, highlight=False, soft_wrap=False)


def _prompt_password(text: str) -> str:
    return str(typer.prompt(text, hide_input=True))


def split_global_options(argv: list[str]) -> tuple[Globals, list[str]]:
    """Pull the global flags out of argv wherever they appear (up to a `--`)."""
    found = Globals()
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in GLOBAL_FLAGS:
            setattr(found, arg[2:], True)
        elif arg in GLOBAL_VALUE_OPTIONS and i + 1 < len(argv):
            found.as_ = argv[i + 1]
            i += 1
        elif arg.startswith("--as="):
            found.as_ = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return found, rest


def emit(data: Any, human: Any = None) -> None:
    """Print ``data`` as JSON under --json; otherwise print ``human`` (text or a rich renderable)."""
    if STATE.json:
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
        return
    shown = human if human is not None else data
    if isinstance(shown, (dict, list)):
        console.print_json(json.dumps(shown, default=str))
    else:
        console.print(shown)
