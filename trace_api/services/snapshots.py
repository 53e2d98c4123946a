"""Verified snapshots: what is computed from the index once per index version and reused until the index moves.

The version of the index is what a reader can learn with one light query, plus one number kept in memory:
- the indexer's checkpoint (the highest block read) and the hash of that block, so both a new block and a reorg
  that rolled back and read again to the same height give a new version;
- this process's write generation: it goes up after every committed write to the index by this process
  (captures, anchoring, documents, recovery, the indexer), scans and API key bookkeeping aside.
Writes by another process that leave the chain where it was (an off-chain capture by the CLI) are seen once the
snapshot is ``max_age`` old; everything that reaches the chain is seen as soon as it is indexed.

:class:`IndexPoller` brings the index up to the chain for the server's read routes: at most every
``index_poll_seconds``, on a background thread, so a request never waits for the chain or for the index write.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, event

from trace_api.index import queries
from trace_api.index.indexer import CHECKPOINT

log = logging.getLogger("trace_api.snapshots")

T = TypeVar("T")
# Writes that change no verified fact: the scan counter, API key bookkeeping, capture jobs, named queries; the
# checkpoint and block hashes are in the version themselves (the indexer bumps its checkpoint row on every sync).
UNWATCHED = frozenset({"scans", "api_keys", "captures", "epcis_queries", "checkpoints", "blocks"})
Version = tuple[int | None, str | None, int]


class _Generation:
    """Committed writes of one engine in this process, counted when their connection goes back to the pool."""

    def __init__(self) -> None:
        self.value = 0


_generations: weakref.WeakKeyDictionary[Engine, _Generation] = weakref.WeakKeyDictionary()
_generations_lock = threading.Lock()


def _watch(engine: Engine) -> _Generation:
    with _generations_lock:
        found = _generations.get(engine)
        if found is not None:
            return found
        generation = _generations[engine] = _Generation()

    def mark(conn: Any, _cursor: Any, _statement: Any, _params: Any, context: Any, _many: Any) -> None:
        compiled = getattr(context, "compiled", None)
        if compiled is None or not (context.isinsert or context.isupdate or context.isdelete):
            return
        table = getattr(compiled.statement, "table", None)
        if getattr(table, "name", None) not in UNWATCHED:
            conn.info["trace_wrote"] = True

    def checked_in(_dbapi_conn: Any, record: Any) -> None:
        # After the commit (or rollback): a reader that sees the new generation sees the committed rows.
        if record is not None and record.info.pop("trace_wrote", False):
            generation.value += 1

    event.listen(engine, "after_cursor_execute", mark)
    event.listen(engine.pool, "checkin", checked_in)
    return generation


class _Probe:
    """SQLite's ``PRAGMA data_version`` on a connection of its own: it changes when any other connection commits,
    so the version query runs again only after a commit somewhere (microseconds instead of a query a request)."""

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._seen: tuple[int, Version] | None = None

    def version(self, engine: Engine, generation: int) -> Version:
        with self._lock:
            data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            if self._seen is not None and self._seen[0] == data_version and self._seen[1][2] == generation:
                return self._seen[1]
        version = _query(engine, generation)  # read after data_version: a commit in between shows next time
        with self._lock:
            self._seen = (data_version, version)
        return version


_probes: weakref.WeakKeyDictionary[Engine, _Probe | None] = weakref.WeakKeyDictionary()


def _probe(engine: Engine) -> _Probe | None:
    with _generations_lock:
        if engine not in _probes:
            path = engine.url.database
            _probes[engine] = _Probe(path) if engine.dialect.name == "sqlite" and path and path != ":memory:" else None
        return _probes[engine]


def index_version(engine: Engine) -> Version:
    """(checkpoint block, its hash, this process's write generation): equal versions, equal verified facts."""
    generation = _watch(engine).value
    probe = _probe(engine)
    return probe.version(engine, generation) if probe is not None else _query(engine, generation)


def _query(engine: Engine, generation: int) -> Version:
    with engine.connect() as conn:
        number, block_hash = queries.checkpoint_block(conn, CHECKPOINT)
    return number, block_hash, generation


@dataclass
class _Entry(Generic[T]):
    version: Version
    value: T
    born: float
    refreshing: bool = False


class Snapshots(Generic[T]):
    """A bounded LRU of values computed from the index, each valid for the index version it was computed at.

    One computation per key at a time: concurrent readers of a key that is missing or out of date wait for the
    one computing it. A value whose version is current but which is older than ``max_age`` is refreshed by one
    reader while the others keep being served the current one.
    """

    def __init__(
        self, engine: Engine, *, max_age: float, max_entries: int = 256, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.max_age = max_age
        self.max_entries = max_entries
        self.computed = 0  # how many values were computed (tests and benchmarks look)
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks = [threading.Lock() for _ in range(64)]

    def version(self) -> Version:
        return index_version(self.engine)

    def peek(self, key: Hashable, version: Version) -> T | None:
        """The value kept for ``key`` at ``version`` if it can be served as is (no computing, no waiting)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.version != version:
                return None
            if not entry.refreshing and self._clock() - entry.born >= self.max_age:
                return None  # due for a refresh: get() decides who does it
            self._entries.move_to_end(key)
            return entry.value

    def get(self, key: Hashable, compute: Callable[[], T], *, version: Version | None = None) -> T:
        version = self.version() if version is None else version
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                self._entries.move_to_end(key)
                if entry.refreshing or self._clock() - entry.born < self.max_age:
                    return entry.value
                entry.refreshing = True  # this reader refreshes it; the others are served this one meanwhile
        with self._key_locks[hash(key) % len(self._key_locks)]:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry.version == version and not entry.refreshing:
                    return entry.value  # computed by the reader this one waited for
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    if entry is not None:
                        entry.refreshing = False
                raise
            with self._lock:
                self.computed += 1
                self._entries[key] = _Entry(version, value, self._clock())
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return value


class IndexPoller:
    """Keeps the index up to the chain for read routes: ``poke`` before reading.

    With ``interval`` 0 every poke syncs, in the caller's thread (the CLI's behaviour). Otherwise the first poke of
    the process syncs in the caller's thread (nothing is served from an index this process never brought up to
    date), and later ones start a sync on a background thread when the last one began ``interval`` seconds ago or
    more and none is running: a request never waits for the chain or for the index write.
    """

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None
        self._running = False
        self._lock = threading.Lock()

    @property
    def blocks(self) -> bool:
        """Whether the next poke syncs in the caller's thread (then call it where blocking is allowed)."""
        return self.interval <= 0 or self._last is None

    def poke(self, sync: Callable[[], Any]) -> None:
        if self.interval <= 0:
            sync()
            return
        with self._lock:
            now = self._clock()
            if self._running or (self._last is not None and now - self._last < self.interval):
                return
            first, self._last, self._running = self._last is None, now, True
        if first:
            try:
                sync()
            except BaseException:
                with self._lock:
                    self._last = None  # not brought up yet: the next poke tries again, in its own thread
                raise
            finally:
                self._done()
            return
        threading.Thread(target=self._background, args=(sync,), name="index-poller", daemon=True).start()

    def _background(self, sync: Callable[[], Any]) -> None:
        try:
            sync()
        except Exception as exc:  # noqa: BLE001 - the next poke tries again; readers keep the index they have
            log.warning("index sync failed: %s", exc)
        finally:
            self._done()

    def _done(self) -> None:
        with self._lock:
            self._running = False
