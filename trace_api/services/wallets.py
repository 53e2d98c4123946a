"""Wallets: accounts with their names, registry roles and balances; token balances, transfers, and mock mints on
the local chain."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from web3 import Web3

from trace_api.chain.accounts import DEV_ACCOUNTS, account_names, address_of, dev_addresses
from trace_api.chain.client import Chain, guarded
from trace_api.chain.erc20 import token_abi
from trace_api.domain import hx
from trace_api.errors import ValidationError
from trace_api.services.context import TraceContext
from trace_api.services.devchain import is_dev_chain, require_dev_chain

ADMIN_ROLE = "0x" + "00" * 32


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Token amounts in a token's smallest unit outgrow JSON numbers (2**53): JSON carries them as decimal strings.
Units = Annotated[int, PlainSerializer(str, return_type=str, when_used="json")]


class AccountInfo(_Result):
    name: str
    address: str
    roles: list[str] = Field(description="Registry roles the account holds")
    balances: dict[str, str] = Field(default_factory=dict, description='Symbol -> amount in token units ("1250.5")')


def registry_roles(chain: Chain) -> dict[str, str]:
    """Role name -> role id, from the registry's ABI: every `*_ROLE` constant, plus the admin role."""
    roles = {"admin": ADMIN_ROLE}
    for item in chain.artifacts["TraceRegistry"].abi:
        name = item.get("name", "")
        if item.get("type") == "function" and name.endswith("_ROLE") and name != "DEFAULT_ADMIN_ROLE":
            roles[name.removesuffix("_ROLE").lower()] = "0x" + keccak(text=name).hex()
    return roles


def _units(value: int, decimals: int) -> str:
    return f"{(Decimal(value) / Decimal(10) ** decimals).normalize():f}"


def list_accounts(*, chain: Chain) -> list[AccountInfo]:
    """The named accounts this installation knows (dev accounts on the local chain, keystores anywhere), with
    their registry roles and balances of the native coin and of each token the escrow accepts."""
    names = account_names(chain.settings)
    if is_dev_chain(chain):  # dev accounts in their mnemonic order, then keystores
        order = [dev_addresses()[name].lower() for name in DEV_ACCOUNTS]
        order += sorted(a for a in names if a not in order)
    else:
        order = sorted(names)
    registry = chain.contract("TraceRegistry")
    roles = registry_roles(chain)
    tokens = {
        symbol: chain.w3.eth.contract(address=Web3.to_checksum_address(address), abi=token_abi())
        for symbol, address in chain.deployment().tokens.items()
    }
    decimals = {symbol: token.functions.decimals().call() for symbol, token in tokens.items()}
    found = []
    for address in order:
        checksum = Web3.to_checksum_address(address)
        held = [name for name, role in roles.items() if registry.functions.hasRole(role, checksum).call()]
        balances = {"native": _units(chain.w3.eth.get_balance(checksum), 18)}
        balances |= {s: _units(t.functions.balanceOf(checksum).call(), decimals[s]) for s, t in tokens.items()}
        found.append(AccountInfo(name=names[address], address=checksum, roles=held, balances=balances))
    return found


class TokenBalance(_Result):
    account: str
    name: str | None = Field(description="The account's name here (dev account or keystore), if it has one")
    token: str = Field(description="Symbol")
    token_address: str = Field(description="The zero address for the native coin")
    amount: str = Field(description="In token units")
    units: Units = Field(description="In the token's smallest unit")


class TokenTransfer(_Result):
    kind: str = Field(description="transfer or mint")
    sender: str
    to: str
    token: str
    amount: str
    tx_hash: str
    balance_after: str = Field(description="The recipient's balance afterwards, in token units")


def _token(ctx: TraceContext, token: str) -> Any:
    from trace_api.services.escrow import resolve_token

    return resolve_token(ctx, token)


def balance(ctx: TraceContext, *, account: str, token: str) -> TokenBalance:
    """An account's balance of one token (by deployment symbol or address), or of the native coin ("ETH")."""
    info = _token(ctx, token)
    holder = address_of(ctx.settings, account)
    if info.native:
        units = int(guarded(lambda: ctx.chain.w3.eth.get_balance(Web3.to_checksum_address(holder))))
    else:
        contract = ctx.chain.w3.eth.contract(address=Web3.to_checksum_address(info.address), abi=token_abi())
        units = int(guarded(lambda: contract.functions.balanceOf(holder).call()))
    return TokenBalance(
        account=holder,
        name=account_names(ctx.settings).get(holder.lower()),
        token=info.symbol,
        token_address=info.address,
        amount=_units(units, info.decimals),
        units=units,
    )


def transfer(ctx: TraceContext, *, signer: LocalAccount, to: str, amount: str, token: str) -> TokenTransfer:
    """Send tokens (or the native coin) from the signer to ``to``; refused before sending when the balance is short."""
    from trace_api.services.escrow import parse_amount

    info = _token(ctx, token)
    recipient = address_of(ctx.settings, to)
    units = parse_amount(amount, info.decimals)
    held = balance(ctx, account=signer.address, token=token)
    if held.units < units:
        raise ValidationError(f"{signer.address} holds {held.amount} {info.symbol}, less than {amount}")
    sender = ctx.sender(signer)
    if info.native:
        receipt = sender.wait(sender.submit_value(recipient, units))
    else:
        contract = ctx.chain.w3.eth.contract(address=Web3.to_checksum_address(info.address), abi=token_abi())
        receipt = sender.transact(contract.functions.transfer(recipient, units))
    return _moved(
        ctx, "transfer", signer=signer, to=recipient, token=token, decimals=info.decimals, units=units, receipt=receipt
    )


def mint(ctx: TraceContext, *, signer: LocalAccount, to: str, amount: str, token: str) -> TokenTransfer:
    """Mint a mock stablecoin of the local deployment: local chain and our mock tokens only."""
    from trace_api.services.escrow import parse_amount

    require_dev_chain(ctx.chain, "trace token mint")
    info = _token(ctx, token)
    mocks = {d.address.lower() for n, d in ctx.chain.deployment().contracts.items() if n.startswith("MockStablecoin:")}
    if info.native or info.address.lower() not in mocks:
        raise ValidationError(f"{info.symbol} is not a mock token of this deployment; only those can be minted")
    recipient = address_of(ctx.settings, to)
    units = parse_amount(amount, info.decimals)
    receipt = ctx.sender(signer).transact(
        ctx.chain.contract("MockStablecoin", info.address).functions.mint(recipient, units)
    )
    return _moved(
        ctx, "mint", signer=signer, to=recipient, token=token, decimals=info.decimals, units=units, receipt=receipt
    )


def _moved(
    ctx: TraceContext,
    kind: str,
    *,
    signer: LocalAccount,
    to: str,
    token: str,
    decimals: int,
    units: int,
    receipt: Any,
) -> TokenTransfer:
    """What a transfer or mint did, with the recipient's balance after it."""
    after = balance(ctx, account=to, token=token)
    return TokenTransfer(
        kind=kind,
        sender=signer.address,
        to=to,
        token=after.token,
        amount=_units(units, decimals),
        tx_hash=hx(receipt["transactionHash"]),
        balance_after=after.amount,
    )
