"""Who is who on this chain: accounts with their names, registry roles and balances (native coin and tokens)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from eth_utils import keccak
from web3 import Web3

from trace_api.chain.accounts import DEV_ACCOUNTS, account_names, dev_addresses
from trace_api.chain.client import Chain
from trace_api.chain.erc20 import ERC20_READ_ABI
from trace_api.services.devchain import is_dev_chain

ADMIN_ROLE = "0x" + "00" * 32


@dataclass(frozen=True)
class AccountInfo:
    name: str
    address: str
    roles: list[str]
    balances: dict[str, str] = field(default_factory=dict)  # symbol -> amount in token units ("1250.5")


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
        symbol: chain.w3.eth.contract(address=Web3.to_checksum_address(address), abi=ERC20_READ_ABI)
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
