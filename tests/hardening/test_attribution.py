"""Nothing unverified may look verified (issue 16): attacks on the capture pipeline, from outside, with API keys.

Each test is an attack that succeeded before captures were attributed and checked against the registry's rules:
a role-less or foreign key issuing serials of another organisation's batch, a carrier moving custody through the
producer's `trace anchor`, a foreign event borrowing a certificate's badge, another producer's signature, pending
events and on-chain steps without details counting as verified, one unrecordable item blocking everybody.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, inspect, select, update

from qr import digital_link, signing
from tests.conftest import run_trace
from trace_api import domain
from trace_api.chain.accounts import dev_account
from trace_api.config import Settings
from trace_api.domain import hx
from trace_api.epcis import event_hash_bytes
from trace_api.http.app import create_app
from trace_api.index import schema as t
from trace_api.index.store import get_engine
from trace_api.services import anchoring, apikeys, batches, history, resolver, units, verify
from trace_api.services import captures as captures_service
from trace_api.services import roots as merkle_roots
from trace_api.services.context import TraceContext

GTIN = "09506000134369"
SERIALS = ["S0001", "S0002"]


@pytest.fixture(scope="module")
def ctx(trace_session_settings: Settings) -> TraceContext:
    return TraceContext.open(trace_session_settings, autostart=False)


@pytest.fixture(scope="module")
def client(trace_session_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(trace_session_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def keys(trace_session_settings: Settings) -> dict[str, dict[str, str]]:
    engine = get_engine(trace_session_settings)
    return {
        name: {"Authorization": "Bearer " + apikeys.create_key(engine, organisation=name, account=name)}
        for name in ("producer", "carrier", "buyer", "seller")
    }


def _lot() -> str:
    return "AT-" + uuid.uuid4().hex[:8].upper()


@pytest.fixture
def story(ctx: TraceContext, tmp_path: Path) -> dict[str, Any]:
    """A producer's batch: registered, commissioned, two unit serials issued, inspected with a certificate."""
    lot = _lot()
    producer = dev_account("producer")
    batches.register_batch(ctx, account=producer, gtin=GTIN, lot=lot, metadata={"product": "Roast"})
    batches.record_event(ctx, source="test", account=producer, gtin=GTIN, lot=lot, step="commissioning")
    units.commission_units(ctx, account=producer, gtin=GTIN, lot=lot, serials=SERIALS)
    cert = tmp_path / "certificate.txt"
    cert.write_text(f"organic certificate for {lot}\n")
    batches.record_event(
        ctx, source="test", account=dev_account("inspector"), gtin=GTIN, lot=lot, step="inspecting", doc=cert
    )
    data = history.history(ctx, gtin=GTIN, lot=lot)
    sha = next(d.sha256 for e in data.timeline for d in e.documents)
    assert data.timeline[-1].documents[0].verified, "the inspector's own certificate is verified"
    return {"lot": lot, "certificate": sha}


def _uri(lot: str, serial: str) -> str:
    return digital_link.unit_uri(GTIN, lot, serial, domain=digital_link.CANONICAL_DOMAIN)


def _event(lot: str, step: str, **extra: Any) -> dict[str, Any]:
    key = domain.batch_key(GTIN, lot)
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-20T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "bizStep": step,
        "quantityList": [{"epcClass": key.epc_class}],
    }
    return event | extra


def _capture(client: TestClient, key: dict[str, str], *events_: dict[str, Any]) -> Any:
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-20T10:00:00Z",
        "epcisBody": {"eventList": list(events_)},
    }
    return client.post("/capture", content=json.dumps(document), headers=key)


def _stored_with(ctx: TraceContext, text: str) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(t.epcis_events.c.body.contains(text))).scalar_one())


def _commissioning(lot: str, serial: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-11-20T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "epcList": [_uri(lot, serial)],
    }


