"""What a service call needs: settings, the chain, the index, and one transaction sender per account."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from trace_api.chain.client import Chain, connect
from trace_api.config import Settings
from trace_api.index.indexer import Indexer, SyncResult
from trace_api.index.store import get_engine
from trace_api.services.history_models import BatchHistory
from trace_api.services.scans import ScanRecorder
from trace_api.services.snapshots import Snapshots

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3.contract import Contract

    from trace_api.chain.sender import TxSender


@dataclass
class TraceContext:
    settings: Settings
    chain: Chain
    engine: Engine
    _senders: dict[str, TxSender] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, settings: Settings, *, autostart: bool = True) -> TraceContext:
        """Connect to the chain ``settings`` name (starting the local one if allowed) and open the index."""
        return cls.on(settings, connect(settings, autostart=autostart))

    @classmethod
    def on(cls, settings: Settings, chain: Chain) -> TraceContext:
        """A context over a chain already connected (say, one a deploy has just used) and the index of
        ``settings``: the one way a context is built."""
        return cls(settings=settings, chain=chain, engine=get_engine(settings))

    def sender(self, account: LocalAccount) -> TxSender:
        """One sender per account, so concurrent callers share its nonce counter."""
        from trace_api.chain.sender import TxSender  # with the journal: only writes pay for it

        with self._lock:
            if account.address not in self._senders:
                self._senders[account.address] = TxSender(self.chain, account)
            return self._senders[account.address]

    @property
    def dev_chain(self) -> bool:
        """The embedded local chain, where named dev accounts (with public keys) may be used."""
        return self.settings.is_dev_chain(self.chain.chain_id)

    @functools.cached_property
    def registry(self) -> Contract:
        return self.chain.contract("TraceRegistry")

    @functools.cached_property
    def indexer(self) -> Indexer:
        return Indexer(chain=self.chain, engine=self.engine)

    @functools.cached_property
    def scans(self) -> ScanRecorder:
        """Scans of units, written in the background (``scans.close()`` writes what is queued)."""
        return ScanRecorder(self.engine, flush_seconds=self.settings.scan_flush_seconds)

    @functools.cached_property
    def histories(self) -> Snapshots[BatchHistory]:
        """Verified batch histories, one per batch and index version (``services.snapshots``)."""
        return Snapshots(self.engine, max_age=self.settings.snapshot_max_age, max_entries=64)

    def sync(self) -> SyncResult:
        with self._lock:
            return self.indexer.sync()
