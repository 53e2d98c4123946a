"""`trace import`: CSV or EPCIS 2.0 JSON-LD, streamed, validated in full before anything is written.

Pass 1 reads the whole file and validates every row; any invalid row means nothing is written, and the
error names the rows. Pass 2 hashes the events, stores them, puts them under Merkle roots of
``batch_size`` leaves (root and proofs committed together) and anchors the roots, pipelined. Lifecycle
steps the contracts rely on (shipping, receiving, arriving) are recorded on chain directly.

A run that was interrupted resumes without duplicates: an event is keyed by its CBV 2.0 hash, a stored
event is never put under a second root, and roots that were built but not anchored are anchored first.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from trace_api.errors import ValidationError
from trace_api.index import queries_imports as qi
from trace_api.index.store import lock
from trace_api.services import events as ev
from trace_api.services import roots, sheet
from trace_api.services.context import TraceContext
from trace_api.services.import_check import Rows, Validated, check, mode
from trace_api.services.import_finder import BatchFinder

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

Progress = Callable[[int], None]


class ImportReport(BaseModel):
    """What an import did (or, dry run, would do)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rows: int = Field(description="Rows (CSV) or events (EPCIS document) read")
    new_events: int = Field(description="Events stored that the index did not hold yet")
    anchored_roots: int = Field(description="Merkle roots anchored on chain")
    direct_events: int = Field(description="Lifecycle steps recorded on chain directly")
    batches: int = Field(description="Batches the events are about")
    dry_run: bool


def event_dict(event: Any) -> dict[str, Any]:
    """The JSON-LD dict of a parsed event, carrying its document's namespace prefixes in its own @context
    so that the stored event hashes the same on its own."""
    data, namespaces = event.hash_source()
    data = Validated(data)
    if namespaces and "@context" not in data:
        data["@context"] = [dict(namespaces)]
    return data


def _same(event: dict[str, Any]) -> dict[str, Any]:
    return event


def _rows(path: Path, *, dev_names: bool, validate: bool, ignore: Sequence[str] = (),
          findings: sheet.Findings | None = None) -> Iterator[tuple[int, Callable[[], dict[str, Any]]]]:  # fmt: skip
    """(row number, thunk building the event dict) — spreadsheet row numbers, or event positions in a JSON
    document. Pass 2 (``validate`` false) re-reads a JSON document that pass 1 validated without validating it
    again."""
    from trace_api.epcis import iter_event_dicts, iter_events  # the pydantic model: only imports load it

    if path.suffix.lower() == ".csv":
        for number, row, header in sheet.read_rows(path, ignore=ignore, findings=findings if validate else None):
            yield number, functools.partial(sheet.event_from_row, row, header, dev_names=dev_names)
    elif validate:
        for number, event in enumerate(iter_events(path), start=1):
            yield number, functools.partial(event_dict, event)
    else:
        for number, data in enumerate(iter_event_dicts(path), start=1):
            yield number, functools.partial(_same, data)


def import_file(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    path: Path,
    batch_size: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    ignore_columns: Sequence[str] = (),
) -> ImportReport:
    """Import a CSV (see :mod:`sheet`; ``ignore_columns`` are left out), an EPCIS JSON-LD or XML document. Its
    events are recorded as coming through ``import:<file name>``."""
    if not path.is_file():
        raise ValidationError(f"{path}: no such file")
    stamp = _stamp(path)

    def rows_of(validate: bool) -> Iterator[tuple[int, Callable[[], dict[str, Any]]]]:
        if not validate and _stamp(path) != stamp:
            raise ValidationError(f"{path.name} changed while it was being imported; nothing imported, run again")
        return _rows(path, dev_names=ctx.dev_chain, validate=validate, ignore=ignore_columns, findings=findings)

    findings = sheet.Findings() if path.suffix.lower() == ".csv" else None
    if ignore_columns and findings is None:
        raise ValidationError(f"{path.name}: --ignore-column applies to CSV files only")
    return import_rows(
        ctx,
        account=account,
        rows_of=rows_of,
        name=path.name,
        source=f"import:{path.name}",
        batch_size=batch_size,
        dry_run=dry_run,
        progress=progress,
        findings=findings,
    )


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def import_events(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    events: list[dict[str, Any]],
    name: str,
    source: str,
    batch_size: int | None = None,
) -> ImportReport:
    """Import events already in memory (an EPCIS document captured over HTTP, a demo's readings); ``name`` is
    what errors call them, ``source`` the channel they came through (``capture:<id>``, ``demo``, ...)."""

    def rows_of(validate: bool) -> Iterator[tuple[int, Callable[[], dict[str, Any]]]]:
        return ((i, functools.partial(_same, e)) for i, e in enumerate(events, start=1))

    return import_rows(ctx, account=account, rows_of=rows_of, name=name, source=source, batch_size=batch_size)


