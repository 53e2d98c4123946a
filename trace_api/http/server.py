"""How ``trace serve`` runs the app under uvicorn: no proxy headers of its own, and timeouts for every phase.

- uvicorn reads ``X-Forwarded-For`` from 127.0.0.1 by default and rewrites the client address with it, which let
  any local client forge its address (and so its rate-limit bucket). It is turned off here; the app reads the
  header itself, only when ``TRACE_TRUST_PROXY`` is set (``deps.client_host``).
- uvicorn drops an idle keep-alive connection, but not one that sends a request head slowly or not at all:
  :class:`HeadTimeoutProtocol` closes a connection whose request head has not arrived within
  ``TRACE_HEADER_TIMEOUT`` seconds. A body that stalls is the request guard's (408 after ``TRACE_BODY_TIMEOUT``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from trace_api.config import Settings

MAX_HEAD_BYTES = 16 * 1024  # request line and headers; h11 refuses a larger head with 400


class HeadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose next request head does not arrive in time."""

    head_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._waiting_since: Any = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._waiting_since = self.cycle  # a new cycle means a complete request head arrived
        self._head_timer = self.loop.call_later(self.head_timeout, self._expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expired(self) -> None:
        self._head_timer = None
        if self.cycle is self._waiting_since and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_timer is not None and self.cycle is not self._waiting_since:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle is None or self.cycle.response_complete:  # not already on a pipelined request
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def protocol_for(settings: Settings) -> type[HeadTimeoutProtocol]:
    return type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"head_timeout": settings.header_timeout})


def uvicorn_config(app: Any, settings: Settings, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_for(settings),
        proxy_headers=False,
        forwarded_allow_ips="",  # the app decides (TRACE_TRUST_PROXY), see deps.client_host
        server_header=False,
        timeout_keep_alive=settings.keep_alive_timeout,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        **{"log_level": "info", **options},
    )


def serve(settings: Settings, *, host: str, port: int, **options: Any) -> None:
    """Serve the app for ``settings`` until interrupted: what `trace serve` and `trace demo` run."""
    from trace_api.http.app import create_app

    uvicorn.Server(uvicorn_config(create_app(settings), settings, host=host, port=port, **options)).run()
