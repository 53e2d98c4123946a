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
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from trace_api.domain import EXT, BatchKey, batch_key, hx
from trace_api.epcis import event_hash_bytes
from trace_api.epcis.identifiers import subjects
from trace_api.errors import ContractRevert, ForbiddenError, TraceError, ValidationError
from trace_api.index import schema as t
from trace_api.index.store import lock
from trace_api.services import events as ev
from trace_api.services import sheet
from trace_api.services.context import TraceContext
from trace_api.services.policy import Policy, consignee_of

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

DIRECT_STEPS = frozenset({"shipping", "receiving", "arriving"})
MAX_REPORTED_ERRORS = 20
Progress = Callable[[int], None]


@dataclass
class ImportReport:
    rows: int = 0
    new_events: int = 0
    anchored_roots: int = 0
    direct_events: int = 0
    batches: set[str] = field(default_factory=set)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "new_events": self.new_events,
            "anchored_roots": self.anchored_roots,
            "direct_events": self.direct_events,
            "batches": len(self.batches),
            "dry_run": self.dry_run,
        }


class BatchFinder:
    """The batches an event is about: the batches it names (LGTIN, lot-level Digital Link), and the batches its
    serialised items (SGTIN) and SSCCs belong to, when the index knows them from earlier events. One finder serves
    both passes of an import, so both see the same answer."""

    def __init__(self, ctx: TraceContext | None) -> None:
        self.ctx = ctx
        self._found: dict[tuple[str, str], list[BatchKey]] = {}

    def keys(self, event: dict[str, Any]) -> list[BatchKey]:
        named = subjects(event)
        found: dict[str, BatchKey] = {}
        for gtin, lot in named.batches:
            try:
                key = batch_key(gtin, lot)
            except ValidationError:
                continue  # a valid EPC whose GTIN or lot this registry cannot hold: anchored, not tracked
            found[key.id_hex] = key
        for gtin, serial in named.items:
            found.update((k.id_hex, k) for k in self._lookup("item", gtin + "/" + serial))
        for sscc in named.ssccs:
            found.update((k.id_hex, k) for k in self._lookup("sscc", sscc))
        return list(found.values())

    def _lookup(self, kind: str, ref: str) -> list[BatchKey]:
        cached = self._found.get((kind, ref))
        if cached is None:
            cached = self._found[(kind, ref)] = self._query(kind, ref) if self.ctx is not None else []
        return cached

    def _query(self, kind: str, ref: str) -> list[BatchKey]:
        assert self.ctx is not None
        e, b, k = t.epcis_events, t.event_batches, t.batch_keys
        query = select(k.c.gtin, k.c.lot, e.c.body).select_from(
            b.join(e, e.c.event_hash == b.c.event_hash).join(k, k.c.batch_id == b.c.batch_id)
        )
        if kind == "item":  # an event about the batch that named this serial: its commissioning, as a rule
            gtin, serial = ref.split("/", 1)
            query = query.where(k.c.gtin == gtin, e.c.body.contains(serial))
        else:  # an aggregation that packed the batch into this SSCC; the last serial digits stand together in
            # every form of the SSCC (URN or Digital Link)
            query = query.where(e.c.event_type == "AggregationEvent", e.c.body.contains(ref[-5:-1]))
        keys: dict[str, BatchKey] = {}
        with self.ctx.engine.connect() as conn:
            for gtin, lot, body in conn.execute(query.limit(1000)):
                named = subjects(json.loads(body))
                hit = (
                    tuple(ref.split("/", 1)) in named.items
                    if kind == "item"
                    else (ref in named.ssccs and _parent_sscc(json.loads(body)) == ref)
                )
                if hit:
                    key = batch_key(gtin, lot)
                    keys[key.id_hex] = key
        return list(keys.values())


def _parent_sscc(event: dict[str, Any]) -> str | None:
    parent = event.get("parentID")
    return (
        subjects({"parentID": parent}).ssccs[0]
        if isinstance(parent, str) and subjects({"parentID": parent}).ssccs
        else None
    )


def batch_names(keys: list[BatchKey]) -> str:
    """Batches as people know them: ``GTIN 09520123456788 lot L1``."""
    return ", ".join(f"GTIN {k.gtin} lot {k.lot}" for k in keys)


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


Rows = Callable[[bool], Iterator[tuple[int, Callable[[], dict[str, Any]]]]]  # called with validate


def _mode(event: dict[str, Any], keys: list[BatchKey], known: set[str]) -> str:
    """ "direct": a lifecycle step of one batch registered here, recorded on chain as such; "anchor": any other
    valid event (other steps, several batches, batches or items no one registered here), under a Merkle root."""
    step = ev.biz_step_of(event)
    if step not in DIRECT_STEPS or len(keys) != 1 or keys[0].id_hex not in known:
        return "anchor"
    if step == "shipping" and not event.get(f"{EXT}consignee"):
        return "anchor"  # custody moves on chain only to a named account; a partner's shipment is anchored
    return "direct"


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
        return (
            conn.execute(
                select(t.epcis_events.c.event_hash).where(
                    t.epcis_events.c.event_hash == event_hash, t.epcis_events.c.capturer == account.lower()
                )
            ).first()
            is not None
        )


