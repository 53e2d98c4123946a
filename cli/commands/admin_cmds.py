"""`trace keys` (encrypted keystores) and `trace apikey` (HTTP API keys for organisations)."""

from __future__ import annotations

import json
import os

import typer

from cli.context import STATE, emit
from trace_api.chain.accounts import write_keystore
from trace_api.index.store import get_engine
from trace_api.services import apikeys

keys_app = typer.Typer(help="Encrypted keystores (eth-account v3 JSON) for real networks.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys for the HTTP API's write routes.", no_args_is_help=True)


@keys_app.command("import")
def keys_import(name: str) -> None:
    """Encrypt a private key into the keystore folder. Key from TRACE_IMPORT_KEY or a prompt; password from
    TRACE_KEY_PASSWORD or a prompt."""
    key = os.environ.get("TRACE_IMPORT_KEY") or typer.prompt("Private key", hide_input=True)
    password = STATE.settings.key_password or typer.prompt("New password", hide_input=True,
                                                           confirmation_prompt=True)
    path = write_keystore(STATE.settings.effective_keystore_dir, name, key, password)
    address = "0x" + json.loads(path.read_text())["address"]
    emit({"name": name, "path": str(path), "address": address}, f"wrote {path} for {address}")


@keys_app.command("list")
def keys_list() -> None:
    """List keystores (name and address)."""
    folder = STATE.settings.effective_keystore_dir
    items = [{"name": p.stem, "address": "0x" + json.loads(p.read_text()).get("address", "")}
             for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    emit(items, "\n".join(f"{i['name']}\t{i['address']}" for i in items) or "no keystores")


@apikey_app.command("create")
def apikey_create(
    organisation: str,
    account: str = typer.Option(..., "--account", help="Dev account name or keystore name the key signs with."),
) -> None:
    """Create an API key for ORGANISATION; it is shown once and stored only as a hash."""
    key = apikeys.create_key(get_engine(STATE.settings), organisation=organisation, account=account)
    emit({"organisation": organisation, "account": account, "api_key": key},
         f"API key for {organisation} (shown once): {key}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(apikey_app, name="apikey")