@pytest.mark.parametrize("attacker", ["buyer", "carrier", "seller"])
def test_a_foreign_key_cannot_issue_a_serial(
    client: TestClient, ctx: TraceContext, keys: dict[str, Any], story: dict[str, Any], attacker: str
) -> None:
    """A role-less key, a carrier's and another producer's: each refused up front; the serial stays unknown."""
    lot = story["lot"]
    response = _capture(client, keys[attacker], _commissioning(lot, "FAKE888"))
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert _stored_with(ctx, "FAKE888") == 0, "a refused capture must write nothing"
    page = client.get(f"/01/{GTIN}/10/{lot}/21/FAKE888", headers={"Accept": "application/json"})
    assert page.json()["verdict"]["level"] == "counterfeit"
    html = client.get(f"/01/{GTIN}/10/{lot}/21/FAKE888", headers={"Accept": "text/html"}).text
    assert "Verified on chain" not in html
    verdict = verify.verify_online(ctx, _uri(lot, "FAKE888"))
    assert not verdict.ok and any(c.check == "unit" and not c.ok for c in verdict.checks)
    # The producer's own serials are known.
    assert verify.verify_online(ctx, _uri(lot, SERIALS[0])).ok


def test_a_carrier_cannot_move_custody_through_the_producers_anchor(
    client: TestClient, ctx: TraceContext, keys: dict[str, Any], story: dict[str, Any]
) -> None:
    lot = story["lot"]
    carrier = dev_account("carrier").address.lower()
    shipping = _event(lot, "shipping", **{f"{domain.EXT}consignee": carrier})
    response = _capture(client, keys["carrier"], shipping)
    assert response.status_code == 403, response.text
    assert "shipping needs one of the roles" in response.json()["detail"]
    result = anchoring.anchor(ctx, account=dev_account("producer"))  # "anchor anything pending", as the README says
    assert result.direct_events == 0
    receiving = _capture(client, keys["carrier"], _event(lot, "receiving"))
    assert receiving.status_code == 403, receiving.text
    view = ctx.registry.functions.getBatch(domain.batch_key(GTIN, lot).id).call()
    assert view[1].lower() == dev_account("producer").address.lower() and not view[7]


def test_a_foreign_event_cannot_borrow_a_certificate_badge(
    client: TestClient, ctx: TraceContext, keys: dict[str, Any], story: dict[str, Any]
) -> None:
    """A carrier may report sensor readings of any batch (the chain's rule), but citing the inspector's
    certificate does not make it vouch for it."""
    lot = story["lot"]
    docs = [{"sha256": story["certificate"], "name": "organic.txt", "private": False}]
    reading = _event(lot, "sensor_reporting", **{f"{domain.EXT}documents": docs})
    response = _capture(client, keys["carrier"], reading)
    assert response.status_code == 202, response.text
    assert client.get(response.json()["status_url"]).json()["status"] == "done"
    data = history.history(ctx, gtin=GTIN, lot=lot)
    mine = [e for e in data.timeline if e.biz_step == "sensor_reporting"]
    assert len(mine) == 1 and mine[0].status == "verified"
    assert mine[0].actor == dev_account("carrier").address.lower()
    assert [d.verified for d in mine[0].documents] == [False]
    inspected = [e for e in data.timeline if e.biz_step == "inspecting"]
    assert [d.verified for d in inspected[0].documents] == [True]


def test_another_producers_signature_is_not_the_producers(ctx: TraceContext, story: dict[str, Any]) -> None:
    uri = _uri(story["lot"], SERIALS[0])
    foreign = signing.sign_uri(uri, dev_account("seller").key).split("#sig=")[1]
    checked = resolver.check_signature(ctx, uri=uri, signature=foreign)
    assert not checked.producer and not checked.trusted
    own = signing.sign_uri(uri, dev_account("producer").key).split("#sig=")[1]
    assert resolver.check_signature(ctx, uri=uri, signature=own).producer


def _insert_raw(ctx: TraceContext, event: dict[str, Any], lot: str, *, mode: str, capturer: str) -> str:
    """Store an event the way a crashed or unfinished capture leaves it: captured, not on chain."""
    event_hash = hx(event_hash_bytes(event))
    when = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    row = {
        "event_hash": event_hash,
        "event_type": event["type"],
        "biz_step": event["bizStep"],
        "event_time": when,
        "body": json.dumps(event),
        "mode": mode,
        "root": None,
        "proof": None,
        "source": "raw",
        "created_seq": time.time_ns(),
    }
    with ctx.engine.begin() as conn:
        conn.execute(insert(t.epcis_events).values(**row))
        conn.execute(
            insert(t.event_batches).values(
                batch_id=domain.batch_key(GTIN, lot).id_hex, event_time=when, event_hash=event_hash
            )
        )
        if "capturer" in {c["name"] for c in inspect(conn).get_columns("epcis_events")}:
            conn.execute(
                update(t.epcis_events)
                .where(t.epcis_events.c.event_hash == event_hash)
                .values(capturer=capturer.lower())
            )
    return event_hash


