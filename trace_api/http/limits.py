"""Per-client rate limits (429 with Retry-After) for the public read routes, keyed per client network.

Body size, body time and the API key check before the body are the request guard's (``guard.py``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from ipaddress import IPv6Address, ip_address, ip_network

from trace_api.config import Settings
from trace_api.http.problems import RateLimitedError

IPV6_PREFIX = 64  # one IPv6 subscriber usually holds a whole /64: per address, it could mint endless buckets


class TokenBuckets:
    """One token bucket per client key, in memory: ``burst`` tokens, refilled at ``per_minute`` a minute.

    The least recently seen clients are forgotten beyond ``max_clients``, which bounds the memory a flood of
    distinct addresses can take (a forgotten client starts again with a full bucket).
    """

    def __init__(
        self, *, per_minute: int, burst: int = 0, max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst or per_minute)
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        """Spend one token of ``key``: 0.0 when allowed, else the seconds until a token is available."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
            if not wait:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait

    def check(self, key: str) -> None:
        wait = self.take(key)
        if wait:
            raise RateLimitedError(max(1, math.ceil(wait)))


def read_buckets(settings: Settings) -> TokenBuckets:
    return TokenBuckets(per_minute=settings.resolver_rate_per_minute, burst=settings.resolver_rate_burst)


def client_network(host: str | None) -> str:
    """The rate-limit key of a client address: an IPv4 address as is, an IPv6 address as its /64."""
    if not host:
        return "unknown"
    try:
        address = ip_address(host.strip("[]"))
    except ValueError:
        return host  # not an address (a test client's name): itself
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)
