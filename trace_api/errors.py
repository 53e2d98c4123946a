"""One exception hierarchy for the whole tool.

Every error the library raises derives from :class:`TraceError`. Subclasses also inherit the builtin that fits,
so callers may catch either. HTTP status codes and CLI exit codes are mapped from these classes in one place
each (``trace_api.http.problems`` and ``cli.status``); nothing here knows about either.
"""

from __future__ import annotations

from typing import Any


class TraceError(Exception):
    """Base class of every error raised by trace_api."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class ConfigError(TraceError, ValueError):
    """The configuration is missing or contradictory (settings, keystore, deployment record)."""


class ValidationError(TraceError, ValueError):
    """Input that breaks a rule: a bad GTIN, an EPCIS event without eventTime, a malformed CSV row."""


class NotFoundError(TraceError, LookupError):
    """A batch, trade, deployment or capture that does not exist."""


class ConflictError(TraceError):
    """The request is valid but clashes with existing state (duplicate batch, node already running)."""


class UnauthorizedError(TraceError, PermissionError):
    """Missing or invalid credentials (API key, keystore password)."""


class ForbiddenError(TraceError, PermissionError):
    """Valid credentials that do not allow this action."""


class PayloadTooLargeError(ValidationError):
    """A document or request body over the configured limit."""


class CompileError(TraceError):
    """Solidity did not compile. The message carries file:line of the first error."""


class ChainUnavailableError(TraceError, ConnectionError):
    """The JSON-RPC node cannot be reached."""


class NodeError(TraceError, RuntimeError):
    """The local anvil node could not be started or stopped."""


class ContractRevert(TraceError):
    """A transaction or call reverted. ``error`` is the decoded custom-error name, ``args`` its arguments."""

    def __init__(self, error: str, args: tuple[Any, ...] = (), message: str | None = None) -> None:
        shown = ", ".join(str(a) for a in args)
        super().__init__(message or (f"{error}({shown})" if error else "transaction reverted"))
        self.error = error
        self.args_ = args


class VerificationFailed(TraceError):
    """A product could not be verified: unknown batch, broken hash chain, bad proof or signature."""