def _check(ctx: TraceContext, rows_of: Rows, name: str, finder: BatchFinder, *, account: LocalAccount,
           findings: sheet.Findings | None = None) -> tuple[int, set[str], set[str]]:  # fmt: skip
    """Pass 1: validate every row and apply the registry's rules for ``account`` to it (see policy), including
    what pass 2 would send on chain (simulated with ``eth_call`` as ``account``, in file order); raise one
    ValidationError naming the bad rows, or ForbiddenError when every bad row is one the chain would refuse.
    A spreadsheet (``findings``) is the producer's own record: a row twice, or a batch no one registered (a
    mistyped GTIN or lot), is an error there, where a partner's EPCIS document may hold both.
    Returns the row count, the batches named and those of them registered on chain."""
    from trace_api.epcis import parse_event

    errors: list[str] = []
    bad = 0
    refused = 0
    rows = 0
    batches: set[str] = set()
    lifecycle: list[tuple[int, dict[str, Any], BatchKey]] = []

    def fail(number: int, message: str) -> None:
        nonlocal bad
        bad += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append(f"row {number}: {message}" if number else message)

    rules = Policy(ctx, account.address)
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
            keys = finder.keys(event)
            if len(keys) == 1 and _mode(event, keys, {keys[0].id_hex}) == "direct":
                lifecycle.append((number, event, keys[0]))
            batches.update(k.id_hex for k in keys)
            ids = [k.id_hex for k in keys]
            if findings is not None and rules.state(ids[0]) is None:
                findings.unregistered_batch(number, ids[0], batch_names(keys))
            elif all(rules.state(i) is not None for i in ids):  # events about unregistered batches are anchored
                try:
                    rules.check(
                        ev.biz_step_of(event),
                        ids,
                        to=consignee_of(event),
                        names={k.id_hex: f"{k.gtin}/{k.lot}" for k in keys},
                    )
                except ForbiddenError:
                    if not _captured_by(ctx, event, account.address):  # else a re-run or resumed run: accepted
                        raise
        except TraceError as exc:
            refused += isinstance(exc, ForbiddenError)
            if findings is not None:
                findings.unknown_step |= isinstance(exc, sheet.UnknownStep)
            fail(number, str(exc))
    if rows == 0:
        raise ValidationError(f"{name}: no events")
    if findings is not None and (findings.bad_rows() or findings.unknown_step):
        bad += findings.bad_rows()
        errors.extend(findings.messages())
    with ctx.engine.connect() as conn:
        known = (
            set(
                conn.execute(
                    select(t.chain_batches.c.batch_id).where(t.chain_batches.c.batch_id.in_(list(batches)))
                ).scalars()
            )
            if batches
            else set()
        )
    sends: list[tuple[str, BatchKey, tuple[Any, ...]]] = []
    for number, event, key in lifecycle:
        if key.id_hex in known:
            event_hash = hx(event_hash_bytes(event))
            try:
                sends.append((event_hash, key, ev.direct_input(event, key.id_hex, event_hash)))
            except TraceError as exc:
                fail(number, f"{batch_names([key])}: {exc}")
    if sends and not bad and account is not None:
        _simulate(ctx, account, sends, fail)
    if bad:
        more = f" (first {len(errors)} shown)" if bad > len(errors) else ""
        if refused == bad:
            raise ForbiddenError(
                f"{name}: {bad} row(s) the registry would refuse, nothing imported{more}: " + "; ".join(errors)
            )
        raise ValidationError(f"{name}: {bad} invalid row(s), nothing imported{more}: " + "; ".join(errors))
    return rows, batches, known


def _simulate(ctx: TraceContext, account: LocalAccount, sends: list[tuple[str, BatchKey, tuple[Any, ...]]],
              fail: Callable[[int, str], None]) -> None:  # fmt: skip
    """The lifecycle steps pass 2 would record, tried on chain without sending: a step the contract refuses
    (not the custodian, not in transit ...) refuses the file now, not after its events were written."""
    with ctx.engine.connect() as conn:
        done = set(
            conn.execute(
                select(t.chain_events.c.event_hash).where(t.chain_events.c.event_hash.in_([h for h, _, _ in sends]))
            ).scalars()
        )
    todo = [(key, inputs) for h, key, inputs in sends if h not in done]
    if not todo:
        return
    try:
        ctx.sender(account).call(ctx.registry.functions.recordEvents([inputs for _, inputs in todo]))
    except ContractRevert as exc:
        keys = list({k.id_hex: k for k, _ in todo}.values())
        fail(0, f"the chain would refuse these lifecycle steps ({exc}); batches: {batch_names(keys[:3])}")


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
    """Import a CSV (see :mod:`sheet`; ``ignore_columns`` are left out), an EPCIS JSON-LD or XML document."""
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
    batch_size: int | None = None,
) -> ImportReport:
    """Import events already in memory (an EPCIS document captured over HTTP)."""

    def rows_of(validate: bool) -> Iterator[tuple[int, Callable[[], dict[str, Any]]]]:
        return ((i, functools.partial(_same, e)) for i, e in enumerate(events, start=1))

    return import_rows(ctx, account=account, rows_of=rows_of, name=name, batch_size=batch_size)


def check_events(ctx: TraceContext, *, account: LocalAccount, events: list[dict[str, Any]], name: str) -> None:
    """Pass 1 alone, for `/capture` to refuse (4xx, nothing written) before it accepts a document."""
    ctx.sync()
    _check(
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
    batch_size: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    findings: sheet.Findings | None = None,
) -> ImportReport:
    size = batch_size or ctx.settings.anchor_batch_size
    ctx.sync()
    finder = BatchFinder(ctx)
    rows, batches, known = _check(ctx, rows_of, name, finder, account=account, findings=findings)
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
            existing = set(
                conn.execute(
                    select(t.epcis_events.c.event_hash).where(t.epcis_events.c.event_hash.in_(hashes))
                ).scalars()
            )
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
        keys = finder.keys(event)
        mode = _mode(event, keys, known)
        captured = ev.capture(
            event, [k.id_hex for k in keys], mode=mode, source=name[:64], seq=seq0 + number, capturer=account.address
        )
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
