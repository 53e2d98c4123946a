"""The private-document store under trade files (no chain): one stored copy per content, whoever attaches it again
(the other party, another trade, a public event), every recipient keeps access; statements' invoice columns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from trace_api.config import Settings
from trace_api.errors import ForbiddenError
from trace_api.index.store import get_engine
from trace_api.services import documents
from trace_api.services.escrow import statements
from trace_api.services.escrow.results import InvoiceTerms


@dataclass
class Ctx:
    settings: Settings
    engine: Engine


@pytest.fixture
def ctx(tmp_path: Path) -> Ctx:
    settings = Settings(home=tmp_path / "home")
    return Ctx(settings, get_engine(settings))


def _attach(ctx: Ctx, data: bytes, *, private: bool, recipients: list[str], owner: str) -> str:
    prepared = documents.prepare_bytes(data, name="photo.jpg", private=private, recipients=recipients)
    documents.commit(ctx, prepared, owner=owner)
    return str(prepared.info["sha256"])


def test_the_same_private_file_twice_keeps_every_recipient(ctx: Ctx) -> None:
    digest = _attach(ctx, b"mouldy sack", private=True, recipients=["0xbuyer", "0xarbiter"], owner="0xbuyer")
    _attach(ctx, b"mouldy sack", private=True, recipients=["0xseller", "0xarbiter"], owner="0xseller")
    for reader in ("0xbuyer", "0xseller", "0xarbiter"):
        assert documents.read(ctx, digest, reader=reader) == ("image/jpeg", b"mouldy sack")
    with pytest.raises(ForbiddenError):
        documents.read(ctx, digest, reader="0xoutsider")
    assert documents.verify(ctx, digest, actor="0xseller").verified is True


def test_a_public_document_attached_again_privately_stays_readable(ctx: Ctx) -> None:
    digest = _attach(ctx, b"certificate", private=False, recipients=[], owner="0xproducer")
    _attach(ctx, b"certificate", private=True, recipients=["0xbuyer"], owner="0xbuyer")
    assert documents.read(ctx, digest, reader=None) == ("image/jpeg", b"certificate")
    assert documents.verify(ctx, digest, actor="0xproducer").intact is True


def test_a_discarded_document_is_gone(ctx: Ctx) -> None:
    digest = _attach(ctx, b"never sent", private=True, recipients=["0xbuyer"], owner="0xbuyer")
    documents.discard(ctx, digest)
    assert documents.content(ctx, digest) is None and not documents.stored(ctx, digest)
    assert not list((ctx.settings.home / "documents").glob(digest[2:] + "*"))


@pytest.mark.parametrize(
    ("units", "invoice", "expected"),
    [
        (
            1_080_000_000,
            {"currency": "EUR", "rate_units": "108000000", "rate_decimals": 8, "amount": "1000"},
            ("EUR", "1000.00", "1.08"),
        ),
        (1_000_000, {"currency": "CNY", "rate_units": "13800000", "rate_decimals": 8}, ("CNY", "7.25", "0.138")),
        (1_000_000, None, ("", "", "")),
        (1_000_000, {"currency": "EUR", "rate_units": "0", "rate_decimals": 8}, ("", "", "")),
    ],
)
def test_invoice_amounts_at_the_recorded_rate(
    units: int, invoice: dict[str, object] | None, expected: tuple[str, str, str]
) -> None:
    terms = None
    if invoice is not None:
        given = {
            "amount": "1",
            "amount_minor_units": "100",
            "rate": "1",
            "round_id": "1",
            "round_time": None,
            **invoice,
        }
        terms = InvoiceTerms.model_validate(given)
    assert statements._invoice_amount(units, 6, terms) == expected
