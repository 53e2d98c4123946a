"""Scans of units, counted without making a request wait on a database write.

A scan is queued in memory (bounded) and a background thread writes the queue in batches, one transaction each,
every ``scan_flush_seconds``; a locked or slow database delays the writer, never the request. ``close`` (the
server's shutdown) writes what is queued. What a page shows is the unit's *recorded* scans and the one being
served: read from the database once, then counted on by the writer after each batch (so a page can be reused
between two batches). One server process per database is assumed for these counts (``trace serve`` runs one);
the rows themselves are exact whatever the number of processes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from trace_api.index import queries_scans as qs

log = logging.getLogger("trace_api.scans")

MAX_QUEUED = 100_000  # ~10 MB; beyond it (the database unwritable for minutes under a rush) scans are dropped
MAX_BATCH = 5_000
MAX_UNITS = 10_000  # units whose recorded scans are kept in memory
RETRY_SECONDS = 1.0


MAX_PLACES = 256  # distinct places of a unit kept in memory (to tell whether a scan comes from a new one)


@dataclass(frozen=True)
class ScanFacts:
    """A unit's recorded scans: how many, from how many distinct places, and (up to MAX_PLACES of) which."""

    count: int
    places: int
    seen: frozenset[str] = frozenset()

    def with_scan_from(self, place: str) -> ScanFacts:
        """The facts once a scan from ``place`` is counted too (a place beyond those kept counts as seen)."""
        new = place not in self.seen and len(self.seen) >= self.places
        return ScanFacts(self.count + 1, self.places + new, self.seen | {place} if new else self.seen)


Unit = tuple[str, str]  # (batch id, serial)


class ScanRecorder:
    def __init__(self, engine: Engine, *, flush_seconds: float = 1.0) -> None:
        self.engine = engine
        self.flush_seconds = flush_seconds
        self.dropped = 0
        self._queue: deque[dict[str, Any]] = deque()
        self._writing = 0  # rows taken from the queue, not yet committed
        self._commits = 0  # batches written
        self._facts: OrderedDict[Unit, ScanFacts] = OrderedDict()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    # ---- the request side: never waits on a write ----
    def record(self, batch_id: str, serial: str, place: str) -> None:
        """Queue one scan of a unit; the background writer stores it."""
        row = {"batch_id": batch_id, "serial": serial, "place": place, "scanned_at": dt.datetime.now(dt.UTC)}
        with self._cond:
            if len(self._queue) >= MAX_QUEUED:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning("scan queue full (%d): %d scans not counted", MAX_QUEUED, self.dropped)
                return
            self._queue.append(row)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="scan-writer", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def known(self, batch_id: str, serial: str) -> ScanFacts | None:
        """The unit's recorded scans if they are in memory (no database read)."""
        with self._cond:
            return self._facts.get((batch_id, serial))

    def facts(self, batch_id: str, serial: str) -> ScanFacts:
        """The unit's recorded scans: from memory, read once from the database when first asked."""
        unit = (batch_id, serial)
        with self._cond:
            found = self._facts.get(unit)
            if found is not None:
                self._facts.move_to_end(unit)
                return found
        while True:
            with self._cond:
                commits = self._commits
            found = self._read(unit)
            with self._cond:
                if unit not in self._facts and self._commits != commits:
                    continue  # a batch was written meanwhile: it may or may not be in what was read
                self._facts.setdefault(unit, found)
                while len(self._facts) > MAX_UNITS:
                    self._facts.popitem(last=False)
                return self._facts[unit]

    # ---- lifecycle ----
    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every scan queued so far is written; False if that took longer than ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue or self._writing:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the writer (the server's shutdown)."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        if self._queue:
            log.warning("%d scans not written at shutdown", len(self._queue))

    # ---- the writer ----
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
            time.sleep(self.flush_seconds if not self._closed else 0)  # let a batch gather
            with self._cond:
                rows = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_BATCH))]
                self._writing = len(rows)
            try:
                self._write(rows)
            except OperationalError as exc:  # locked, or gone for a moment: keep them, try again
                log.warning("scans not written yet (%s), retrying", exc.orig)
                with self._cond:
                    self._queue.extendleft(reversed(rows))
                    self._writing = 0
                time.sleep(RETRY_SECONDS)
                continue
            except Exception:  # noqa: BLE001 - a writer that dies would silently stop counting
                log.exception("%d scans could not be written and are lost", len(rows))
            with self._cond:
                self._writing = 0
                self._cond.notify_all()

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            qs.add_scans(conn, rows)
        with self._cond:  # the units in memory count what was just written; the others are read when asked
            self._commits += 1
            for row in rows:
                unit = (row["batch_id"], row["serial"])
                if unit in self._facts:
                    self._facts[unit] = self._facts[unit].with_scan_from(row["place"])

    def _read(self, unit: Unit) -> ScanFacts:
        with self.engine.connect() as conn:
            count, places, seen = qs.scan_counts(conn, *unit, at_most=MAX_PLACES)
        return ScanFacts(count, places, frozenset(seen))
