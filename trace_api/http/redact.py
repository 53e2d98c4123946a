"""Keep secrets out of the server's logs.

uvicorn's access log prints each request's path with its query string. A client may put a Digital Link signature
or a key there by mistake (``?sig=0x...``); their values are replaced before the line is written. Parameter names
are compared after percent-decoding (``%73ig`` is ``sig``, however often it was encoded), ignoring case and
punctuation (``API-Key``, ``api_key``), and a value that looks like a key or a signature (``0x`` and 64 or more hex
digits) is redacted whatever its name. Headers, where API keys travel, are never logged.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

ACCESS_LOGGER = "uvicorn.access"
SECRET_PARAMS = (
    "sig",
    "signature",
    "key",
    "api_key",
    "apikey",
    "x-api-key",
    "token",
    "access_token",
    "password",
    "private_key",
    "privatekey",
    "secret",
)
_SECRET_NAMES = frozenset(re.sub(r"[^a-z0-9]", "", p) for p in SECRET_PARAMS)
_LOOKS_SECRET = re.compile(r"(?i)0x[0-9a-f]{64,}|trk_[A-Za-z0-9_-]{8,}")
_SEPARATOR = re.compile(r"([&;])")
REDACTED = "[redacted]"
MAX_DECODES = 5


def _decoded(text: str) -> str:
    """``text`` percent-decoded until it no longer changes (a client may encode twice)."""
    for _ in range(MAX_DECODES):
        decoded = unquote_plus(text)
        if decoded == text:
            break
        text = decoded
    return text


def _redact_param(part: str) -> str:
    name, eq, _ = part.partition("=")
    decoded = _decoded(part)
    decoded_name = decoded.partition("=")[0]
    secret = (
        re.sub(r"[^a-z0-9]", "", decoded_name.lower()) in _SECRET_NAMES or _LOOKS_SECRET.search(decoded) is not None
    )
    if not secret:
        return part
    return f"{name}={REDACTED}" if eq and "=" not in _decoded(name) else REDACTED


def redact_url(target: str) -> str:
    """``target`` with the values of secret-looking query parameters replaced."""
    path, question, rest = target.partition("?")
    if not question:
        return target
    query, hash_, fragment = rest.partition("#")
    parts = _SEPARATOR.split(query)
    redacted = "".join(p if _SEPARATOR.fullmatch(p) else _redact_param(p) for p in parts)
    tail = hash_ + (REDACTED if fragment and _redact_param(fragment) != fragment else fragment)
    return f"{path}?{redacted}{tail}"


class RedactQuery(logging.Filter):
    """Redacts secret query values in uvicorn access records (args: client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_url(args[2]), *args[3:])
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger, once (it stays when uvicorn configures its loggers)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactQuery) for f in logger.filters):
        logger.addFilter(RedactQuery())
