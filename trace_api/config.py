"""Settings: one object, read from ``TRACE_*`` environment variables and an optional ``.env`` file.

Precedence, highest first: explicit keyword arguments, the environment, the ``.env`` file, the defaults.
pydantic-settings cannot be used beside brownie (it pins python-dotenv 0.16), so the loading is done here.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trace_api.errors import ConfigError

ENV_PREFIX = "TRACE_"
LOCAL_RPC_HOST = "127.0.0.1"
LOCAL_CHAIN_ID = 31337
DEFAULT_PORT = 8545
# The well-known development mnemonic: its keys are public, so they are accepted on the local chain only.
DEV_MNEMONIC = "test test test test test test test test test test test junk"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    home: Path = Field(default=Path(".trace"), description="State folder: node state, deployments, documents")
    rpc_url: str = Field(default="", description="JSON-RPC URL; empty means the local anvil node")
    chain_id: int = Field(default=LOCAL_CHAIN_ID)
    node_port: int = Field(default=DEFAULT_PORT, description="Port of the local anvil node")
    node_state_interval: int = Field(
        default=10,
        ge=1,
        le=3600,
        description="Seconds between the local node's state dumps: what a kill -9 of the node can lose",
    )
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in home")
    keystore_dir: Path | None = Field(default=None, description="eth-account v3 JSON keystores")
    key_password: str | None = Field(default=None, repr=False, description="Password of the keystore")
    private_key: str | None = Field(default=None, repr=False, description="Plaintext key, local chain only")
    account: str | None = Field(default=None, description="Account to sign with (as --as): dev or keystore name")
    confirmations: int = Field(default=0, ge=0, description="Blocks before an event counts as final")
    max_document_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    anchor_batch_size: int = Field(default=1024, gt=0)
    trust_proxy: bool = Field(
        default=False, description="Behind a reverse proxy: take the client address from X-Forwarded-For"
    )
    public_url: str = Field(
        default="",
        pattern=r"^(https?://[^/?#@\s]+/?)?$",
        description="Public origin of the API (https://trace.example.org): links, redirects and resolverRoot "
        "use it, never the Host header; empty means the address the server listens on",
    )
    body_timeout: float = Field(
        default=60.0, gt=0, le=3600, description="Seconds a request body may take to arrive (408 after)"
    )
    header_timeout: float = Field(
        default=10.0, gt=0, le=600, description="Seconds a request head may take to arrive (connection dropped)"
    )
    keep_alive_timeout: int = Field(
        default=5, gt=0, le=600, description="Seconds an idle keep-alive connection stays open"
    )
    max_request_bytes: int = Field(default=64 * 1024, gt=0, description="Largest HTTP request body (413 above)")
    max_capture_bytes: int = Field(default=5 * 1024 * 1024, gt=0, description="Largest body of POST /capture")
    resolver_rate_per_minute: int = Field(
        default=60,
        ge=0,
        description="Requests per minute per client network (IPv4 address, IPv6 /64) on the public read routes; "
        "0: no limit",
    )
    resolver_rate_burst: int = Field(
        default=0, ge=0, description="Requests a client may make at once before the rate applies; 0: one minute's"
    )
    index_poll_seconds: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="The server's read routes bring the index up to the chain at most this often, in the background "
        "(0: before every read, as the CLI does)",
    )
    scan_flush_seconds: float = Field(
        default=1.0, gt=0, le=60, description="Scans are written in batches, in the background, this often"
    )
    snapshot_max_age: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a verified history is reused while the index stays at the same block, for writes "
        "made by another process that do not move the index (off-chain captures)",
    )

    @field_validator("home", "keystore_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @property
    def local_rpc_url(self) -> str:
        return f"http://{LOCAL_RPC_HOST}:{self.node_port}"

    @property
    def effective_rpc_url(self) -> str:
        return self.rpc_url or self.local_rpc_url

    @property
    def is_local(self) -> bool:
        """True when the RPC URL is the embedded local node, which commands may start on demand."""
        return not self.rpc_url or self.rpc_url.rstrip("/") == self.local_rpc_url

    def is_dev_chain(self, chain_id: int | None = None) -> bool:
        """The one rule for "the local development chain", where named dev accounts (whose keys are public) may
        sign and time may be steered: the embedded node's URL and the local chain id (the connected chain's when
        given, else the configured one)."""
        return self.is_local and (self.chain_id if chain_id is None else chain_id) == LOCAL_CHAIN_ID

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'index.sqlite'}"

    @property
    def effective_keystore_dir(self) -> Path:
        return self.keystore_dir or self.home / "keystore"

    @property
    def deployments_dir(self) -> Path:
        return self.home / "deployments"


def _from_mapping(values: dict[str, Any]) -> dict[str, Any]:
    fields = Settings.model_fields
    found: dict[str, Any] = {}
    for key, value in values.items():
        if not key.startswith(ENV_PREFIX) or value is None:
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name in fields:
            found[name] = value
    return found


def load_settings(env_file: Path | str | None = ".env", **overrides: Any) -> Settings:
    """Build Settings from defaults < ``.env`` < environment < ``overrides`` (None overrides are ignored)."""
    values: dict[str, Any] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update(_from_mapping(dict(dotenv_values(env_file))))
    values.update(_from_mapping(dict(os.environ)))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(str(p) for p in e['loc']).upper()} ({'.'.join(str(p) for p in e['loc'])}): "
            f"{e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc


PRIVATE_UMASK = 0o077  # files 0600, folders 0700


def make_private(home: Path) -> None:
    """Tighten ``home`` and everything under it to its owner: no group or other permission bits.

    ``trace`` runs with umask 077, so what it creates is private already; this fixes a home made before (0644
    index, journals and documents). Modes are only ever tightened. Symbolic links are not followed.
    """
    if not home.is_dir():
        return
    for path in (home, *home.rglob("*")):
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o777
        if mode & ~0o700:
            path.chmod(mode & 0o700)


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` or pass Settings explicitly."""
    return load_settings()
