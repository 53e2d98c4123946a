"""Global options and what commands share: settings, output mode, the signing account."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:  # imported when used: `trace --help` must not pay for web3 and pydantic
    from trace_api.chain.client import Chain
    from trace_api.config import Settings
    from trace_api.services.context import TraceContext


@dataclass
class Globals:
    """One invocation's global options and what its commands share; it is click's context object of the root."""

    json: bool = False
    traceback: bool = False
    wide: bool = False
    as_: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _chain: Chain | None = None
    _trace: TraceContext | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from trace_api.config import PRIVATE_UMASK, load_settings, make_private

            self._settings = load_settings(**self.overrides)
            os.umask(PRIVATE_UMASK)  # the index, journals, keystores and documents are the owner's alone
            make_private(self._settings.home)
        return self._settings

    def override(self, **values: Any) -> None:
        """Set settings from a command's own options (`trace verify --rpc`), before anything is connected."""
        if self._chain is not None:
            raise RuntimeError("settings are overridden after the chain was connected")
        self.overrides.update({k: v for k, v in values.items() if v is not None})
        self._settings = None

    def chain(self, *, autostart: bool = True) -> Chain:
        if self._chain is None:
            from trace_api.chain.client import connect

            self._chain = connect(self.settings, autostart=autostart)
        return self._chain

    def trace(self) -> TraceContext:
        """The services' context for this invocation: its settings, chain and index (built once, on first use)."""
        if self._trace is None:
            from trace_api.services.context import TraceContext

            self._trace = TraceContext.on(self.settings, self.chain())
        return self._trace

    @property
    def connected_chain(self) -> Chain | None:
        """The chain this invocation connected to, if any (never connects)."""
        return self._chain

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


# The running invocation's Globals. main() sets it for the length of one invocation; the same object is click's
# context object of the root command, which the global options' callbacks fill in.
_INVOCATION: ContextVar[Globals] = ContextVar("trace_invocation")


def state() -> Globals:
    """The running invocation's global options and shared objects."""
    try:
        return _INVOCATION.get()
    except LookupError:
        raise RuntimeError("no `trace` invocation is running") from None


@contextmanager
def invocation(found: Globals) -> Iterator[Globals]:
    token = _INVOCATION.set(found)
    try:
        yield found
    finally:
        _INVOCATION.reset(token)


def _store(name: str) -> Any:
    def callback(ctx: typer.Context, value: Any) -> Any:
        if value:
            setattr(ctx.find_root().obj, name, value)
            if name == "wide":
                console.width = UNBOUNDED_WIDTH
        return value

    return callback


def _global_options(
    json_: bool = typer.Option(
        False, "--json", is_eager=True, callback=_store("json"), help="Machine-readable output."
    ),
    traceback_: bool = typer.Option(
        False, "--traceback", is_eager=True, callback=_store("traceback"), help="Show the full traceback on errors."
    ),
    wide: bool = typer.Option(
        False, "--wide", is_eager=True, callback=_store("wide"), help="Never fit tables to the terminal."
    ),
    as_: str = typer.Option(
        None,
        "--as",
        is_eager=True,
        callback=_store("as_"),
        metavar="NAME",
        show_default=False,
        help="Sign as this dev account or keystore name (TRACE_ACCOUNT).",
    ),
) -> None:
    """Declares the options every command and group accepts (see global_options)."""


def global_options() -> list[Any]:
    """The options every command and group accepts, before or after its own arguments: `trace --json batch show
    ...` and `trace batch show ... --json` mean the same. Eager, so a usage error later on the line is already
    reported in the requested form. Built by typer from _global_options, fresh for each command."""
    scratch = typer.Typer(add_completion=False)
    scratch.command()(_global_options)
    params = list(typer.main.get_command(scratch).params)
    for param in params:
        param.expose_value = False  # stored in the invocation's Globals, not passed to the command
    return params


def with_global_options(command: Any) -> Any:
    """``command`` and, for a group, every command below it, accepting the global options."""
    taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
    command.params.extend(o for o in global_options() if not taken.intersection(o.opts))
    for sub in getattr(command, "commands", {}).values():
        with_global_options(sub)
    return command


# Output to a pipe or file (and --wide) is as wide as its content: tables and values are never cut or wrapped.
UNBOUNDED_WIDTH = 10_000
console = Console(stderr=False, highlight=False, soft_wrap=False)


def _prompt_password(text: str) -> str:
    return str(typer.prompt(text, hide_input=True))


def emit(data: Any, human: Any = None) -> None:
    """Print ``data`` as JSON under --json; otherwise print ``human`` (text or a rich renderable)."""
    if state().json:
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
        return
    shown = human if human is not None else data
    if isinstance(shown, (dict, list)):
        console.print_json(json.dumps(shown, default=str))
    else:
        console.print(shown)
