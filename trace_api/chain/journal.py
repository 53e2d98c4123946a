"""The transaction journal: before a transaction goes to the node it is appended to
``TRACE_HOME/txs/<chain id>-<address>.jsonl``, so a sender in a later process knows what an earlier one sent and
never saw mined. Before its first send a sender reads the journal back (``TxSender.recover``): it re-checks the
receipts of what earlier processes sent but never saw mined, keeps what is still pending (``wait`` follows it,
``replace_stuck`` replaces it), and when asked to send the very call that a dead process left pending, it adopts
that transaction instead of sending the call twice. An advisory lock beside it serialises one account's sends across
the processes of this host."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JOURNAL_DIR = "txs"
JOURNAL_COMPACT_BYTES = 1 << 20


def alive(pid: int, since: float) -> bool:
    """True if process ``pid`` runs and is the one that wrote a journal line at ``since`` (not a reused pid)."""
    if pid == os.getpid():
        return True
    import psutil  # only a journal with another process's pending lines asks: not every send

    try:
        return bool(psutil.Process(pid).create_time() <= since + 1)
    except psutil.Error:
        return False


@dataclass
class PendingTx:
    """The transaction sent with one nonce, and every version of it (replacements), oldest first."""

    nonce: int
    fields: dict[str, Any]  # what the latest version signed: to, data, value, chainId, gas, fees, nonce
    hashes: list[str]
    sent_at: float  # wall-clock time of the latest version
    pid: int
    resends: int = 0

    @property
    def call(self) -> tuple[str, str, int]:
        return str(self.fields.get("to") or "").lower(), str(self.fields.get("data") or ""), int(self.fields["value"])

    def describe(self) -> dict[str, Any]:
        return {
            "nonce": self.nonce,
            "hash": self.hashes[-1],
            "versions": len(self.hashes),
            "pid": self.pid,
            "age_s": round(time.time() - self.sent_at, 3),
        }


class Journal:
    """An account's transactions, one JSON object a line: ``sent`` (nonce, hash, fields), ``done``, ``dropped``."""

    def __init__(self, folder: Path, chain_id: int, address: str) -> None:
        self.path = folder / f"{chain_id}-{address.lower()}.jsonl"
        self._lock_path = folder / f"{chain_id}-{address.lower()}.lock"
        self._fd: int | None = None

    def lock(self) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def unlock(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def __del__(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)

    def append(self, *records: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))

    def read(self) -> dict[int, PendingTx]:
        """The transactions still open (sent, neither mined nor dropped), by nonce."""
        records: dict[int, PendingTx] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return records
        for line in lines:
            try:
                entry = json.loads(line)
                op, nonce, tx_hash = entry["op"], int(entry["nonce"]), str(entry["hash"])
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a crash mid-write
            record = records.get(nonce)
            if op == "sent":
                if record is None:
                    records[nonce] = PendingTx(nonce, entry["tx"], [tx_hash], float(entry["at"]), int(entry["pid"]))
                elif tx_hash not in record.hashes:
                    record.hashes.append(tx_hash)
                    record.fields, record.sent_at, record.pid = entry["tx"], float(entry["at"]), int(entry["pid"])
            elif op == "done":
                records.pop(nonce, None)
            elif op == "dropped" and record is not None and tx_hash in record.hashes:
                record.hashes.remove(tx_hash)
                if not record.hashes:
                    del records[nonce]
        return records

    def compact(self) -> None:
        """Rewrite the journal with only the open transactions once it has grown large (call under the lock)."""
        try:
            if self.path.stat().st_size < JOURNAL_COMPACT_BYTES:
                return
        except FileNotFoundError:
            return
        lines = [
            json.dumps(
                {"op": "sent", "nonce": r.nonce, "hash": h, "tx": r.fields, "at": r.sent_at, "pid": r.pid},
                separators=(",", ":"),
            )
            for r in self.read().values()
            for h in r.hashes
        ]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(tmp, self.path)