def check_events(ctx: TraceContext, *, account: LocalAccount, events: list[dict[str, Any]], name: str) -> None:
    """Pass 1 alone, for `/capture` to refuse (4xx, nothing written) before it accepts a document."""
    ctx.sync()
    check(
        ctx,
        lambda validate: ((i, functools.partial(_same, e)) for i, e in enumerate(events, start=1)),
        name,
        BatchFinder(ctx),
        account=account,
    )


def import_rows(
    ctx: TraceContext,
    *,
    account: LocalAccount,
    rows_of: Rows,
    name: str,
    source: str,
    batch_size: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    findings: sheet.Findings | None = None,
) -> ImportReport:
    size = batch_size or ctx.settings.anchor_batch_size
    ctx.sync()
    finder = BatchFinder(ctx)
    rows, batches, known = check(ctx, rows_of, name, finder, account=account, findings=findings)
    if dry_run:
        return ImportReport(
            rows=rows, new_events=0, anchored_roots=0, direct_events=0, batches=len(batches), dry_run=True
        )
    roots.send_roots(ctx, account=account)  # finish roots an interrupted run built
    sender = ctx.sender(account)
    pending: list[tuple[str, Any]] = []
    chunk: list[ev.Captured] = []
    direct_hashes: set[str] = set()
    seq0 = time.time_ns()
    new_events = 0

    def flush() -> None:
        nonlocal new_events
        if not chunk:
            return
        with ctx.engine.begin() as conn:
            lock(conn, roots.ANCHOR_LOCK)  # with the lock held, "already stored" cannot change under us
            hashes = [c.event_hash for c in chunk]
            existing = qi.stored_among(conn, hashes)
            fresh = list({c.event_hash: c for c in chunk if c.event_hash not in existing}.values())
            ev.insert_captured(conn, fresh)
            anchored = [c.event_hash for c in fresh if c.row["mode"] == "anchor"]
            root = roots.build_root(conn, anchored, anchorer=account.address) if anchored else None
        new_events += len(fresh)
        if root is not None:
            pending.append((root, roots.submit_root(ctx, sender=sender, root=root, count=len(anchored))))
        chunk.clear()

    for number, make in rows_of(False):
        event = make()
        keys = finder.keys(event)
        how = mode(event, keys, known)
        captured = ev.capture(
            event, [k.id_hex for k in keys], mode=how, source=source[:64], seq=seq0 + number, capturer=account.address
        )
        if how == "direct":
            direct_hashes.add(captured.event_hash)
        chunk.append(captured)
        if len(chunk) >= size:
            flush()
        if progress and number % 256 == 0:
            progress(number)
    flush()
    for root, tx_hash in pending:
        roots.confirm_root(ctx, sender=sender, root=root, tx_hash=tx_hash)
    direct = ev.send_direct(ctx, account=account, only=direct_hashes)
    if progress:
        progress(rows)
    ctx.sync()
    return ImportReport(
        rows=rows,
        new_events=new_events,
        anchored_roots=len(pending),
        direct_events=direct,
        batches=len(batches),
        dry_run=False,
    )
