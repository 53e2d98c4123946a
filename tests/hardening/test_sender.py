"""The transaction sender across crashes and stuck transactions, on a real anvil with automine switched off.

A "crashed process" is a real subprocess that sends transactions without waiting for them and is killed with
SIGKILL; a fresh TxSender in this process plays the restarted one.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

from tests.conftest import ROOT
from trace_api.chain.accounts import dev_account
from trace_api.chain.client import Chain
from trace_api.chain.fees import bump
from trace_api.chain.sender import TxSender
from trace_api.config import Settings
from trace_api.domain import hx
from trace_api.errors import ContractRevert
from trace_api.services.deploy import scratch_chain

ACCOUNT = "producer"
META = b"\0" * 32

# Sends anchorRoot for each root given, prints the hashes, then waits to be killed.
CRASHING_SENDER = """
import json, sys, time
from pathlib import Path
from trace_api.chain.accounts import dev_account
from trace_api.chain.client import connect
from trace_api.chain.sender import TxSender
from trace_api.config import Settings

settings = Settings(home=Path(sys.argv[1]), node_port=int(sys.argv[2]))
chain = connect(settings, autostart=False)
sender = TxSender(chain, dev_account(sys.argv[3]))
registry = chain.contract("TraceRegistry")
hashes = [sender.submit(registry.functions.anchorRoot(bytes.fromhex(r[2:]), 1, b"\\0" * 32)).to_0x_hex()
          for r in sys.argv[4:]]
