"""The tokens a trade is paid in: lookup by symbol or address (ERC-20 metadata), the native coin, and EIP-2612
permits signed for the one transaction that opens a trade."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception

from trace_api.chain.erc20 import TOKEN_INTERFACE
from trace_api.errors import ValidationError
from trace_api.services.context import TraceContext
from trace_api.services.escrow.trades import read

__all__ = ["NATIVE", "NATIVE_DECIMALS", "TokenInfo", "erc20", "permit_domain", "resolve_token", "sign_permit"]

NATIVE = "0x" + "00" * 20  # the escrow's token address for the native coin
NATIVE_NAMES = ("ETH", "NATIVE")
NATIVE_DECIMALS = 18
PERMIT_TTL_S = 3600  # the permit only has to outlive the one transaction that carries it
_PERMIT_TYPES = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")


class TokenInfo(BaseModel):
    """A settlement token: the native coin has the zero address."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    symbol: str
    address: str
    decimals: int

    @property
    def native(self) -> bool:
        return self.address == NATIVE


def erc20(ctx: TraceContext, address: str) -> Contract:
    """A token through the standard interface: ERC-20 with its metadata, EIP-2612 and ERC-5267."""
    return ctx.chain.contract(TOKEN_INTERFACE, address)


def resolve_token(ctx: TraceContext, token: str) -> TokenInfo:
    """A token by symbol from the deployment ("USDC"), by address, or "ETH"/"native" for the native coin."""
    text = token.strip()
    if text.upper() in NATIVE_NAMES or text.lower() == NATIVE:
        return TokenInfo(symbol="ETH", address=NATIVE, decimals=NATIVE_DECIMALS)
    known = ctx.chain.deployment().tokens
    by_symbol = {s.upper(): a for s, a in known.items()}
    if text.upper() in by_symbol:
        address = Web3.to_checksum_address(by_symbol[text.upper()])
    elif Web3.is_address(text):
        address = Web3.to_checksum_address(text)
    else:
        choices = ", ".join([*known, "ETH"])
        raise ValidationError(f"unknown token {text!r}: give an address or one of {choices}")
    contract = erc20(ctx, address)
    try:
        decimals = int(read(contract.functions.decimals()))
        symbol = str(read(contract.functions.symbol()))
    except (Web3Exception, ValueError) as exc:
        raise ValidationError(f"{address} does not answer decimals() and symbol() like an ERC-20") from exc
    return TokenInfo(symbol=symbol, address=address, decimals=decimals)


def token_at(ctx: TraceContext, address: str, cache: dict[str, TokenInfo]) -> TokenInfo:
    """:func:`resolve_token` for an address a trade names, once per ``cache``."""
    if address not in cache:
        cache[address] = resolve_token(ctx, address)
    return cache[address]


def _domain_separator(domain: dict[str, Any]) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                _DOMAIN_TYPEHASH,
                keccak(text=domain["name"]),
                keccak(text=domain["version"]),
                domain["chainId"],
                domain["verifyingContract"],
            ],
        )
    )


def permit_domain(ctx: TraceContext, token: Contract) -> dict[str, Any] | None:
    """The token's EIP-712 domain if it supports EIP-2612 in a form we can sign; None otherwise.

    The domain comes from ERC-5267 ``eip712Domain()``, else from ``name()`` with version "1"; it is used only if
    it reproduces the token's own ``DOMAIN_SEPARATOR()``, so a token with another domain falls back to approve.
    """
    try:
        separator = bytes(read(token.functions.DOMAIN_SEPARATOR()))
        read(token.functions.nonces(NATIVE))
    except (Web3Exception, ValueError):
        return None
    try:
        _, name, version, chain_id, verifying, _, _ = read(token.functions.eip712Domain())
    except (Web3Exception, ValueError):
        name, version, chain_id, verifying = read(token.functions.name()), "1", ctx.chain.chain_id, token.address
    domain = {"name": name, "version": version, "chainId": int(chain_id), "verifyingContract": verifying}
    return domain if _domain_separator(domain) == separator else None


def sign_permit(
    account: LocalAccount, token: Contract, domain: dict[str, Any], *, spender: str, value: int, deadline: int
) -> tuple[int, bytes, bytes]:
    """An EIP-2612 permit for ``spender`` to take ``value`` until ``deadline``, as (v, r, s)."""
    nonce = int(read(token.functions.nonces(account.address)))
    message = {"owner": account.address, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline}
    signed = account.sign_typed_data(domain_data=domain, message_types=_PERMIT_TYPES, message_data=message)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
