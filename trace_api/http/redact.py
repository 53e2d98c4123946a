"""Keep secrets out of the server's logs.

uvicorn's access log prints each request's path with its query string. A client may put a Digital Link signature
or a key there by mistake (``?sig=0x...``); their values are replaced before the line is written. Headers, where
API keys travel, are never logged.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
SECRET_PARAMS = ("sig", "signature", "key", "api_key", "apikey", "x-api-key", "token", "access_token",
                 "password", "private_key", "privatekey", "secret")
_SECRET = re.compile(r"(?i)([?&](?:" + "|".join(re.escape(p) for p in SECRET_PARAMS) + r")=)[^&#\s]*")
REDACTED = "[redacted]"


def redact_url(target: str) -> str:
    """``target`` with the values of secret-looking query parameters replaced."""
    return _SECRET.sub(lambda m: m.group(1) + REDACTED, target) if "?" in target else target


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