print(json.dumps(hashes), flush=True)
time.sleep(600)
"""


class Node:
    def __init__(self, settings: Settings, chain: Chain) -> None:
        self.settings, self.chain, self.w3 = settings, chain, chain.w3
        self.registry = chain.contract("TraceRegistry")
        self.address = dev_account(ACCOUNT).address

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        assert "error" not in response, response
        return response["result"]

    def sender(self) -> TxSender:
        """A sender as a newly started process makes it."""
        return TxSender(self.chain, dev_account(ACCOUNT))

    def nonce(self, tag: str = "latest") -> int:
        return int(self.w3.eth.get_transaction_count(self.address, tag))

    def anchor(self, root: str) -> Any:
        return self.registry.functions.anchorRoot(bytes.fromhex(root[2:]), 1, META)

    def anchored(self, root: str) -> bool:
        return int(self.registry.functions.rootInfo(self.address, bytes.fromhex(root[2:])).call()[0]) != 0

    def crashed_process(self, roots: list[str]) -> list[str]:
        """Send anchorRoot(root) for each root from a real process, without waiting; SIGKILL it; its tx hashes."""
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CRASHING_SENDER,
                str(self.settings.home),
                str(self.settings.node_port),
                ACCOUNT,
                *roots,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line, proc.stderr.read()  # type: ignore[union-attr]
            return [h.lower() for h in json.loads(line)]
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def in_pool(self, tx_hash: str | HexBytes) -> bool:
        try:
            return self.w3.eth.get_transaction(tx_hash)["blockNumber"] is None
        except TransactionNotFound:
            return False


def new_root() -> str:
    return "0x" + secrets.token_hex(32)


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with scratch_chain(tmp_path_factory.mktemp("sender-home")) as (chain, _):
        yield Node(chain.settings, chain)


@pytest.fixture
def manual(anvil: Node) -> Iterator[Node]:
    """Automine off: transactions stay pending until the test mines. Everything is mined and reset afterwards."""
    anvil.rpc("evm_setAutomine", False)
    try:
        yield anvil
    finally:
        anvil.rpc("evm_setIntervalMining", 0)
        anvil.rpc("anvil_setNextBlockBaseFeePerGas", "0x0")
        anvil.rpc("evm_mine")
        anvil.rpc("anvil_dropAllTransactions")
        anvil.rpc("evm_setAutomine", True)


def test_new_process_does_not_reuse_the_nonce_of_a_pending_tx(manual: Node) -> None:
    start = manual.nonce()
    roots = [new_root() for _ in range(3)]
    orphans = manual.crashed_process(roots)
    assert all(manual.in_pool(h) for h in orphans)

    sender = manual.sender()
    report = sender.recover()
    assert [(r["nonce"], r["hash"], r["status"]) for r in report] == [
        (start + i, h, "pending") for i, h in enumerate(orphans)
    ]
    mine = new_root()
    tx_hash = sender.submit(manual.anchor(mine))
    assert manual.w3.eth.get_transaction(tx_hash)["nonce"] == start + 3
    assert all(manual.in_pool(h) for h in orphans)  # nothing replaced them

    manual.rpc("evm_mine")
    assert sender.wait(tx_hash)["status"] == 1
    assert all(manual.w3.eth.get_transaction_receipt(h)["status"] == 1 for h in orphans)
    assert all(manual.anchored(r) for r in [*roots, mine])
    assert manual.nonce() == start + 4


def test_recover_rechecks_receipts_of_txs_sent_before_a_crash(manual: Node) -> None:
    start = manual.nonce()
    orphans = manual.crashed_process([new_root() for _ in range(3)])
    manual.rpc("anvil_dropTransaction", orphans[2])  # the node forgot the last one (as after a restart)
    manual.rpc("evm_mine")
    block = int(manual.w3.eth.block_number)

    report = manual.sender().recover()
    assert [(r["nonce"], r["hash"], r["status"], r.get("block")) for r in report] == [
        (start, orphans[0], "mined", block),
        (start + 1, orphans[1], "mined", block),
        (start + 2, orphans[2], "dropped", None),
    ]
    again = manual.sender()
    assert again.recover() == []  # settled in the journal: nothing is checked twice
    tx_hash = again.submit(manual.anchor(new_root()))
    assert manual.w3.eth.get_transaction(tx_hash)["nonce"] == start + 2  # the dropped tx's nonce is free again
    manual.rpc("evm_mine")
    assert again.wait(tx_hash)["status"] == 1


def test_the_same_call_left_pending_by_a_dead_process_is_adopted_not_sent_twice(manual: Node) -> None:
    root = new_root()
    (orphan,) = manual.crashed_process([root])
    pending = manual.nonce("pending")

    sender = manual.sender()
    tx_hash = sender.submit(manual.anchor(root))  # what a resumed `trace anchor` does
    assert hx(tx_hash) == orphan and manual.nonce("pending") == pending
    manual.rpc("evm_mine")
    receipt = sender.wait(tx_hash)
    assert receipt["status"] == 1
    logs = manual.registry.events.RootAnchored().get_logs(from_block=receipt["blockNumber"])
    assert [hx(log["args"]["root"]) for log in logs] == [root]


def test_stuck_txs_of_a_dead_process_are_replaced_and_followed(manual: Node) -> None:
    roots = [new_root() for _ in range(2)]
    orphans = manual.crashed_process(roots)
    before = [manual.w3.eth.get_transaction(h) for h in orphans]
    sender = manual.sender()
    replacements = sender.replace_stuck(older_than_s=0)
    assert len(replacements) == 2
    for orphan, old, replacement in zip(orphans, before, replacements, strict=True):
        new = manual.w3.eth.get_transaction(replacement)
        assert new["nonce"] == old["nonce"] and new["maxFeePerGas"] >= bump(old["maxFeePerGas"])
        assert not manual.in_pool(orphan)
    manual.rpc("evm_mine")
    assert [sender.wait(HexBytes(h))["transactionHash"] for h in orphans] == replacements
    assert all(manual.anchored(r) for r in roots)
    assert [r["status"] for r in manual.sender().recover()] == []  # settled by the sender that followed them


def test_replace_stuck_bumps_the_fee_and_keeps_the_nonce(manual: Node) -> None:
    sender = manual.sender()
    root = new_root()
    first = sender.submit(manual.anchor(root))
    old = manual.w3.eth.get_transaction(first)

    (second,) = sender.replace_stuck(older_than_s=0)
    new = manual.w3.eth.get_transaction(second)
    assert new["nonce"] == old["nonce"] and second != first
    assert new["maxFeePerGas"] >= bump(old["maxFeePerGas"]) > old["maxFeePerGas"]
    assert new["maxPriorityFeePerGas"] >= bump(old["maxPriorityFeePerGas"])
    assert not manual.in_pool(first) and manual.in_pool(second)
    assert sender.replace_stuck(older_than_s=60) == []  # just replaced: not old enough

    manual.rpc("evm_mine")
    receipt = sender.wait(first)  # the caller still holds the first hash
    assert receipt["status"] == 1 and receipt["transactionHash"] == second
    assert manual.anchored(root) and sender.replace_stuck(older_than_s=0) == []
    assert sender.pending() == []


def test_wait_replaces_a_tx_still_pending_after_replace_after(manual: Node) -> None:
    sender = manual.sender()
    root = new_root()
    first = sender.submit(manual.anchor(root))
    nonce = manual.w3.eth.get_transaction(first)["nonce"]
    miner = threading.Timer(2.0, lambda: manual.rpc("evm_mine"))
    miner.start()
    try:
        receipt = sender.wait(first, replace_after=0.5, timeout=30)
    finally:
        miner.join()
    assert receipt["status"] == 1 and receipt["transactionHash"] != first
    mined = manual.w3.eth.get_transaction(receipt["transactionHash"])
    assert mined["nonce"] == nonce and mined["maxPriorityFeePerGas"] >= 1  # bumped: 0 -> 1 (-> 2 ...)
    assert manual.nonce() == nonce + 1 and manual.anchored(root)


def test_wait_reprices_a_tx_evicted_for_a_fee_below_the_base_fee(manual: Node) -> None:
    sender = manual.sender()
    root = new_root()
    first = sender.submit(manual.anchor(root))  # priced for a base fee of 0
    manual.rpc("anvil_setNextBlockBaseFeePerGas", hex(50 * 10**9))
    manual.rpc("evm_setIntervalMining", 1)  # the next block cannot include it: anvil drops it from its pool
    started = time.monotonic()
    receipt = sender.wait(first, replace_after=5.0, timeout=60)
    assert receipt["status"] == 1 and receipt["transactionHash"] != first
    block = manual.w3.eth.get_block(receipt["blockNumber"])
    assert receipt["effectiveGasPrice"] >= block["baseFeePerGas"] > 0
    assert time.monotonic() - started < 30
    assert manual.anchored(root)


def test_a_tx_the_node_forgot_is_sent_again_by_wait(manual: Node) -> None:
    sender = manual.sender()
    root = new_root()
    tx_hash = sender.submit(manual.anchor(root))
    manual.rpc("anvil_dropTransaction", hx(tx_hash))
    manual.rpc("evm_setAutomine", True)
    receipt = sender.wait(tx_hash, timeout=30)
    assert receipt["status"] == 1 and receipt["transactionHash"] == tx_hash  # the same signed tx, once more
    assert manual.anchored(root)


def test_a_forgotten_tx_whose_nonce_was_taken_is_sent_with_the_next_one(manual: Node) -> None:
    sender = manual.sender()
    root = new_root()
    tx_hash = sender.submit(manual.anchor(root))
    nonce = manual.w3.eth.get_transaction(tx_hash)["nonce"]
    manual.rpc("anvil_dropTransaction", hx(tx_hash))
    manual.rpc("evm_setAutomine", True)
    other = manual.sender()  # another process takes the nonce meanwhile
    assert manual.w3.eth.get_transaction(other.submit(manual.anchor(new_root())))["nonce"] == nonce

    receipt = sender.wait(tx_hash, timeout=30)
    assert receipt["status"] == 1 and receipt["transactionHash"] != tx_hash
    assert manual.w3.eth.get_transaction(receipt["transactionHash"])["nonce"] == nonce + 1
    assert manual.anchored(root)


def test_journal_survives_a_torn_line_and_compacts(anvil: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    from trace_api.chain import journal as journal_module

    sender = anvil.sender()
    sender.transact(anvil.anchor(new_root()))
    journal = sender._journal
    assert journal is not None
    with open(journal.path, "a") as fh:
        fh.write('{"op":"sent","nonce":')  # a crash in the middle of a write
    assert anvil.sender().recover() == []
    monkeypatch.setattr(journal_module, "JOURNAL_COMPACT_BYTES", 1)
    sender.transact(anvil.anchor(new_root()))
    assert journal.path.read_text() == ""  # everything settled: nothing left to keep
    assert not journal.path.with_suffix(".tmp").exists()


def test_a_lean_call_sends_what_web3_would_send_and_gets_the_receipt_web3_would_type(anvil: Node) -> None:
    """A Call is coded with eth_abi and sent over our JSON-RPC transport: the same calldata as web3's contract
    function, the same receipt as web3 reads, and a revert by its custom error's name (dry run and send alike)."""
    root = new_root()
    lean = anvil.chain.ref("TraceRegistry").fn("anchorRoot", bytes.fromhex(root[2:]), 1, META)
    placeholders = {"gas": 1, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "nonce": 0, "chainId": 1}
    assert lean.data == anvil.anchor(root).build_transaction({"from": anvil.address, **placeholders})["data"]
    sender = anvil.sender()
    receipt = sender.transact(lean)
    assert receipt["status"] == 1 and anvil.anchored(root)
    assert _plain(receipt) == _plain(anvil.w3.eth.get_transaction_receipt(receipt["transactionHash"]))
    for attempt in (sender.call, sender.transact):
        with pytest.raises(ContractRevert) as refused:
            attempt(lean)
        assert refused.value.error == "TraceRootExists"


def _plain(value: Any) -> Any:
    """web3's AttributeDicts as dicts, to compare with a receipt of plain dicts; each value with its type."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return (type(value), value)
