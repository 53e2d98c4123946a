"""Sign locally, hand out nonces, send, wait for receipts, and survive restarts; reverts come back as ContractRevert.

Nonces. The sends of one account are serialised: within a process by a lock, across the processes of this host by
an advisory lock beside the account's journal. Under that lock the next nonce is the node's pending count, so two
senders never pick the same nonce, a transaction still pending from a dead process keeps its nonce, and when a node
restarted from an older state dump has forgotten transactions, their nonces are used again instead of leaving a
gap that would hold every later transaction back for good.

Journal. Every transaction is journaled before it is sent (:mod:`trace_api.chain.journal`); a sender first reads
back what earlier processes sent and never saw mined, and adopts a dead process's pending call instead of sending it
twice.

Stuck and lost transactions. ``wait`` replaces a transaction still pending after ``replace_after`` seconds: same
call, same nonce, fees at the current price and at least 10 % + 1 wei above the last version (what nodes require of
a replacement); it returns the receipt of whichever version was mined. A transaction the node has forgotten (a
restart, an eviction for a fee below the base fee) is sent again at today's price, after a new dry run when its
nonce has been taken meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

from hexbytes import HexBytes

from trace_api.chain.client import Call, Chain, guarded
from trace_api.chain.fees import Fees
from trace_api.chain.journal import JOURNAL_DIR, Journal, PendingTx, alive
from trace_api.chain.receipts import typed_receipt
from trace_api.chain.rpc import RpcError, hex_quantities
from trace_api.domain import hx
from trace_api.errors import TraceError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3.contract.contract import ContractConstructor, ContractFunction
    from web3.types import TxReceipt

GAS_MARGIN = 1.2
RECEIPT_TIMEOUT_S = 120.0
REPLACE_AFTER_S = 30.0  # a transaction pending this long is re-priced
LOST_GRACE_S = 1.0  # a transaction the node has not known for this long is sent again
POLL_S = 0.01  # the first look for a receipt: a local node mines at once; polls back off to MAX_POLL_S
MAX_POLL_S = 1.0
SEND_ATTEMPTS = 4
MAX_RESENDS = 3
SETTLED_KEPT = 4096

# What is sent: a lean Call, or a web3 contract function or constructor (deployments and the services that still
# build their calls with web3 pay for its import; the rest of the way is the same).
Sendable: TypeAlias = "Call | ContractFunction | ContractConstructor"
_SIGNED_KEYS = ("to", "data", "value", "chainId", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "nonce")


def _nonce_clash(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("nonce too low", "nonce too high", "replacement transaction underpriced", "nonce"))


class TxSender:
    def __init__(self, chain: Chain, account: LocalAccount) -> None:
        self.chain = chain
        self.account = account
        self.address = account.address
        self._lock = threading.RLock()
        self._depth = 0
        self.fees = Fees(chain)
        self._pending: dict[int, PendingTx] = {}  # by nonce: ours in flight, and what recovery found pending
        self._by_hash: dict[str, int] = {}  # every version's hash -> nonce
        self._settled: OrderedDict[str, str] = OrderedDict()  # hash of any version -> hash that was mined
        self._recovered = False
        try:
            self._journal: Journal | None = Journal(chain.settings.home / JOURNAL_DIR, chain.chain_id, self.address)
        except (OSError, AttributeError):
            self._journal = None

    # ---- locking and the journal ----
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """This account's send lock: the thread lock, then (outermost only) the host-wide file lock."""
        with self._lock:
            if self._depth == 0 and self._journal is not None:
                try:
                    self._journal.lock()
                except OSError:
                    self._journal = None  # an unwritable TRACE_HOME: nonces stay safe within this process
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._journal is not None:
                    self._journal.unlock()

    def _log(self, *records: dict[str, Any]) -> None:
        if self._journal is None:
            return
        try:
            self._journal.append(*records)
        except OSError:
            self._journal = None

    def _log_sent(self, record: PendingTx, tx_hash: str) -> None:
        self._log(
            {
                "op": "sent",
                "nonce": record.nonce,
                "hash": tx_hash,
                "tx": record.fields,
                "at": record.sent_at,
                "pid": record.pid,
            }
        )

    # ---- nonces and fees ----
    def _count(self, block: str) -> int:
        """The account's transaction count at ``block``: "pending" gives the next free nonce."""
        return int(self.chain.rpc.call("eth_getTransactionCount", self.address, block), 16)

    # ---- reverts ----
    def estimate(self, tx: dict[str, Any]) -> int:
        try:
            return int(self.chain.rpc.call("eth_estimateGas", hex_quantities(tx)), 16)
        except RpcError as exc:
            raise self.chain.errors.from_exception(exc) from exc

    def call(self, fn: Call | ContractFunction) -> Any:
        """A dry run from this account: the function's result, or ContractRevert."""
        if isinstance(fn, Call):
            return self.chain.view(fn.contract, fn.name, *fn.args, sender=self.address)
        from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

        try:
            return guarded(lambda: fn.call({"from": self.address}))
        except (ContractCustomError, ContractLogicError, Web3RPCError) as exc:
            raise self.chain.errors.from_exception(exc) from exc

    # ---- recovery ----
    def recover(self) -> list[dict[str, Any]]:
        """Settle what the journal holds open from earlier runs: one entry per transaction, with its ``status``:
        ``mined`` or ``failed`` (a receipt, with its ``block``), ``pending`` (still in the node's pool: its nonce
        stays taken; when its process is gone, ``wait`` and ``replace_stuck`` follow it) or ``dropped`` (the node
        does not know it)."""
        with self._locked():
            return self._recover()

    def _recover(self) -> list[dict[str, Any]]:
        self._recovered = True
        if self._journal is None:
            return []
        report = []
        for nonce, record in sorted(self._journal.read().items()):
            if nonce in self._pending:
                continue  # in flight in this sender
            receipt = self._first_receipt(record.hashes)
            if receipt is not None:
                self._settle(record, receipt)
                report.append(
                    {
                        **record.describe(),
                        "hash": hx(receipt["transactionHash"]),
                        "status": "mined" if receipt["status"] == 1 else "failed",
                        "block": int(receipt["blockNumber"]),
                    }
                )
            elif self._known(record.hashes):
                if not alive(record.pid, record.sent_at):
                    self._track(record)  # an orphan: this sender follows it from now on
                report.append({**record.describe(), "status": "pending"})
            else:
                self._log(*({"op": "dropped", "nonce": nonce, "hash": h} for h in record.hashes))
                report.append({**record.describe(), "status": "dropped"})
        return report

    def pending(self) -> list[dict[str, Any]]:
        """The transactions this sender follows that have no receipt yet (its own, and those recovery found)."""
        with self._lock:
            return [r.describe() for _, r in sorted(self._pending.items())]

    def _ensure_recovered(self) -> None:
        if not self._recovered:
            with self._locked():
                if not self._recovered:
                    self._recover()

    def _track(self, record: PendingTx) -> None:
        self._pending[record.nonce] = record
        for h in record.hashes:
            self._by_hash[h] = record.nonce

    def _settle(self, record: PendingTx | None, receipt: TxReceipt) -> None:
        mined = hx(receipt["transactionHash"])
        with self._lock:
            if record is None:
                return
            for h in record.hashes:
                self._by_hash.pop(h, None)
                self._settled[h] = mined
            while len(self._settled) > SETTLED_KEPT:
                self._settled.popitem(last=False)
            if self._pending.get(record.nonce) is record:
                del self._pending[record.nonce]
        with self._locked():
            self._log({"op": "done", "nonce": record.nonce, "hash": mined, "block": int(receipt["blockNumber"])})
            if self._journal is not None:
                with contextlib.suppress(OSError):
                    self._journal.compact()

    def _adopt(self, call: tuple[str, str, int]) -> PendingTx | None:
        """A transaction of a dead process, still pending, that makes exactly this call."""
        with self._lock:
            for record in self._pending.values():
                if record.call == call and not alive(record.pid, record.sent_at):
                    record.pid = os.getpid()
                    return record
        return None

    # ---- sending ----
    def submit(self, fn: Sendable, *, value: int = 0, gas: int | None = None) -> HexBytes:
        """Estimate (decoding any revert before anything is sent), sign and send; returns the tx hash."""
        self._ensure_recovered()
        if isinstance(fn, Call):
            call = {"from": self.address, "to": str(fn.contract.address), "value": value, "data": fn.data}
            return self._submit_call(call, gas)
        # Placeholders for gas, fees and nonce keep web3 from asking the node for them here.
        built = fn.build_transaction(
            {  # type: ignore[arg-type]
                "from": self.address,
                "value": value,
                "chainId": self.chain.chain_id,
                "gas": 1,
                "maxFeePerGas": 0,
                "maxPriorityFeePerGas": 0,
                "nonce": 0,
            }
        )
        call = {"from": self.address, "value": int(built.get("value", 0)), "data": built["data"]}
        if built.get("to"):
            call["to"] = built["to"]
        return self._submit_call(call, gas)

    def submit_value(self, to: str, value: int) -> HexBytes:
        """Send ``value`` of the native coin to ``to``, journaled and recovered like any other transaction."""
        self._ensure_recovered()
        return self._submit_call({"from": self.address, "to": to, "value": value, "data": "0x"}, None)

    def _submit_call(self, call: dict[str, Any], gas: int | None) -> HexBytes:
        data = call["data"] if isinstance(call["data"], str) else hx(call["data"])
        adopted = self._adopt((str(call.get("to") or "").lower(), data, call["value"]))
        if adopted is not None:
            return HexBytes(adopted.hashes[-1])
        if gas is None:
            gas = int(self.estimate(call) * GAS_MARGIN)
        fields = {k: v for k, v in call.items() if k != "from"}
        fields.update({"data": data, "chainId": self.chain.chain_id, "gas": gas, **self.fees.market()})
        return HexBytes(self._send_new(fields).hashes[-1])

    def _send_new(self, fields: dict[str, Any]) -> PendingTx:
        """Send with the next free nonce, retrying when another sender took it first."""
        for attempt in range(SEND_ATTEMPTS):
            with self._locked():
                record = PendingTx(self._count("pending"), {}, [], time.time(), os.getpid())
                record.fields = {**fields, "nonce": record.nonce}
                try:
                    self._send_version(record)
                except RpcError as exc:
                    if attempt < SEND_ATTEMPTS - 1 and _nonce_clash(exc):
                        continue  # another host with the same key: read the count again
                    raise self.chain.errors.from_exception(exc) from exc
                self._track(record)
                return record
        raise TraceError("could not find a free nonce")

    def _send_version(self, record: PendingTx) -> str:
        """Sign ``record.fields``, journal it, send it (call under the lock); the journal is written first, so a
        crash in between leaves a record that recovery finds unknown to the node and drops."""
        signed = self.account.sign_transaction({k: record.fields[k] for k in _SIGNED_KEYS if k in record.fields})
        tx_hash = hx(signed.hash)
        record.sent_at = time.time()
        self._log_sent(record, tx_hash)
        try:
            self.chain.rpc.call("eth_sendRawTransaction", hx(signed.raw_transaction))
        except RpcError as exc:
            if "already known" not in str(exc).lower():
                self._log({"op": "dropped", "nonce": record.nonce, "hash": tx_hash})
                raise
        if tx_hash not in record.hashes:
            record.hashes.append(tx_hash)
        return tx_hash

    # ---- waiting, replacing, re-sending ----
    def wait(
        self, tx_hash: HexBytes, *, timeout: float = RECEIPT_TIMEOUT_S, replace_after: float | None = REPLACE_AFTER_S
    ) -> TxReceipt:
        """The receipt of ``tx_hash``, or of the version that replaced it; ContractRevert if it failed."""
        key = hx(tx_hash)
        now = time.monotonic()
        deadline, next_replace, unknown_since = now + timeout, now + (replace_after or float("inf")), None
        poll = POLL_S
        while True:
            record = self._record_of(key)
            hashes = record.hashes if record is not None else [self._settled.get(key, key)]
            receipt = self._first_receipt(hashes)
            if receipt is not None:
                self._settle(record, receipt)
                if receipt["status"] != 1:
                    raise self.chain.failure_of(HexBytes(receipt["transactionHash"]), receipt)
                return receipt
            now = time.monotonic()
            if record is not None:
                if self._known(hashes):
                    unknown_since = None
                elif unknown_since is None:
                    unknown_since = now
                elif now - unknown_since >= LOST_GRACE_S:
                    self._resend(record)
                    unknown_since = None
                if now >= next_replace:
                    self._replace(record)
                    next_replace = now + (replace_after or float("inf"))
            if now >= deadline:
                raise TraceError(f"transaction {key} not mined within {timeout:.0f} s")
            time.sleep(min(poll, max(deadline - now, 0)))
            poll = min(poll * 1.5, MAX_POLL_S)

    def replace_stuck(self, older_than_s: float) -> list[HexBytes]:
        """Re-price every transaction pending for at least ``older_than_s`` seconds (same nonce, higher fee);
        returns the hashes of the replacements sent."""
        self._ensure_recovered()
        with self._lock:
            stale = [r for r in self._pending.values() if time.time() - r.sent_at >= older_than_s]
        sent = [self._replace(r) for r in sorted(stale, key=lambda r: r.nonce)]
        return [HexBytes(h) for h in sent if h]

    def _record_of(self, key: str) -> PendingTx | None:
        with self._lock:
            nonce = self._by_hash.get(key)
            return self._pending.get(nonce) if nonce is not None else None

    def _first_receipt(self, hashes: list[str]) -> TxReceipt | None:
        for h in hashes:
            raw = self.chain.rpc.call("eth_getTransactionReceipt", h)
            if raw is not None:
                return typed_receipt(raw)
        return None

    def _known(self, hashes: list[str]) -> bool:
        return any(self.chain.rpc.call("eth_getTransactionByHash", h) is not None for h in hashes)

    def _replace(self, record: PendingTx) -> str | None:
        """Send the next version of a pending transaction: same nonce, current fees and at least bump() of the last."""
        with self._locked():
            if self._pending.get(record.nonce) is not record or self._first_receipt(record.hashes) is not None:
                return None
            latest = self._count("latest")
            if latest > record.nonce:
                return None  # the nonce is used: a version was mined (wait finds it) or the node lost it
            previous = record.fields
            record.fields = {**previous, **self.fees.replacement(previous)}
            try:
                return self._send_version(record)
            except RpcError:
                record.fields = previous  # mined meanwhile, or the node wants more: the next round tells
                return None

    def _resend(self, record: PendingTx) -> None:
        """The node has forgotten this transaction (a restart from an older state, an eviction): send it again,
        with the same nonce when that is still next, else with the next one after a new dry run."""
        with self._locked():
            if self._pending.get(record.nonce) is not record or self._first_receipt(record.hashes) is not None:
                return
            if record.resends >= MAX_RESENDS:
                raise TraceError(f"transaction {record.hashes[-1]} was dropped by the node {MAX_RESENDS} times")
            record.resends += 1
            nonce = self._count("pending")
            if nonce != record.nonce:
                call: dict[str, Any] = {
                    "from": self.address,
                    **{k: record.fields[k] for k in ("to", "data", "value") if k in record.fields},
                }
                self.estimate(call)  # the state moved on: it may revert now, and then the caller hears so
                self._log(*({"op": "dropped", "nonce": record.nonce, "hash": h} for h in record.hashes))
                del self._pending[record.nonce]
                record.nonce = nonce
            record.fields = {**record.fields, "nonce": nonce, **self.fees.at_least_market(record.fields)}
            try:
                self._send_version(record)
            except RpcError as exc:
                raise self.chain.errors.from_exception(exc) from exc
            self._track(record)

    def transact(self, fn: Sendable, *, value: int = 0, gas: int | None = None) -> TxReceipt:
        return self.wait(self.submit(fn, value=value, gas=gas))
