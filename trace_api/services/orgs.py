"""Organisations: who stands behind an account, vouched for by the registry admin.

A profile (legal name, GLNs, country, website, logo) is kept in the index as canonical JSON; its SHA-256 goes on
chain through `OrgDirectory.setOrganisation`, so anyone holding the profile can check it. A profile counts as
verified only while the chain holds exactly its hash. The profile row is written ahead of the transaction and
completed when the chain is read next, so a crash between the two loses nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trace_api.chain.accounts import address_of
from trace_api.domain import hx, is_country, parse_gln
from trace_api.errors import NotFoundError, ValidationError
from trace_api.index import queries_orgs as qo
from trace_api.services import documents
from trace_api.services.context import TraceContext

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount


class OrgProfile(BaseModel):
    """What the admin vouches for. Field order and spelling are part of the hash: change them only with a new
    profile version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    legal_name: str = Field(min_length=2, max_length=200)
    country: str = Field(description="ISO 3166-1 alpha-2 code, e.g. NL")
    glns: tuple[str, ...] = Field(default=(), max_length=20, description="GLNs (13 digits) of its sites")
    website: str | None = Field(default=None, max_length=200, pattern=r"^https://[^\s/?#]+(/[^\s]*)?$")
    logo_sha256: str | None = Field(default=None, pattern=r"^0x[0-9a-f]{64}$")

    @field_validator("legal_name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("a legal name is required")
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        code = value.strip().upper()
        if not is_country(code):
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. NL, CO, CN)")
        return code

    @field_validator("glns")
    @classmethod
    def _glns(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for gln in values:
            parse_gln(gln)
        if len(set(values)) != len(values):
            raise ValueError("a GLN is listed twice")
        return values

    def canonical(self) -> bytes:
        """The bytes that are hashed: sorted keys, no spaces, UTF-8, absent fields left out."""
        data = self.model_dump(mode="json", exclude_none=True)
        if not data.get("glns"):
            data.pop("glns", None)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def sha256(self) -> str:
        return "0x" + hashlib.sha256(self.canonical()).hexdigest()

    @property
    def country_name(self) -> str:
        from babel import Locale  # CLDR's names: for the profile shown, not for every command that loads orgs

        return str(Locale("en").territories.get(self.country, self.country))


class Organisation(BaseModel):
    """An account's organisation, as this service holds it and as the chain vouches for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    account: str
    profile: OrgProfile
    profile_hash: str
    verified: bool = Field(description="The chain holds exactly this profile's hash (the admin vouches for it)")
    status: str = Field(description="set, pending (transaction not yet seen) or revoked")
    version: int = 0
    updated_at: str | None = None
    tx_hash: str | None = None


def _profile(raw: str) -> OrgProfile:
    return OrgProfile.model_validate_json(raw)


def _member(ctx: TraceContext, account: str) -> str:
    return address_of(ctx.settings, account)


def register(
    ctx: TraceContext,
    *,
    signer: LocalAccount,
    account: str,
    profile: OrgProfile,
    logo: Path | None = None,
) -> Organisation:
    """Vouch that ``account`` belongs to the organisation ``profile`` (the signer must be a registry admin)."""
    member = _member(ctx, account)
    prepared = documents.prepare(ctx.settings, path=logo, private=False, recipients=[]) if logo else None
    if prepared is not None:
        if not prepared.media_type.startswith("image/"):
            raise ValidationError(f"logo {logo}: not an image ({prepared.media_type})")
        profile = profile.model_copy(update={"logo_sha256": prepared.info["sha256"]})
    digest = profile.sha256()
    fn = ctx.chain.contract("OrgDirectory").functions.setOrganisation(member, bytes.fromhex(digest[2:]))
    ctx.sender(signer).call(fn)  # refused (not an admin) before anything is written
    if prepared is not None:
        documents.commit(ctx, prepared, owner=signer.address)
    row = {
        "account": member.lower(),
        "profile": profile.canonical().decode(),
        "profile_hash": digest,
        "status": "pending",
        "tx_hash": None,
        "updated_at": dt.datetime.now(dt.UTC),
    }
    with ctx.engine.begin() as conn:  # write-ahead: the profile exists before its hash is sent
        qo.replace_profile(conn, row)
    receipt = ctx.sender(signer).transact(fn)
    tx_hash = hx(receipt["transactionHash"])
    with ctx.engine.begin() as conn:
        qo.set_status(conn, member.lower(), "set", tx_hash=tx_hash)
    return show(ctx, account=member)


def revoke(ctx: TraceContext, *, signer: LocalAccount, account: str) -> Organisation:
    member = _member(ctx, account)
    current = show(ctx, account=member)
    ctx.sender(signer).transact(ctx.chain.contract("OrgDirectory").functions.revokeOrganisation(member))
    with ctx.engine.begin() as conn:
        qo.set_status(conn, member.lower(), "revoked", updated_at=dt.datetime.now(dt.UTC))
    return current.model_copy(update={"verified": False, "status": "revoked"})


def _on_chain(ctx: TraceContext, account: str) -> tuple[str, int, int]:
    from web3 import Web3

    profile_hash, updated_at, version = (
        ctx.chain.contract("OrgDirectory").functions.organisationOf(Web3.to_checksum_address(account)).call()
    )
    return hx(profile_hash), int(updated_at), int(version)


def _resolve(ctx: TraceContext, row: dict) -> Organisation:  # type: ignore[type-arg]
    from web3 import Web3

    on_chain, updated_at, version = _on_chain(ctx, row["account"])
    verified = on_chain == row["profile_hash"]
    status = row["status"]
    if status == "pending" and verified:  # the transaction went through before a crash: complete the row
        with ctx.engine.begin() as conn:
            qo.set_status(conn, row["account"], "set")
        status = "set"
    return Organisation(
        account=Web3.to_checksum_address(row["account"]),
        profile=_profile(row["profile"]),
        profile_hash=row["profile_hash"],
        verified=verified and status == "set",
        status=status,
        version=version,
        updated_at=dt.datetime.fromtimestamp(updated_at, dt.UTC).isoformat() if updated_at else None,
        tx_hash=row["tx_hash"],
    )


def show(ctx: TraceContext, *, account: str) -> Organisation:
    member = _member(ctx, account).lower()
    with ctx.engine.connect() as conn:
        row = qo.org_row(conn, member)
    if row is None:
        raise NotFoundError(
            f"no organisation profile for {account}; the registry admin adds one with `trace org register`"
        )
    return _resolve(ctx, dict(row))


def list_all(ctx: TraceContext) -> list[Organisation]:
    with ctx.engine.connect() as conn:
        rows = qo.org_rows(conn)
    return [_resolve(ctx, dict(row)) for row in rows]


def names(ctx: TraceContext, accounts: list[str]) -> dict[str, Organisation]:
    """The verified organisation of each account that has one (lowercase address -> Organisation)."""
    wanted = sorted({a.lower() for a in accounts})
    if not wanted:
        return {}
    with ctx.engine.connect() as conn:
        rows = qo.org_rows(conn, wanted)
    found = (_resolve(ctx, dict(row)) for row in rows)
    return {org.account.lower(): org for org in found if org.verified}
