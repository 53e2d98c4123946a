"""Private documents: their names and SHA-256 are shown to the parties of the batch only (issue 16: the JSON
views showed both to everyone). The public sees "private document" and whether its hash verified."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from trace_api.chain.accounts import dev_account
from trace_api.config import Settings
from trace_api.http.app import create_app
from trace_api.index.store import get_engine
from trace_api.services import apikeys, batches
from trace_api.services.context import TraceContext

GTIN = "09506000134352"
SECRET_NAME = "invoice-ACME-2026-0042.pdf"


@pytest.fixture(scope="module")
def client(trace_session_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(trace_session_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def batch(trace_session_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A batch whose inspection carries a private document shared with the processor; (lot, sha256)."""
    lot = "P" + uuid.uuid4().hex[:8].upper()
    doc = tmp_path_factory.mktemp("docs") / SECRET_NAME
    doc.write_bytes(b"invoice 42: 1200 kg at 3.10 EUR")
    ctx = TraceContext.open(trace_session_settings, autostart=False)
    producer = dev_account("producer")
    batches.register_batch(ctx, account=producer, gtin=GTIN, lot=lot)
    batches.record_event(ctx, source="test", account=producer, gtin=GTIN, lot=lot, step="commissioning")
    batches.record_event(
        ctx,
        source="test",
        account=producer,
        gtin=GTIN,
        lot=lot,
        step="packing",
        doc=doc,
        private=True,
        recipients=[dev_account("processor").address],
    )
    return lot, "0x" + hashlib.sha256(doc.read_bytes()).hexdigest()


def _key(settings: Settings, organisation: str, account: str) -> dict[str, str]:
    token = apikeys.create_key(get_engine(settings), organisation=organisation, account=account)
    return {"Authorization": f"Bearer {token}"}


def _views(client: TestClient, lot: str, headers: dict[str, str]) -> dict[str, str]:
    return {
        "history": client.get(f"/batches/{GTIN}/{lot}/history", headers=headers).text,
        "events": client.get("/events", params={"gtin": GTIN, "lot": lot}, headers=headers).text,
        "resolver JSON": client.get(f"/01/{GTIN}/10/{lot}", headers={**headers, "Accept": "application/json"}).text,
        "resolver JSON-LD": client.get(
            f"/01/{GTIN}/10/{lot}", headers={**headers, "Accept": "application/ld+json"}
        ).text,
        "verify page": client.get(f"/01/{GTIN}/10/{lot}", headers=headers).text,
    }


def test_the_public_sees_private_document_only(
    client: TestClient, batch: tuple[str, str], trace_session_settings: Settings
) -> None:
    lot, digest = batch
    outsider = _key(trace_session_settings, "Outsider Co", "buyer")  # a valid key, but no party of the batch
    for headers in ({}, outsider, {"Authorization": "Bearer trk_invalid"}):
        for view, text in _views(client, lot, headers).items():
            assert SECRET_NAME not in text and digest[2:] not in text, view
    history = client.get(f"/batches/{GTIN}/{lot}/history").json()
    (packing,) = [e for e in history["timeline"] if e["biz_step"] == "packing"]
    (document,) = packing["documents"]
    assert document["private"] is True and document["name"] == "private document"
    assert document["verified"] is True  # what it proves is still shown


def test_a_party_of_the_batch_sees_the_document(
    client: TestClient, batch: tuple[str, str], trace_session_settings: Settings
) -> None:
    lot, digest = batch
    producer = _key(trace_session_settings, "Farm Co", "producer")
    views = _views(client, lot, producer)
    for view in ("history", "events", "resolver JSON", "resolver JSON-LD"):
        assert SECRET_NAME in views[view] and digest in views[view], view
    assert SECRET_NAME not in views["verify page"]  # the public page is the public's, whoever opens it


def test_a_party_downstream_does_not_see_upstream_private_documents(
    client: TestClient, batch: tuple[str, str], trace_session_settings: Settings
) -> None:
    """The scan page's journey shows the batches a product was made from; a private document of such a batch is
    for that batch's parties, not for whoever handled the product made from it."""
    lot, digest = batch
    child = "C" + uuid.uuid4().hex[:8].upper()
    ctx = TraceContext.open(trace_session_settings, autostart=False)
    producer, retailer = dev_account("producer"), dev_account("retailer")
    batches.derive_batch(ctx, account=producer, gtin="09506000134369", lot=child, parents=[(GTIN, lot)], source="test")
    batches.record_event(
        ctx, source="test", account=producer, gtin="09506000134369", lot=child, step="shipping", to="retailer"
    )
    batches.record_event(ctx, source="test", account=retailer, gtin="09506000134369", lot=child, step="receiving")
    shop = _key(trace_session_settings, "Shop Co", "retailer")  # a party of the child batch only
    body = client.get(f"/01/09506000134369/10/{child}", headers={**shop, "Accept": "application/json"})
    assert body.status_code == 200 and len(body.json()["journey"]["groups"]) == 2
    assert SECRET_NAME not in body.text and digest[2:] not in body.text
    # the parent's party still sees it through the child's page
    farm = _key(trace_session_settings, "Farm Co", "producer")
    assert (
        SECRET_NAME in client.get(f"/01/09506000134369/10/{child}", headers={**farm, "Accept": "application/json"}).text
    )
