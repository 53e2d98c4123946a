"""`trace keys` (encrypted keystores) and `trace apikey` (HTTP API keys for organisations)."""

import datetime as dt
import json
import os

import typer
from rich.table import Column, Table

from cli.context import emit, state
from trace_api.chain.accounts import write_keystore
from trace_api.errors import ValidationError
from trace_api.index.store import get_engine
from trace_api.services import apikeys
from trace_api.services.escrow import parse_duration

keys_app = typer.Typer(help="Encrypted keystores (eth-account v3 JSON) for real networks.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys for the HTTP API's write routes.", no_args_is_help=True)


@keys_app.command("import")
def keys_import(name: str) -> None:
    """Encrypt a private key into the keystore folder. Key from TRACE_IMPORT_KEY or a prompt; password from
    TRACE_KEY_PASSWORD or a prompt."""
    key = os.environ.get("TRACE_IMPORT_KEY") or typer.prompt("Private key", hide_input=True)
    password = state().settings.key_password or typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    path = write_keystore(state().settings.effective_keystore_dir, name, key, password)
    address = "0x" + json.loads(path.read_text())["address"]
    emit({"name": name, "path": str(path), "address": address}, f"wrote {path} for {address}")


@keys_app.command("list")
def keys_list() -> None:
    """List keystores (name and address)."""
    folder = state().settings.effective_keystore_dir
    items = (
        [
            {"name": p.stem, "address": "0x" + json.loads(p.read_text()).get("address", "")}
            for p in sorted(folder.glob("*.json"))
        ]
        if folder.is_dir()
        else []
    )
    emit(items, "\n".join(f"{i['name']}\t{i['address']}" for i in items) or "no keystores")


def _expiry(expires: str | None) -> dt.datetime | None:
    if not expires:
        return None
    seconds = parse_duration(expires)
    if seconds <= 0:
        raise ValidationError("--expires must be a positive duration, e.g. 90d")
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


EXPIRES = typer.Option(
    None, "--expires", help="Lifetime, e.g. 90d, 12w, 24h; the key gets 401 afterwards. Default: no expiry."
)


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@apikey_app.command("create")
def apikey_create(
    organisation: str,
    account: str = typer.Option(..., "--account", help="Dev account name or keystore name the key signs with."),
    expires: str | None = EXPIRES,
) -> None:
    """Create an API key for ORGANISATION; it is shown once and stored only as a hash."""
    engine = get_engine(state().settings)
    key = apikeys.create_key(engine, organisation=organisation, account=account, expires_at=_expiry(expires))
    info = next(k for k in apikeys.list_keys(engine) if k.id == apikeys.key_id(key))
    until = f", expires {_when(info.expires_at)} UTC" if info.expires_at else ""
    emit(
        info.model_dump(mode="json") | {"api_key": key},
        f"API key {info.id} for {organisation}{until} (shown once): {key}",
    )


@apikey_app.command("list")
def apikey_list(
    organisation: str | None = typer.Option(None, "--organisation", help="Only this organisation's keys."),
) -> None:
    """List API keys (id, organisation, account, status, expiry, last use); never the keys themselves."""
    keys = apikeys.list_keys(get_engine(state().settings), organisation=organisation)
    table = Table("organisation", "account", "status", "created", "expires", "last used")
    table.columns.insert(0, Column("id", no_wrap=True))
    for k in keys:
        table.add_row(
            k.id,
            k.organisation,
            k.account,
            k.status,
            _when(k.created_at),
            _when(k.expires_at),
            _when(k.last_used_at),
        )
    emit([k.model_dump(mode="json") for k in keys], table if keys else "no API keys")


@apikey_app.command("revoke")
def apikey_revoke(key_id: str = typer.Argument(..., help="The key's id, as `trace apikey list` shows it.")) -> None:
    """Revoke an API key: it gets 401 from now on."""
    info = apikeys.revoke_key(get_engine(state().settings), ident=key_id)
    emit(info.model_dump(mode="json"), f"API key {info.id} of {info.organisation} revoked")


@apikey_app.command("rotate")
def apikey_rotate(
    key_id: str = typer.Argument(..., help="The key's id, as `trace apikey list` shows it."),
    expires: str | None = EXPIRES,
) -> None:
    """Replace an API key: a new key for the same organisation and account; the old one is revoked at once."""
    key, new = apikeys.rotate_key(get_engine(state().settings), ident=key_id, expires_at=_expiry(expires))
    emit(
        new.model_dump(mode="json") | {"api_key": key, "replaces": key_id},
        f"API key {new.id} for {new.organisation} replaces {key_id}, now revoked (shown once): {key}",
    )


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(apikey_app, name="apikey")
