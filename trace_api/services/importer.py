"""`trace import`: CSV or EPCIS 2.0 JSON-LD, streamed, validated in full before anything is written.

Pass 1 reads the whole file and validates every row; any invalid row means nothing is written, and the
error names the rows. Pass 2 hashes the events, stores them, puts them under Merkle roots of
``batch_size`` leaves (root and proofs committed together) and anchors the roots, pipelined. Lifecycle
steps the contracts rely on (shipping, receiving, arriving) are recorded on chain directly.

A run that was interrupted resumes without duplicates: an event is keyed by its CBV 2.0 hash, a stored
event is never put under a second root, and roots that were built but not anchored are anchored first.
"""

from __future__ import annotations

import csv
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from trace_api.epcis import event_hash_bytes, iter_event_dicts, iter_events, parse_event
from trace_api.errors import ForbiddenError, TraceError, ValidationError
from trace_api.index import schema as t
from trace_api.index.indexer import hx
from trace_api.index.store import lock
from trace_api.services import events as ev
from trace_api.services.batches import BatchKey, batch_key, build_event, parse_gln, resolve_account
from trace_api.services.context import TraceContext
from trace_api.services.policy import Policy, consignee_of

DIRECT_STEPS = frozenset({"shipping", "receiving", "arriving"})
MAX_REPORTED_ERRORS = 20
CSV_REQUIRED = ("gtin", "lot", "step", "event_time")
CSV_OPTIONAL = ("location", "to", "disposition", "sensor_type", "sensor_value", "sensor_uom")
Progress = Callable[[int], None]

_DL_BATCH = re.compile(r"/01/(\d{14})/10/([^/?#]+)")
_LGTIN = re.compile(r"^urn:epc:(?:class:lgtin|id:sgtin):(\d+)\.(\d+)\.([^.]+)")


@dataclass
class ImportReport:
    rows: int = 0
    new_events: int = 0
    anchored_roots: int = 0
    direct_events: int = 0
    batches: set[str] = field(default_factory=set)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "new_events": self.new_events, "anchored_roots": self.anchored_roots,
                "direct_events": self.direct_events, "batches": len(self.batches), "dry_run": self.dry_run}


def _gtin_from_epc(company: str, item: str) -> str:
    body = item[0] + company + item[1:]
    digits = [int(c) for c in body]
    check = (10 - sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits))) % 10) % 10
    return body + str(check)


def batch_keys_of(event: dict[str, Any]) -> list[BatchKey]:
    """The batches (GTIN + lot) an EPCIS event is about, from its EPC classes and EPCs."""
    from urllib.parse import unquote

    found: dict[str, BatchKey] = {}
    ids: list[str] = []
    for name in ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"):
        ids += [q.get("epcClass", "") for q in event.get(name) or [] if isinstance(q, dict)]
    for name in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
        ids += [e for e in event.get(name) or [] if isinstance(e, str)]
    if isinstance(event.get("parentID"), str):
        ids.append(event["parentID"])
    for value in ids:
        match = _DL_BATCH.search(value)
        if match:
            key = batch_key(match.group(1), unquote(match.group(2)))
        else:
            urn = _LGTIN.match(value)
            if not urn or value.startswith("urn:epc:id:sgtin"):
                continue
            key = batch_key(_gtin_from_epc(urn.group(1), urn.group(2)), unquote(urn.group(3)))
        found[key.id_hex] = key
    return list(found.values())


