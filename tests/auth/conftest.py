"""The hub's auth pieces per test, with a clock the test can move, an audit sink that
keeps what it is told, and one real uvicorn server for the session.

Registry and key tests run on each backend (``store``); endpoint and verifier tests on
SQLite (``hub``), plus one round trip on each backend (``any_hub``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.auth import ClientRegistry, HubAuthorizationServer, SigningKeys, TokenVerifier
from hub.reference.serve import serve_in_thread
from hub.store import Keyring, Store
from hub.store.tables import clients, metadata, signing_keys, used_assertions
from tests.auth.support import BEHIND_TLS_PROXY, SETTINGS, AppSwitch, Clock, Hub, make_app

AUTH_TABLES = [clients, used_assertions, signing_keys]


@contextmanager
def auth_store(url: str) -> Iterator[Store]:
    """A store with only the auth tables: the full schema costs 0.3 s a test on PostgreSQL."""
    store = Store.open(url, Keyring.generate())
    metadata.create_all(store.engine, tables=AUTH_TABLES)
    try:
        yield store
    finally:
        metadata.drop_all(store.engine, tables=AUTH_TABLES)
        store.close()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with auth_store(database_url) as store:
        yield store


@pytest.fixture(scope="session")
def switch() -> Iterator[tuple[AppSwitch, str]]:
    plug = AppSwitch()
    with serve_in_thread(plug) as server:
        yield plug, server.url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextmanager
def running_hub(store: Store, clock: Clock, switch: tuple[AppSwitch, str]) -> Iterator[Hub]:
    registry = ClientRegistry(store)
    keys = SigningKeys(store, SETTINGS.token_lifetime, SETTINGS.leeway, now=clock)
    events: list[dict[str, Any]] = []
    server = HubAuthorizationServer(
        SETTINGS, registry, keys, lambda event: events.append(event.model_dump()), now=clock
    )
    verifier = TokenVerifier(SETTINGS, keys, registry, now=clock)
    app = make_app(server)
    plug, url = switch
    plug.app = app
    try:
        with httpx.Client(base_url=url, headers=BEHIND_TLS_PROXY) as http:
            yield Hub(SETTINGS, clock, registry, keys, server, verifier, app, http, events)
    finally:
        plug.app = None


@pytest.fixture
def hub(tmp_path: Path, clock: Clock, switch: tuple[AppSwitch, str]) -> Iterator[Hub]:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    with auth_store(url) as store, running_hub(store, clock, switch) as hub:
        yield hub


@pytest.fixture
def any_hub(store: Store, clock: Clock, switch: tuple[AppSwitch, str]) -> Iterator[Hub]:
    with running_hub(store, clock, switch) as hub:
        yield hub
