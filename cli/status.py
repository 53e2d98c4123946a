"""Exit statuses, and the one place that maps exceptions to them."""

from __future__ import annotations

from enum import IntEnum

from trace_api import errors


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    CHAIN_UNAVAILABLE = 4
    CONTRACT_REVERT = 5
    VERIFICATION_FAILED = 6
    INTERRUPTED = 130


_BY_ERROR: list[tuple[type[BaseException], ExitStatus]] = [
    (errors.ConfigError, ExitStatus.CONFIG),
    (errors.ChainUnavailableError, ExitStatus.CHAIN_UNAVAILABLE),
    (errors.ContractRevert, ExitStatus.CONTRACT_REVERT),
    (errors.VerificationFailed, ExitStatus.VERIFICATION_FAILED),
    (KeyboardInterrupt, ExitStatus.INTERRUPTED),
]


def exit_status_for(exc: BaseException) -> ExitStatus:
    for cls, status in _BY_ERROR:
        if isinstance(exc, cls):
            return status
    return ExitStatus.ERROR
