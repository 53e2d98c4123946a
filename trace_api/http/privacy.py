"""Private documents are shown to the parties of their batch only.

A private document is attached to an event encrypted, for named counterparties; its name and its SHA-256 are as
telling as its content (a hash of a guessable invoice confirms the guess). JSON views therefore show such a
document as ``{"private": true, "name": "private document"}`` with its verification status, unless the request
carries an API key whose account is a party of the batch: its producer, an account that recorded one of its
steps on chain, or one custody was handed to. A missing or invalid key is simply the public (reads stay public).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from trace_api.chain.accounts import DEV_ACCOUNTS, dev_account
from trace_api.config import Settings
from trace_api.errors import UnauthorizedError
from trace_api.http.deps import api_key_from
from trace_api.index.store import get_engine
from trace_api.services import apikeys, documents

PRIVATE_NAME = "private document"
HIDDEN = ("sha256", "name", "media_type", "recipients")


@dataclass(frozen=True)
class Viewer:
    """Who is reading: the lower-case address of the account behind the request's API key, if it has a valid one."""

    address: str | None = None


def _address(settings: Settings, account: str) -> str | None:
    """The address of a key's account, without decrypting a keystore."""
    folder = settings.effective_keystore_dir
    for path in (folder / f"{account}.json",) if folder.is_dir() else ():
        if path.is_file():
            return "0x" + str(json.loads(path.read_text()).get("address", "")).lower()
    if account.lower().startswith("0x") and len(account) == 42:
        return account.lower()
    if account in DEV_ACCOUNTS and settings.is_dev_chain():
        return dev_account(account).address.lower()
    return None


def get_viewer(request: Request) -> Viewer:
    settings: Settings = request.app.state.settings
    key = api_key_from(request.headers)
    if not key:
        return Viewer()
    try:
        _, account = apikeys.authenticate(get_engine(settings), key)
    except UnauthorizedError:
        return Viewer()
    return Viewer(_address(settings, account))


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def parties(settings: Settings, batch_id: str) -> set[str]:
    """The accounts the index knows as parties of a batch."""
    return documents.parties(get_engine(settings), batch_id)


def is_party(settings: Settings, viewer: Viewer, batch_id: str | None) -> bool:
    return bool(viewer.address and batch_id and viewer.address in parties(settings, batch_id))


def hide_private_documents(value: Any) -> Any:
    """``value`` (any JSON) with every private document reduced to its privacy and its verification status."""
    if isinstance(value, list):
        return [hide_private_documents(v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("private") is True and "sha256" in value:
        kept = {k: v for k, v in value.items() if k not in HIDDEN}
        return {**kept, "name": PRIVATE_NAME}
    return {k: hide_private_documents(v) for k, v in value.items()}


def shown(settings: Settings, viewer: Viewer, batch_id: str | None, data: Any) -> Any:
    """``data`` as ``viewer`` may see it: whole for a party of the batch, private documents hidden otherwise."""
    return data if is_party(settings, viewer, batch_id) else hide_private_documents(data)