def test_pending_events_never_read_as_verified(client: TestClient, ctx: TraceContext, story: dict[str, Any]) -> None:
    lot = story["lot"]
    producer = dev_account("producer").address
    _insert_raw(ctx, _commissioning(lot, "PEND1"), lot, mode="anchor", capturer=producer)
    unit = client.get(f"/01/{GTIN}/10/{lot}/21/PEND1", headers={"Accept": "application/json"}).json()
    assert unit["verdict"]["level"] == "pending", unit["verdict"]
    assert not unit["unit"]["known"]
    assert not verify.verify_online(ctx, _uri(lot, "PEND1")).ok
    batch = client.get(f"/01/{GTIN}/10/{lot}", headers={"Accept": "application/json"}).json()
    assert batch["verdict"]["level"] == "pending" and batch["pending"] == 1
    html = client.get(f"/01/{GTIN}/10/{lot}", headers={"Accept": "text/html"}).text
    assert "Verified on chain" not in html and "not verified yet" in html.lower()
    verdict = verify.verify_online(
        ctx, digital_link.unit_uri(GTIN, lot, SERIALS[0], domain=digital_link.CANONICAL_DOMAIN)
    )
    assert not verdict.ok and any(c.check == "events" and "pending" in c.detail for c in verdict.checks)
    # Its capturer's anchor makes it verified, and only then does the unit count.
    anchoring.anchor(ctx, account=dev_account("producer"))
    assert verify.verify_online(ctx, _uri(lot, "PEND1")).ok


def test_an_on_chain_step_without_details_is_shown(
    client: TestClient, ctx: TraceContext, trace_session_env: dict[str, str], story: dict[str, Any]
) -> None:
    lot = story["lot"]
    key = domain.batch_key(GTIN, lot)
    secret = os.urandom(32)  # a step recorded on chain whose EPCIS body was never disclosed
    ctx.sender(dev_account("producer")).transact(
        ctx.registry.functions.recordEvent(key.id, 6, secret, 0, "0x" + "00" * 20)
    )
    data = history.history(ctx, gtin=GTIN, lot=lot)
    assert data.hash_chain.ok, "the hash chain itself is intact"
    assert [u.step for u in data.undisclosed] == ["storing"] and not data.complete
    page = client.get(f"/01/{GTIN}/10/{lot}", headers={"Accept": "application/json"}).json()
    assert page["verdict"]["level"] == "incomplete"
    assert "1 step recorded on chain without details" in page["verdict"]["title"]
    html = client.get(f"/01/{GTIN}/10/{lot}", headers={"Accept": "text/html"}).text
    assert "1 step recorded on chain without details" in html and "Verified on chain" not in html
    verdict = verify.verify_online(ctx, _uri(lot, SERIALS[0]))
    assert not verdict.ok
    assert any(c.check == "timeline" and "without details" in c.detail for c in verdict.checks)
    shown = run_trace("batch", "show", GTIN, lot, env=trace_session_env)
    assert shown.code == 0 and "1 step recorded on chain without details" in shown.stdout
    checked = run_trace("verify", _uri(lot, SERIALS[0]), env=trace_session_env)
    assert checked.code == 6, checked.stdout + checked.stderr


def test_one_unrecordable_pending_item_blocks_nobody(ctx: TraceContext, story: dict[str, Any]) -> None:
    lot = story["lot"]
    carrier = dev_account("carrier")
    # A carrier shipping a batch it does not hold: the chain refuses it from anybody but the custodian.
    stuck = _insert_raw(
        ctx,
        _event(
            lot, "shipping", eventTime="2026-11-21T10:00:00.000Z", **{f"{domain.EXT}consignee": carrier.address.lower()}
        ),
        lot,
        mode="direct",
        capturer=carrier.address,
    )
    before = ctx.registry.functions.eventCount(domain.batch_key(GTIN, lot).id).call()
    producer_run = anchoring.anchor(ctx, account=dev_account("producer"))  # raised TraceUnauthorizedStep before
    assert producer_run.direct_events == 0
    assert ctx.registry.functions.eventCount(domain.batch_key(GTIN, lot).id).call() == before
    carrier_run = anchoring.anchor(ctx, account=carrier)
    assert carrier_run.direct_events == 0
    with ctx.engine.connect() as conn:
        left = conn.execute(select(t.epcis_events.c.event_hash).where(t.epcis_events.c.event_hash == stuck)).first()
    assert left is None, "an item the chain refuses is dropped, not left pending for ever"


