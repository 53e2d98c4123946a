"""Signing accounts: named dev accounts on the local chain, encrypted keystores (eth-account v3) elsewhere.

Plaintext keys, including the well-known dev mnemonic, are accepted only on the local development chain.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from eth_typing import HexStr
from eth_utils.address import is_address, to_checksum_address

from trace_api.config import DEV_MNEMONIC, Settings
from trace_api.errors import ConfigError, UnauthorizedError

if TYPE_CHECKING:
    from eth_account import Account
    from eth_account.signers.local import LocalAccount

# Index in the dev mnemonic of each named local account.
DEV_ACCOUNTS: dict[str, int] = {
    "admin": 0,
    "producer": 1,
    "processor": 2,
    "carrier": 3,
    "inspector": 4,
    "retailer": 5,
    "buyer": 6,
    "seller": 7,
    "arbiter": 8,
}

PasswordPrompt = Callable[[str], str]


@functools.cache
def _accounts() -> type[Account]:
    """eth_account's Account, imported when a key is used (its import costs a third of a second)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return Account


def dev_account(name: str) -> LocalAccount:
    if name not in DEV_ACCOUNTS:
        raise ConfigError(f"unknown dev account {name!r}; choose one of {', '.join(DEV_ACCOUNTS)}")
    account: LocalAccount = _accounts().from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{DEV_ACCOUNTS[name]}")
    return account


@functools.cache
def dev_addresses() -> dict[str, str]:
    return {name: dev_account(name).address for name in DEV_ACCOUNTS}


def account_names(settings: Settings) -> dict[str, str]:
    """Lowercase address -> the name a user knows it by: keystore names, and dev names on the local chain."""
    names: dict[str, str] = {}
    if settings.is_dev_chain():
        names.update({address.lower(): name for name, address in dev_addresses().items()})
    folder = settings.effective_keystore_dir
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                address = json.loads(path.read_text()).get("address", "")
            except (OSError, ValueError):
                continue
            if address:
                names.setdefault("0x" + address.lower().removeprefix("0x"), path.stem)
    return names


def address_of(settings: Settings, value: str) -> str:
    """A checksum address from an address, a keystore name, or (on the local chain) a dev account name."""
    if is_address(value):
        return to_checksum_address(value)
    for address, name in account_names(settings).items():
        if name == value:
            return to_checksum_address(address)
    known = "a keystore name" + (" or a dev account name" if settings.is_dev_chain() else "")
    raise ConfigError(f"{value!r} is neither an address nor {known}")


def _keystore_file(folder: Path, name: str) -> Path | None:
    direct = folder / (name if name.endswith(".json") else f"{name}.json")
    if direct.is_file():
        return direct
    wanted = name.lower().removeprefix("0x")
    for path in sorted(folder.glob("*.json")):
        try:
            if json.loads(path.read_text()).get("address", "").lower() == wanted:
                return path
        except (OSError, ValueError):
            continue
    return None


def load_account(settings: Settings, name: str | None = None, *, prompt: PasswordPrompt | None = None) -> LocalAccount:
    """The account to sign with.

    Order: a keystore named ``name`` (file stem or address) in the keystore folder; on the local dev chain,
    the dev account ``name`` (default ``admin``) or ``TRACE_PRIVATE_KEY``. Real networks need a keystore;
    its password comes from ``TRACE_KEY_PASSWORD`` or ``prompt``.
    """
    folder = settings.effective_keystore_dir
    path = _keystore_file(folder, name) if name and folder.is_dir() else None
    if path is not None:
        password = settings.key_password
        if password is None:
            if prompt is None:
                raise ConfigError(f"keystore {path.name} needs a password: set TRACE_KEY_PASSWORD")
            password = prompt(f"Password for {path.name}")
        try:
            key = _accounts().decrypt(json.loads(path.read_text()), password)
        except ValueError as exc:
            raise UnauthorizedError(f"cannot decrypt keystore {path.name}: wrong password") from exc
        decrypted: LocalAccount = _accounts().from_key(key)
        return decrypted
    if not settings.is_dev_chain():
        if settings.private_key:
            raise ConfigError("plaintext keys are accepted only on the local dev chain; use an encrypted keystore")
        raise ConfigError(
            f"no keystore named {name or '(none given)'} in {folder}; create one with `trace keys import`"
        )
    if settings.private_key and name is None:
        plain: LocalAccount = _accounts().from_key(settings.private_key)
        return plain
    return dev_account(name or "admin")


def write_keystore(folder: Path, name: str, private_key: str, password: str) -> Path:
    """Encrypt a key into ``folder/name.json`` (eth-account v3 JSON, scrypt)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{name}.json"
    if path.exists():
        raise ConfigError(f"keystore {path} already exists")
    data = _accounts().encrypt(HexStr(private_key), password)
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path
