"""`trace import`, pass 1: every row validated and held against the registry's rules (the lifecycle steps pass 2
would send tried on chain first), so that one bad row means nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from trace_api.domain import EXT, BatchKey, hx
from trace_api.epcis import event_hash_bytes
from trace_api.errors import ContractRevert, ForbiddenError, TraceError, ValidationError
from trace_api.index import queries_imports as qi
from trace_api.services import events as ev
from trace_api.services import sheet
from trace_api.services.context import TraceContext
from trace_api.services.import_finder import BatchFinder, batch_names
from trace_api.services.policy import Policy, consignee_of

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

DIRECT_STEPS = frozenset({"shipping", "receiving", "arriving"})
MAX_REPORTED_ERRORS = 20
Rows = Callable[[bool], Iterator[tuple[int, Callable[[], dict[str, Any]]]]]  # called with validate


class Validated(dict[str, Any]):
    """An event dict that iter_events has already validated: pass 1 need not parse it again."""


def mode(event: dict[str, Any], keys: list[BatchKey], known: set[str]) -> str:
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
        return qi.captured_by(conn, event_hash, account)


def check(ctx: TraceContext, rows_of: Rows, name: str, finder: BatchFinder, *, account: LocalAccount,
          findings: sheet.Findings | None = None) -> tuple[int, set[str], set[str]]:  # fmt: skip
    """Pass 1: validate every row and apply the registry's rules for ``account`` to it (see policy), including
    what pass 2 would send on chain (simulated with ``eth_call`` as ``account``, in file order); raise one
    ValidationError naming the bad rows, or ForbiddenError when every bad row is one the chain would refuse.
    A spreadsheet (``findings``) is the producer's own record: a row twice, or a batch no one registered (a
    mistyped GTIN or lot), is an error there, where a partner's EPCIS document may hold both.
    Returns the row count, the batches named and those of them registered on chain."""
    from trace_api.epcis import parse_event  # the pydantic model: only imports load it

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
            if not isinstance(event, Validated):
                parse_event(event)
            if "eventTime" not in event:
                raise ValidationError("eventTime is missing")
            ev.parse_time(event["eventTime"])
            _finite(event)
            keys = finder.keys(event)
            if len(keys) == 1 and mode(event, keys, {keys[0].id_hex}) == "direct":
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
        known = qi.registered_among(conn, list(batches)) if batches else set()
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
        done = qi.recorded_among(conn, [h for h, _, _ in sends])
    todo = [(key, inputs) for h, key, inputs in sends if h not in done]
    if not todo:
        return
    try:
        ctx.sender(account).call(ctx.chain.ref("TraceRegistry").fn("recordEvents", [inputs for _, inputs in todo]))
    except ContractRevert as exc:
        keys = list({k.id_hex: k for k, _ in todo}.values())
        fail(0, f"the chain would refuse these lifecycle steps ({exc}); batches: {batch_names(keys[:3])}")