def test_trace_import_refuses_what_the_chain_would_refuse(
    ctx: TraceContext, trace_session_env: dict[str, str], story: dict[str, Any], tmp_path: Path
) -> None:
    """The CLI path of the same attack: a carrier's import of the producer's steps exits 1, nothing written."""
    lot = story["lot"]
    csv = tmp_path / "foreign.csv"
    csv.write_text(
        "gtin,lot,step,event_time\n"
        f"{GTIN},{lot},sensor_reporting,2026-11-22T10:00:00Z\n"
        f"{GTIN},{lot},storing,2026-11-22T10:01:00Z\n"
    )
    result = run_trace("--as", "carrier", "import", str(csv), env=trace_session_env)
    assert result.code == 1, result.stdout + result.stderr
    assert "row 3" in result.stderr and "custodian" in result.stderr and "nothing imported" in result.stderr
    assert _stored_with(ctx, "2026-11-22T10:0") == 0


@pytest.mark.parametrize("value", ["nan", "1e999", "-inf"])
def test_trace_import_refuses_non_finite_numbers(
    ctx: TraceContext, trace_session_env: dict[str, str], story: dict[str, Any], tmp_path: Path, value: str
) -> None:
    csv = tmp_path / "readings.csv"
    csv.write_text(
        "gtin,lot,step,event_time,sensor_type,sensor_value,sensor_uom\n"
        f"{GTIN},{story['lot']},sensor_reporting,2026-11-23T10:00:00Z,Temperature,{value},CEL\n"
    )
    result = run_trace("import", str(csv), env=trace_session_env)
    assert result.code == 1 and "finite" in result.stderr, result.stderr
    assert _stored_with(ctx, "2026-11-23T10:00") == 0


def test_a_capture_that_fails_later_leaves_nothing_pending(
    ctx: TraceContext, story: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accepted, then refused while anchoring (a role revoked meanwhile, say): its events do not stay pending."""
    from trace_api.errors import ContractRevert
    from trace_api.services import captures

    def refused(*_: Any, **__: Any) -> Any:
        raise ContractRevert("TraceNoRole", ())

    monkeypatch.setattr(merkle_roots, "submit_root", refused)
    reading = _event(story["lot"], "sensor_reporting", eventTime="2026-11-24T10:00:00.000Z")
    producer = dev_account("producer")
    capture_id = captures.accept(ctx, organisation="Farm Co", account=producer, events=[reading])
    captures.run(ctx, capture_id, producer, [reading])
    with ctx.engine.connect() as conn:
        status = conn.execute(select(t.captures.c.status).where(t.captures.c.capture_id == capture_id)).scalar()
        left = conn.execute(select(func.count()).where(t.epcis_events.c.source == f"capture:{capture_id}")).scalar()
        roots = conn.execute(
            select(func.count()).where(
                t.anchor_roots.c.status != "anchored",
                t.anchor_roots.c.anchorer == dev_account("producer").address.lower(),
            )
        ).scalar()
    assert status == "failed" and left == 0 and roots == 0


def test_a_capture_the_server_never_ran_is_resumed_by_its_accounts_anchor(
    ctx: TraceContext, story: dict[str, Any]
) -> None:
    """The 202 promised it: the document is written down with the capture, and `trace anchor` finishes it."""
    reading = _event(story["lot"], "sensor_reporting", eventTime="2026-11-25T10:00:00.000Z")
    producer = dev_account("producer")
    capture_id = captures_service.accept(ctx, organisation="Farm Co", account=producer, events=[reading])
    # ... and the server dies before its background task runs.
    assert anchoring.anchor(ctx, account=dev_account("carrier")).captures_resumed == 0  # not the carrier's
    assert anchoring.anchor(ctx, account=producer).captures_resumed == 1
    with ctx.engine.connect() as conn:
        status, document = conn.execute(
            select(t.captures.c.status, t.captures.c.document).where(t.captures.c.capture_id == capture_id)
        ).one()
    assert status == "done" and document is None
    timeline = history.history(ctx, gtin=GTIN, lot=story["lot"]).timeline
    assert [e.status for e in timeline if e.event_time == "2026-11-25T10:00:00.000Z"] == ["verified"]
