"""The token endpoint refuses floods of guesses before it computes a hash, and answers an
unknown client id as it answers a wrong secret."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from hub.auth import TokenLimits, create_auth_router
from hub.auth.throttle import TokenThrottle
from tests.auth.support import Clock, Hub, make_app

STRICT = TokenLimits(peer_rate=1000, peer_burst=1000, free_failures=2, backoff=30)


@pytest.fixture
def strict(hub: Hub, switch: Any) -> Hub:
    """The same hub, its token endpoint behind ``STRICT``."""
    plug, _ = switch
    app = make_app(hub.server)
    app.router.routes.clear()
    app.include_router(create_auth_router(hub.server, STRICT))
    plug.app = app
    return hub


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the scrypt computations (the real ones still run)."""
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


def _guess(hub: Hub, client_id: str, secret: str = "wrong") -> Any:  # noqa: S107
    return hub.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


def test_guesses_beyond_the_free_ones_are_refused_before_the_hash(
    strict: Hub, hashes: list[int]
) -> None:
    cid = strict.registry.add("网格", "grid-platform", ["person.read"]).client.client_id
    hashes.clear()
    answers = [_guess(strict, cid) for _ in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 429, 429, 429]
    assert len(hashes) == 2
    throttled = answers[-1]
    assert int(throttled.headers["retry-after"]) >= 1
    assert throttled.json() == {
        "error": "invalid_request",
        "error_description": "too many requests",
    }
    refused = [e for e in strict.refused() if e["detail"]["reason"] == "throttled"]
    assert len(refused) == 3
    assert all(e["client_id"] == cid for e in refused)
    assert "wrong" not in str(strict.events)


def test_an_unknown_client_costs_a_hash_and_reads_like_a_wrong_secret(
    strict: Hub, hashes: list[int]
) -> None:
    cid = strict.registry.add("网格", "grid-platform", ["person.read"]).client.client_id
    hashes.clear()
    known = _guess(strict, cid)
    unknown = _guess(strict, "cl_0000000000000000")
    assert len(hashes) == 2
    assert known.status_code == unknown.status_code == 401
    assert known.json() == unknown.json()
    reasons = [e["detail"]["reason"] for e in strict.refused()]
    assert reasons == ["bad_credentials", "unknown_client"]


def test_backoff_doubles_and_a_peer_that_authenticated_before_is_not_locked_out() -> None:
    clock = Clock()
    limits = TokenLimits(peer_rate=1000, peer_burst=1000, free_failures=1, backoff=2)
    throttle = TokenThrottle(limits, clock=clock)
    throttle.succeeded("10.0.0.1", "cl_a")
    assert throttle.admit("10.9.9.9", "cl_a") == 0
    throttle.failed("10.9.9.9", "cl_a")
    assert throttle.admit("10.9.9.9", "cl_a") == pytest.approx(2)
    assert throttle.admit("10.0.0.1", "cl_a") == 0
    assert throttle.admit("10.9.9.9", "cl_other") == 0
    clock.advance(2)
    throttle.failed("10.9.9.9", "cl_a")
    assert throttle.admit("10.9.9.9", "cl_a") == pytest.approx(4)


def test_a_peer_is_limited_whatever_client_it_names() -> None:
    clock = Clock()
    throttle = TokenThrottle(TokenLimits(peer_rate=1, peer_burst=2), clock=clock)
    assert [throttle.admit("10.0.0.7", f"cl_{n}") for n in range(2)] == [0, 0]
    assert throttle.admit("10.0.0.7", "cl_9") == pytest.approx(1)
    assert throttle.admit("10.0.0.8", "cl_9") == 0
