"""Property: random EPCIS documents, sent to `/capture` with random organisations' keys, never make a serial, a
step or a document of another organisation's batch look verified.

The victim is a producer's batch with issued serials and an inspector's certificate. Each example posts a document
of one to three events (any event type, any CBV business step or none, the victim's batch, serials issued or not,
a consignee, the certificate's hash) with the key of another account (role-less, carrier, another producer,
processor, retailer, inspector). Whatever the answer (403, 422 or 202), afterwards:

- no serial is known but those the producer issued;
- the batch is still held by its producer, not in transit, with no step on chain that the chain lets only its
  custodian or registrant record;
- every verified event of the batch by another account is a step the chain lets that account record about any
  batch (sensor readings; inspecting by an inspector; arriving/departing by a carrier, in transit only), and it
  carries no verified document badge.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qr import digital_link
from trace_api import domain
from trace_api.chain.accounts import dev_account
from trace_api.config import Settings
from trace_api.epcis.vocab import BIZ_STEPS
from trace_api.http.app import create_app
from trace_api.index.store import get_engine
from trace_api.services import apikeys, batches, history, resolver, units
from trace_api.services.context import TraceContext

GTIN = "09506000134369"
ISSUED = ["V0001", "V0002"]
ATTACKERS = ("buyer", "carrier", "seller", "processor", "retailer", "inspector")
ANY_BATCH_STEPS = {"sensor_reporting": None, "inspecting": "inspector"}  # steps the chain lets any such role record
EXAMPLES = int(os.environ.get("CAPTURE_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def world(trace_session_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ctx = TraceContext.open(trace_session_settings, autostart=False)
    lot = "VF-" + uuid.uuid4().hex[:8].upper()
    producer = dev_account("producer")
    batches.register_batch(ctx, account=producer, gtin=GTIN, lot=lot)
    batches.record_event(ctx, source="test", account=producer, gtin=GTIN, lot=lot, step="commissioning")
    units.commission_units(ctx, account=producer, gtin=GTIN, lot=lot, serials=ISSUED)
    cert = tmp_path_factory.mktemp("cert") / "certificate.txt"
    cert.write_text(f"certificate of {lot}\n")
    batches.record_event(
        ctx, source="test", account=dev_account("inspector"), gtin=GTIN, lot=lot, step="inspecting", doc=cert
    )
    sha = next(d.sha256 for e in history.history(ctx, gtin=GTIN, lot=lot).timeline for d in e.documents)
    engine = get_engine(trace_session_settings)
    keys = {
        name: {"Authorization": "Bearer " + apikeys.create_key(engine, organisation=f"fuzz {name}", account=name)}
        for name in ATTACKERS
    }
    with TestClient(create_app(trace_session_settings)) as client:
        yield {"ctx": ctx, "lot": lot, "sha": sha, "keys": keys, "client": client}


def _event(
    world: dict[str, Any], kind: str, step: str | None, serials: list[str], cite: bool, to: str | None, second: int
) -> dict[str, Any]:
    key = domain.batch_key(GTIN, world["lot"])
    uris = [digital_link.unit_uri(GTIN, world["lot"], s, domain=digital_link.CANONICAL_DOMAIN) for s in serials]
    event: dict[str, Any] = {
        "type": kind,
        "eventTime": f"2026-11-21T10:{second // 60:02d}:{second % 60:02d}.000Z",
        "eventTimeZoneOffset": "+00:00",
    }
    if kind == "ObjectEvent":
        event |= {
            "action": "ADD" if step == "commissioning" else "OBSERVE",
            "epcList": uris,
            "quantityList": [{"epcClass": key.epc_class}],
        }
    elif kind == "AggregationEvent":
        event |= {
            "action": "ADD",
            "parentID": "urn:epc:id:sscc:9506000.0000000001",
            "childEPCs": uris,
            "childQuantityList": [{"epcClass": key.epc_class}],
        }
    else:
        event |= {"inputQuantityList": [{"epcClass": key.epc_class}], "outputEPCList": uris}
    if step:
        event["bizStep"] = step
    if cite:
        event[f"{domain.EXT}documents"] = [{"sha256": world["sha"], "name": "cert.txt", "private": False}]
    if to:
        event[f"{domain.EXT}consignee"] = dev_account(to).address.lower()
    return event


events_strategy = st.lists(
    st.tuples(
        st.sampled_from(["ObjectEvent", "AggregationEvent", "TransformationEvent"]),
        st.one_of(st.none(), st.sampled_from(sorted(BIZ_STEPS))),
        st.lists(st.sampled_from([*ISSUED, "FAKE1", "FAKE2", "X9"]), max_size=3, unique=True),
        st.booleans(),
        st.one_of(st.none(), st.sampled_from(ATTACKERS)),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(attacker=st.sampled_from(ATTACKERS), specs=events_strategy, second=st.integers(0, 3599))
def test_random_captures_never_verify_anything_foreign(
    world: dict[str, Any], attacker: str, specs: list[tuple[Any, ...]], second: int
) -> None:
    events = [_event(world, *spec, second=(second + i) % 3600) for i, spec in enumerate(specs)]
    document = {
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-21T10:00:00Z",
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "epcisBody": {"eventList": events},
    }
    response = world["client"].post("/capture", content=json.dumps(document), headers=world["keys"][attacker])
    assert response.status_code in (202, 403, 422), response.text

    ctx: TraceContext = world["ctx"]
    lot = world["lot"]
    key = domain.batch_key(GTIN, lot)
    data = history.history(ctx, gtin=GTIN, lot=lot)
    producer = dev_account("producer").address.lower()
    for serial in {s for spec in specs for s in spec[2]} - set(ISSUED):
        assert resolver.unit_status(ctx, key, serial, data) != "known", f"{attacker} issued serial {serial}"
    view = ctx.registry.functions.getBatch(key.id).call()
    assert view[1].lower() == producer and not view[7], f"{attacker} moved custody or shipped the batch"
    inspector = dev_account("inspector").address.lower()
    for entry in data.timeline:
        if entry.status != "verified" or entry.actor in (producer, None):
            continue
        allowed = entry.biz_step == "sensor_reporting" or (entry.biz_step == "inspecting" and entry.actor == inspector)
        assert allowed, f"{entry.actor} has a verified {entry.biz_step or entry.type} on the batch"
        if entry.actor != inspector:
            assert not any(d.verified for d in entry.documents), "a borrowed certificate badge"
