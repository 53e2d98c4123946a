"""Log redaction of query strings, after percent-decoding (issue 16: ``?%73ig=...`` escaped redaction)."""

from __future__ import annotations

import logging

import pytest

from trace_api.http.redact import REDACTED, RedactQuery, redact_url

SIG = "0x" + "ab" * 65
KEY = "trk_SecretKeyValue123"


@pytest.mark.parametrize(
    "target",
    [
        f"/01/1/10/L?sig={SIG}",
        f"/01/1/10/L?%73ig={SIG}",  # "s" percent-encoded
        f"/01/1/10/L?%2573ig={SIG}",  # encoded twice
        f"/01/1/10/L?x=1&%53%49%47={SIG}",  # upper case, every letter encoded
        f"/x?api%5Fkey={KEY}",  # api_key with the underscore encoded
        f"/x?api-key={KEY}",
        f"/x?API_KEY={KEY}",
        f"/x?x-api-key={KEY}&y=2",
        f"/x?access+token={KEY}",  # '+' is a space in a query
        f"/x?signature%3D{SIG}",  # the '=' encoded: the whole parameter is a name
        f"/x?token={KEY}#frag",
        f"/x?a=1;sig={SIG}",  # ';' separates parameters for some parsers
        f"/x?harmless={SIG}",  # a value that looks like a signature or key, whatever its name
        f"/x?p=%30x{'ab' * 65}",  # that value percent-encoded
    ],
)
def test_secret_values_are_redacted(target: str) -> None:
    line = redact_url(target)
    assert SIG not in line and KEY not in line and "ab" * 65 not in line, line
    assert REDACTED in line


def test_other_parameters_are_kept() -> None:
    assert (
        redact_url("/events?gtin=09506000134352&lot=L%201&limit=5") == "/events?gtin=09506000134352&lot=L%201&limit=5"
    )
    assert redact_url("/health") == "/health"
    assert redact_url(f"/x?lot=A&sig={SIG}") == f"/x?lot=A&sig={REDACTED}"


def test_the_filter_rewrites_uvicorn_access_records() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", f"/x?%73ig={SIG}", "1.1", 200),
        None,
    )
    assert RedactQuery().filter(record)
    assert SIG not in record.getMessage()
