"""What an event may say about the document it cites: type, issuer, validity; checked before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from trace_api.domain import EXT, batch_key
from trace_api.errors import ValidationError
from trace_api.services.batches import _document_details, build_event


def test_details_of_a_public_document() -> None:
    details = _document_details(
        {"type": " Organic certificate ", "valid_from": "2026-01-01", "valid_until": "2027-11-30"},
        doc=Path("cert.pdf"),
        private=False,
    )
    assert details == {"type": "Organic certificate", "valid_from": "2026-01-01", "valid_until": "2027-11-30"}
    event = build_event(
        key=batch_key("09506000134352", "L1"),
        step="inspecting",
        docs=[{"sha256": "0x" + "ab" * 32, "name": "cert.pdf", "private": False, **details}],
    )
    cited = event[f"{EXT}documents"]
    assert cited[0]["type"] == "Organic certificate" and cited[0]["valid_until"] == "2027-11-30"
    assert _document_details({}, doc=None, private=False) == {}


@pytest.mark.parametrize(
    ("details", "private", "doc", "message"),
    [
        ({"colour": "green"}, False, Path("c.pdf"), "unknown document detail colour"),
        ({"type": "x"}, False, None, "need a document"),
        ({"type": "x"}, True, Path("c.pdf"), "private document"),
        ({"valid_until": "30/11/2027"}, False, Path("c.pdf"), "is not a date"),
        ({"valid_from": "2028-01-01", "valid_until": "2027-11-30"}, False, Path("c.pdf"), "is after"),
        ({"issuer": "x" * 401}, False, Path("c.pdf"), "400 characters"),
    ],
)
def test_bad_details_are_refused(details: dict[str, str], private: bool, doc: Path | None, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _document_details(details, doc=doc, private=private)
