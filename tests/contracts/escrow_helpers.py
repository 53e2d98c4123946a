"""Helpers shared by the TradeEscrow tests: trade terms, revert assertions, time travel, enums."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import Any

import brownie.test
from brownie import web3
from brownie.exceptions import VirtualMachineError
from eth_account import Account
from eth_utils import keccak, to_checksum_address

ZERO = "0x" + "00" * 20
NATIVE = ZERO  # the escrow's token address for the native coin
BPS = 10_000
DAY = 86_400
RULING = 7 * DAY  # ruling period most tests use
REENTRANT_CALL = "ReentrancyGuardReentrantCall"


class State(IntEnum):
    NONE = 0
    OPEN = 1
    DISPUTED = 2
    CLOSED = 3


class Incoterm(IntEnum):
    NONE = 0
    EXW = 1
    FCA = 2
    CPT = 3
    CIP = 4
    DAP = 5
    DPU = 6
    DDP = 7
    FAS = 8
    FOB = 9
    CFR = 10
    CIF = 11


class Milestone(IntEnum):
    SHIPPED = 0
    DELIVERED = 1


def batch_id(label: str) -> bytes:
    """A batch id the way the registry derives it: keccak256 of a Digital Link key path."""
    return keccak(text=f"/01/09506000134352/10/{label}")


def terms(
    seller: Any,
    arbiter: Any,
    token: Any,
    batch: bytes,
    amount: int,
    deliver_by: int,
    *,
    ruling: int = RULING,
    shipped_bps: int = 0,
    delivered_bps: int = 0,
    dispute_window: int = DAY,
    incoterm: int = 0,
    place: str = "",
    invoice: tuple = (0, b"\0" * 3, 0, 0),
    lines: tuple = (),
) -> tuple:
    """OpenParams as the tuple the ABI expects, in declaration order. `invoice` is (amount in minor units,
    currency code, quoted rate, max slippage bps); `lines` is ((batch, amount), ...), with `batch` zero."""
    return (
        str(seller),
        str(arbiter),
        str(token),
        batch,
        amount,
        deliver_by,
        ruling,
        shipped_bps,
        delivered_bps,
        dispute_window,
        incoterm,
        place.encode().ljust(5, b"\0"),
        invoice,
        list(lines),
    )


def fee_of(amount: int, fee_bps: int) -> int:
    return amount * fee_bps // BPS


def latest_timestamp() -> int:
    return int(web3.eth.get_block("latest")["timestamp"])


def warp(timestamp: int) -> None:
    """Make the next mined block carry exactly `timestamp`.

    brownie 1.22's `chain.mine(timestamp=...)` sends a bare integer as the params of `evm_mine`, which anvil rejects,
    so the tests drive anvil's own time-travel call directly.
    """
    response = web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    if "error" in response:
        raise RuntimeError(f"evm_setNextBlockTimestamp failed: {response['error']}")


def mine_at(timestamp: int) -> None:
    """Mine an empty block at `timestamp`."""
    response = web3.provider.make_request("evm_mine", [timestamp])
    if "error" in response:
        raise RuntimeError(f"evm_mine failed: {response['error']}")


def _format(arg: Any) -> str:
    if isinstance(arg, bytes):
        return str(arg)
    if isinstance(arg, str) and arg.startswith("0x") and len(arg) == 42:
        return to_checksum_address(arg)
    if hasattr(arg, "address"):
        return to_checksum_address(arg.address)
    return str(int(arg)) if isinstance(arg, IntEnum) else str(arg)


def _normalize(message: str) -> str:
    """Checksum any address brownie printed in lower case, so messages compare exactly."""
    parts = message.split(": ", 1)
    if len(parts) == 1:
        return message
    args = [to_checksum_address(a) if a.startswith("0x") and len(a) == 42 else a for a in parts[1].split(", ")]
    return f"{parts[0]}: {', '.join(args)}"


@contextmanager
def reverts(error: str, *args: Any) -> Iterator[None]:
    """Assert that the block reverts with custom error `error`, and with `args` when any are given."""
    try:
        yield
    except VirtualMachineError as exc:
        actual = _normalize(exc.revert_msg or "")
        name = actual.split(":", 1)[0]
        assert name == error, f"expected {error}, got {actual!r}"
        if args:
            expected = f"{error}: {', '.join(_format(a) for a in args)}"
            assert actual == expected, f"expected {expected!r}, got {actual!r}"
    else:
        raise AssertionError(f"did not revert, expected {error}")


def plain(value: Any) -> Any:
    """A value from brownie (event field, return value) or from a test, in one comparable form."""
    if hasattr(value, "address"):
        return to_checksum_address(value.address)
    if isinstance(value, bytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and value.startswith("0x"):
        return to_checksum_address(value) if len(value) == 42 else value.lower()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    return value


def same(event: Any, expected: list[Any]) -> bool:
    """True if the event's fields, in order, equal `expected`."""
    return [plain(v) for v in event.values()] == [plain(v) for v in expected]


def abi_signature(item: dict[str, Any]) -> str:
    """Canonical signature of an ABI function, event or error entry, e.g. `open((address,...,uint16))`."""

    def canonical(arg: dict[str, Any]) -> str:
        if arg["type"].startswith("tuple"):
            return f"({','.join(canonical(c) for c in arg['components'])}){arg['type'][5:]}"
        return str(arg["type"])

    return f"{item['name']}({','.join(canonical(i) for i in item['inputs'])})"


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def sign_permit(
    token: Any, owner_key: bytes, owner: str, spender: str, value: int, deadline: int, chain_id: int
) -> tuple[int, bytes, bytes]:
    """EIP-2612 signature over `token`'s EIP-712 domain (OpenZeppelin ERC20Permit, version "1")."""
    domain = {"name": token.name(), "version": "1", "chainId": chain_id, "verifyingContract": token.address}
    types = {
        "Permit": [
            {"name": "owner", "type": "address"},
            {"name": "spender", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ]
    }
    message = {"owner": owner, "spender": spender, "value": value, "nonce": token.nonces(owner), "deadline": deadline}
    signed = Account.sign_typed_data(owner_key, domain, types, message)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def load_state_machine() -> Any:
    """`brownie.test.state_machine`, loaded from brownie's own Python source.

    eth-brownie 1.22.2 ships `brownie/test/stateful.py` compiled with mypyc, and the compiled `__init__` rejects the
    machine class that `state_machine` itself generates ("TypeError: brownie.test.stateful._BrownieStateMachine
    object expected"). The same module, run as Python, works; the source sits beside the compiled extension.
    """
    source = Path(brownie.test.__file__).with_name("stateful.py")
    spec = importlib.util.spec_from_file_location("brownie_stateful_source", source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.state_machine
