"""Throttles in front of the token endpoint, decided before any password hash is computed.

A wrong client secret costs the hub one scrypt (~90 ms of CPU) and costs the caller
nothing, so the endpoint refuses early, with ``429`` and ``Retry-After``:

- per peer address, a token bucket of token requests (``peer_rate`` a second, ``peer_burst``
  at once), whatever the client id;
- per client id, failed authentications beyond ``free_failures`` open a backoff that
  doubles with each further failure up to ``max_backoff``. A peer that has authenticated
  as that client before (within ``trust_for``) is not held back by it, so guessing
  against a partner's id from elsewhere does not lock the partner out.

The client id is the one the request *claims*, known or not: an unknown id is throttled
exactly like a known one, so the answers do not tell which ids exist.

Whatever passes runs on ``HashGate``'s own few threads, never on the pool the data routes
share, and requests beyond ``max_waiting`` queued there are refused as well.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class TokenLimits:
    peer_rate: float = 5.0
    """Token requests a second each peer address may make, on average."""
    peer_burst: int = 20
    free_failures: int = 5
    """Failed authentications of one client id that open no backoff; the next waits."""
    backoff: float = 1.0
    """Seconds of the first backoff; each further failure doubles it."""
    max_backoff: float = 300.0
    forget_after: float = 900.0
    """Seconds after its last failure that a client id's failures are forgotten."""
    trust_for: float = 86_400.0
    hash_workers: int = max(1, (os.cpu_count() or 2) // 2)
    max_waiting: int = 16
    """Token requests waiting for (or on) the hash workers beyond which more are refused."""
    max_tracked: int = 10_000
    """Peers, client ids and trusted pairs remembered; the oldest are dropped beyond."""


class RateLimiter:
    """A token bucket per key (a client id, a peer address), in this process; at most
    ``max_keys`` buckets are kept, the least recently used dropped first (a dropped key
    starts again with a full bucket)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if the request may go ahead, else the seconds to wait before asking again."""
        with self._lock:
            now = self._clock()
            tokens, since = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - since) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return wait


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


@dataclass(slots=True)
class _Failures:
    count: int
    last: float
    until: float


class TokenThrottle:
    """Who may ask for a token now; see the module's docstring. Thread-safe."""

    def __init__(self, limits: TokenLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._peers = RateLimiter(limits.peer_rate, limits.peer_burst, clock, limits.max_tracked)
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self._trusted: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, peer: str | None, client_id: str | None) -> float:
        """0 if the request may be authenticated, else the seconds to wait."""
        if client_id is not None:
            with self._lock:
                wait = self._backoff(peer, client_id, self._clock())
            if wait > 0:
                return wait
        return self._peers.take(peer or "?")

    def failed(self, peer: str | None, client_id: str | None) -> None:
        if client_id is None:
            return
        limits = self.limits
        with self._lock:
            now = self._clock()
            seen = self._failures.pop(client_id, None)
            if seen is None or now - seen.last > limits.forget_after:
                seen = _Failures(0, now, now)
            seen.count += 1
            seen.last = now
            beyond = seen.count - limits.free_failures
            if beyond >= 0:
                seen.until = now + min(limits.max_backoff, limits.backoff * 2**beyond)
            self._failures[client_id] = seen
            _bound(self._failures, limits.max_tracked)

    def succeeded(self, peer: str | None, client_id: str) -> None:
        if peer is None:
            return
        with self._lock:
            self._trusted.pop((client_id, peer), None)
            self._trusted[client_id, peer] = self._clock() + self.limits.trust_for
            _bound(self._trusted, self.limits.max_tracked)

    def _backoff(self, peer: str | None, client_id: str, now: float) -> float:
        seen = self._failures.get(client_id)
        if seen is None or now >= seen.until:
            return 0.0
        if peer is not None and self._trusted.get((client_id, peer), 0.0) > now:
            return 0.0
        return seen.until - now


def _bound(entries: OrderedDict[K, V], most: int) -> None:
    while len(entries) > most:
        entries.popitem(last=False)


class HashGate:
    """A few threads of its own for the token endpoint's work (the scrypt above all), and
    a cap on how many requests may wait for them. Used from the event loop only."""

    def __init__(self, workers: int, max_waiting: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hub-token")
        self._max_waiting = max_waiting
        self._waiting = 0

    async def run(self, work: Callable[[], T]) -> T | None:
        """``work()``'s result, or None at once when too many requests are waiting."""
        if self._waiting >= self._max_waiting:
            return None
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work)
        finally:
            self._waiting -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
