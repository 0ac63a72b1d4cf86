"""Shared fixtures: one valid record of every kind, and a store on each backend.

Store tests run on SQLite always and on PostgreSQL when ``HUB_TEST_POSTGRES_URL`` is set
(``.ci/run`` starts a throw-away server and sets it). In CI a missing URL is an error,
not a skip, so the PostgreSQL half can never silently stop running.

The crypto suite of every keyring and hub a test makes is ``HUB_CRYPTO`` (``standard``
unless set): ``HUB_CRYPTO=gm make test`` runs the whole suite under the national suite,
``hub init`` and ``Keyring.generate()`` both reading it. The crypto-sensitive modules
(store sealing, rotation, audit tree and checkpoints, the at-rest scans) run under both
suites always, by overriding the ``crypto`` fixture with ``params=SUITES``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from contracts import Record
from hub.cli import app as cli
from hub.store import Keyring, Store, schema
from hub.store.suite import GM, STANDARD, default_suite
from tests.data import make_records

PG_URL = os.environ.get("HUB_TEST_POSTGRES_URL")


@pytest.fixture
def records() -> dict[str, Record]:
    return make_records()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server, dropped afterwards."""
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must set HUB_TEST_POSTGRES_URL (see .ci/run)")
        pytest.skip("PostgreSQL tests need HUB_TEST_POSTGRES_URL; .ci/run sets it")
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"hub_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'hub.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


SUITES = [STANDARD, GM]
"""The ``params`` of a ``crypto`` fixture that runs its module under each crypto suite."""


@pytest.fixture
def crypto() -> str:
    """The crypto suite of the ``store`` fixture: the run's (``HUB_CRYPTO``), unless a
    module overrides this fixture to run under every suite."""
    return default_suite().name


@pytest.fixture
def store(database_url: str, crypto: str) -> Iterator[Store]:
    store = Store.open(database_url, Keyring.generate(crypto))
    store.create_schema()
    try:
        yield store
    finally:
        schema.drop(store.engine)
        store.close()


EXAMPLE_POLICIES = Path(__file__).parents[1] / "policies" / "examples"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""The ``params`` of a fixture that runs its module on each backend."""


@contextmanager
def hub_home(backend: str, home: Path) -> Iterator[Path]:
    """A hub made in ``home`` by ``hub init`` on ``backend`` (SQLite in the home, PostgreSQL
    in a database of its own, dropped afterwards), the example policies in force."""
    with ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if backend == "postgresql" else None
        init = ["init", "--home", str(home)] + (["--database-url", url] if url else [])
        done = CliRunner().invoke(cli, init)
        assert done.exit_code == 0, done.output
        shutil.copytree(EXAMPLE_POLICIES, home / "policies")
        yield home