def _csv_events(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in CSV_REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationError(f"{path.name}: missing CSV columns {', '.join(missing)}")
        for number, row in enumerate(reader, start=2):
            yield number, row


def _event_from_row(row: dict[str, Any], *, dev_names: bool) -> dict[str, Any]:
    key = batch_key(row["gtin"] or "", row["lot"] or "")
    step = (row.get("step") or "").strip()
    if not step:
        raise ValidationError("step is empty")
    gln = (row.get("location") or "").strip() or None
    parse_gln(gln)
    to = resolve_account((row.get("to") or "").strip() or None, dev_names=dev_names)
    event = build_event(key=key, step=step, gln=gln, to=to, when=(row.get("event_time") or "").strip())
    if row.get("disposition"):
        event["disposition"] = row["disposition"].strip()
    if row.get("sensor_type"):
        try:
            value = float(row.get("sensor_value") or "")
        except ValueError as exc:
            raise ValidationError(f"sensor_value {row.get('sensor_value')!r} is not a number") from exc
        if not math.isfinite(value):
            raise ValidationError(f"sensor_value {row.get('sensor_value')!r} is not a finite number")
        report = {"type": row["sensor_type"].strip(), "value": value}
        if row.get("sensor_uom"):
            report["uom"] = row["sensor_uom"].strip()
        event["sensorElementList"] = [{"sensorReport": [report]}]
    return event


class _Validated(dict[str, Any]):
    """An event dict that iter_events has already validated: pass 1 need not parse it again."""


def event_dict(event: Any) -> dict[str, Any]:
    """The JSON-LD dict of a parsed event, carrying its document's namespace prefixes in its own @context
    so that the stored event hashes the same on its own."""
    data, namespaces = event.hash_source()
    data = _Validated(data)
    if namespaces and "@context" not in data:
        data["@context"] = [dict(namespaces)]
    return data


def _rows(path: Path, *, dev_names: bool, validate: bool) -> Iterator[tuple[int, Callable[[], dict[str, Any]]]]:
    """(row number, thunk building the event dict) — CSV line numbers, or event positions in a JSON document.
    Pass 2 (``validate`` false) re-reads a JSON document that pass 1 validated without validating it again."""
    if path.suffix.lower() == ".csv":
        for number, row in _csv_events(path):
            yield number, lambda row=row: _event_from_row(row, dev_names=dev_names)
    elif validate:
        for number, event in enumerate(iter_events(path), start=1):
            yield number, lambda event=event: event_dict(event)
    else:
        for number, data in enumerate(iter_event_dicts(path), start=1):
            yield number, lambda data=data: data


Rows = Callable[[bool], Iterator[tuple[int, Callable[[], dict[str, Any]]]]]  # called with validate


def _finite(event: dict[str, Any]) -> None:
    """NaN and infinities have no JSON form: an event holding one could be stored but never served again."""
    try:
        json.dumps(event, allow_nan=False)
    except ValueError as exc:
        raise ValidationError("the event holds a number that is not finite (NaN or infinity)") from exc


def _captured_by(ctx: TraceContext, event: dict[str, Any], account: str) -> bool:
    """Whether ``account`` already captured this very event (importing a file again, or resuming a run)."""
    event_hash = hx(event_hash_bytes(event))
    with ctx.engine.connect() as conn:
        return conn.execute(select(t.epcis_events.c.event_hash).where(
            t.epcis_events.c.event_hash == event_hash, t.epcis_events.c.capturer == account.lower())).first() is not None


def _check(ctx: TraceContext, rows_of: Rows, name: str, *, account: str) -> tuple[int, set[str]]:
    """Pass 1: validate every row and apply the registry's rules for ``account`` to it (see policy); raise one
    ValidationError naming the bad rows, or ForbiddenError when every bad row is one the chain would refuse."""
    errors: list[str] = []
    bad = 0
    refused = 0
    rows = 0
    batches: set[str] = set()
    rules = Policy(ctx, account)
    rules.check_account()
    for number, make in rows_of(True):
        rows += 1
        try:
            event = make()
            if not isinstance(event, _Validated):
                parse_event(event)
            if "eventTime" not in event:
                raise ValidationError("eventTime is missing")
            ev.parse_time(event["eventTime"])
            _finite(event)
            keys = batch_keys_of(event)
            if ev.biz_step_of(event) in DIRECT_STEPS and len(keys) != 1:
                raise ValidationError("a shipping/receiving event must name exactly one batch")
            batches.update(k.id_hex for k in keys)
            ids = [k.id_hex for k in keys]
            if all(rules.state(i) is not None for i in ids):  # unknown batches are reported together below
                try:
                    rules.check(ev.biz_step_of(event), ids, to=consignee_of(event),
                                names={k.id_hex: f"{k.gtin}/{k.lot}" for k in keys})
                except ForbiddenError:
                    if not _captured_by(ctx, event, account):  # else a re-run or resumed run: already accepted
                        raise
        except TraceError as exc:
            bad += 1
            refused += isinstance(exc, ForbiddenError)
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(f"row {number}: {exc}")
    if rows == 0:
        raise ValidationError(f"{name}: no events")
    with ctx.engine.connect() as conn:
        known = set(conn.execute(select(t.chain_batches.c.batch_id).where(
            t.chain_batches.c.batch_id.in_(list(batches)))).scalars()) if batches else set()
    unknown = batches - known
    if unknown:
        bad += 1
        errors.append(f"unknown batch(es): {', '.join(sorted(unknown)[:5])}; register them first")
    if bad:
        more = f" (first {len(errors)} shown)" if bad > len(errors) else ""
        if refused == bad:
            raise ForbiddenError(f"{name}: {bad} row(s) the registry would refuse, nothing imported{more}: "
                                 + "; ".join(errors))
        raise ValidationError(f"{name}: {bad} invalid row(s), nothing imported{more}: " + "; ".join(errors))
    return rows, batches


def import_file(
    ctx: TraceContext, *, account: LocalAccount, path: Path, batch_size: int | None = None, dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    if not path.is_file():
        raise ValidationError(f"{path}: no such file")
    stamp = _stamp(path)

    def rows_of(validate: bool) -> Iterator[tuple[int, Callable[[], dict[str, Any]]]]:
        if not validate and _stamp(path) != stamp:
            raise ValidationError(f"{path.name} changed while it was being imported; nothing imported, run again")
        return _rows(path, dev_names=ctx.dev_chain, validate=validate)

    return import_rows(ctx, account=account, rows_of=rows_of, name=path.name, batch_size=batch_size,
                       dry_run=dry_run, progress=progress)


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def import_events(
    ctx: TraceContext, *, account: LocalAccount, events: list[dict[str, Any]], name: str,
    batch_size: int | None = None,
) -> ImportReport:
    """Import events already in memory (an EPCIS document captured over HTTP)."""
    def rows_of(validate: bool) -> Iterator[tuple[int, Callable[[], dict[str, Any]]]]:
        return ((i, lambda e=e: e) for i, e in enumerate(events, start=1))

    return import_rows(ctx, account=account, rows_of=rows_of, name=name, batch_size=batch_size)


def check_events(ctx: TraceContext, *, account: str, events: list[dict[str, Any]], name: str) -> None:
    """Pass 1 alone, for `/capture` to refuse (4xx, nothing written) before it accepts a document."""
    ctx.sync()
    _check(ctx, lambda validate: ((i, lambda e=e: e) for i, e in enumerate(events, start=1)), name, account=account)


def import_rows(
    ctx: TraceContext, *, account: LocalAccount, rows_of: Rows, name: str, batch_size: int | None = None,
    dry_run: bool = False, progress: Progress | None = None,
) -> ImportReport:
    size = batch_size or ctx.settings.anchor_batch_size
    ctx.sync()
    rows, batches = _check(ctx, rows_of, name, account=account.address)
    report = ImportReport(rows=rows, batches=batches, dry_run=dry_run)
    if dry_run:
        return report
    ev.send_roots(ctx, account=account)  # finish roots an interrupted run built
    sender = ctx.sender(account)
    pending: list[tuple[str, Any]] = []
    chunk: list[ev.Captured] = []
    direct_hashes: set[str] = set()
    seq0 = time.time_ns()

    def flush() -> None:
        if not chunk:
            return
        with ctx.engine.begin() as conn:
            lock(conn, ev.ANCHOR_LOCK)  # with the lock held, "already stored" cannot change under us
            hashes = [c.event_hash for c in chunk]
            existing = set(conn.execute(select(t.epcis_events.c.event_hash).where(
                t.epcis_events.c.event_hash.in_(hashes))).scalars())
            fresh = list({c.event_hash: c for c in chunk if c.event_hash not in existing}.values())
            ev.insert_captured(conn, fresh)
            anchored = [c.event_hash for c in fresh if c.row["mode"] == "anchor"]
            root = ev.build_root(conn, anchored, anchorer=account.address) if anchored else None
        report.new_events += len(fresh)
        if root is not None:
            pending.append((root, ev.submit_root(ctx, sender=sender, root=root, count=len(anchored))))
        chunk.clear()

    for number, make in rows_of(False):
        event = make()
        mode = "direct" if ev.biz_step_of(event) in DIRECT_STEPS else "anchor"
        keys = batch_keys_of(event)
        captured = ev.capture(event, [k.id_hex for k in keys], mode=mode, source=name[:64], seq=seq0 + number,
                              capturer=account.address)
        if mode == "direct":
            direct_hashes.add(captured.event_hash)
        chunk.append(captured)
        if len(chunk) >= size:
            flush()
        if progress and number % 256 == 0:
            progress(number)
    flush()
    for root, tx_hash in pending:
        ev.confirm_root(ctx, sender=sender, root=root, tx_hash=tx_hash)
    report.anchored_roots = len(pending)
    report.direct_events = ev.send_direct(ctx, account=account, only=direct_hashes)
    if progress:
        progress(rows)
    ctx.sync()
    return report
