"""The police database connector on SQLite and PostgreSQL: the connector harness, then the
edges a keyset read must get right (ties across batches, NULL cursors, typed states)."""

from __future__ import annotations

import datetime as dt
import json
import random
import socket
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from stdnum.cn import ric

from connectors.police_db import PoliceDbSource
from connectors.sdk import Batch, ConfigurationError, Source, State, Stream, TransientError
from connectors.testing import SourceTests

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
MINORITIES = ["回族", "满族", "蒙古族"]
T0 = dt.datetime(2026, 3, 1, 8, 0)

MAPPING: dict[str, Any] = {
    "fields": {
        "id_number": {"from": "SFZH"},
        "name": {"from": "XM"},
        "sex": {"from": "XB", "table": "sex"},
        "birth_date": {"from": "CSRQ", "date_format": "%Y%m%d"},
        "ethnicity": {"from": "MZ", "table": "ethnicity"},
        "phone": {"from": "LXDH"},
        "household_type": {"from": "HJLX"},
        "address_code": {"from": "DZBM"},
        "grid_code": {"from": "WGBM"},
        "beat_code": {"from": "JWQBM"},
    }
}
REGISTERED, MIGRANTS = 300, 200
BAD_PHONES = {7, 120, 255}
"""Rows of the registered table with a broken phone number: the contract refuses them."""


def id_number(birth: dt.date, sequence: int, male: bool) -> str:
    """A valid GB 11643 number of 秦淮区 (odd sequence digit: male)."""
    body = f"320104{birth:%Y%m%d}{sequence % 100:02d}{(1 if male else 0) + 2 * (sequence % 5)}"
    return body + ric.calc_check_digit(body + "0")


def person_rows(
    start: int, count: int, household: str, updated: Callable[[int], Any]
) -> list[dict[str, Any]]:
    rng = random.Random(start)  # noqa: S311 (test data)
    rows = []
    for n in range(start, start + count):
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=13 * n)
        male = rng.random() < 0.5
        rows.append(
            {
                "SFZH": id_number(birth, n, male),
                "XM": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN]),
                "XB": "男" if male else "女",
                "CSRQ": f"{birth:%Y%m%d}",
                "MZ": rng.choice(MINORITIES) if n % 17 == 0 else "汉族",
                "LXDH": "12345" if n in BAD_PHONES else f"139{rng.randrange(10**8):08d}",
                "HJLX": household,
                "DZBM": f"320104001{n % 40:03d}{n % 7:03d}",
                "WGBM": f"G32010400{n % 4}",
                "JWQBM": f"B3201040{n % 2 + 1}",
                "GXSJ": updated(n),
            }
        )
    return rows


def person_table(metadata: sa.MetaData, name: str, updated: Any, schema: str | None) -> sa.Table:
    text = [sa.Column(c, sa.String(64)) for c in ("XM", "XB", "CSRQ", "MZ", "LXDH", "HJLX")]
    codes = [sa.Column(c, sa.String(64)) for c in ("DZBM", "WGBM", "JWQBM")]
    return sa.Table(
        name,
        metadata,
        sa.Column("SFZH", sa.String(18), primary_key=True),
        *text,
        *codes,
        sa.Column("GXSJ", updated, index=True),
        schema=schema,
    )


def fill_police_db(url: str, schema: str | None = None) -> None:
    """Registered residents (GXSJ a timestamp) and migrants (GXSJ police-style text), each
    in groups of 25 rows updated at the same moment, as a nightly import leaves them."""
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    registered = person_table(metadata, "RK_CZRK", sa.DateTime(), schema)
    migrants = person_table(metadata, "RK_LDRK", sa.String(14), schema)
    with engine.begin() as conn:
        if schema is not None:
            conn.execute(sa.schema.CreateSchema(schema))
        metadata.create_all(conn)
        conn.execute(registered.insert(), person_rows(0, REGISTERED, "户籍", updated_at))
        conn.execute(migrants.insert(), person_rows(1000, MIGRANTS, "流动", updated_at_text))
    engine.dispose()


def updated_at(n: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=n // 25)


def updated_at_text(n: int) -> str:
    return f"{updated_at(n):%Y%m%d%H%M%S}"


COLUMNS = '"SFZH", "XM", "XB", "CSRQ", "MZ", "LXDH", "HJLX", "DZBM", "WGBM", "JWQBM", "GXSJ"'


def police_config(url: str, prefix: str = "") -> dict[str, Any]:
    def stream(name: str, **where: str) -> dict[str, Any]:
        return {"name": name, "kind": "person", "primary_key": "SFZH", "mapping": MAPPING, **where}

    women = f"""SELECT {COLUMNS} FROM {prefix}"RK_CZRK" WHERE "XB" = '女';"""  # noqa: S608
    return {
        "url": url,
        "streams": [
            stream("registered", table=f"{prefix}RK_CZRK", cursor_field="GXSJ"),
            stream("migrants", table=f"{prefix}RK_LDRK", cursor_field="GXSJ"),
            stream("registered_women", query=women, cursor_field="GXSJ"),
            stream("migrants_by_key", table=f"{prefix}RK_LDRK"),
        ],
    }


def count_rows(url: str, prefix: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        women = conn.execute(
            sa.text(f"""SELECT count(*) FROM {prefix}"RK_CZRK" WHERE "XB" = '女'""")  # noqa: S608
        )
        count = int(women.scalar_one())
    engine.dispose()
    return {
        "registered": REGISTERED,
        "migrants": MIGRANTS,
        "registered_women": count,
        "migrants_by_key": MIGRANTS,
    }


@pytest.fixture(scope="module")
def sqlite_police(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('police') / 'police.db'}"
    fill_police_db(url)
    return url


@pytest.fixture(scope="module")
def postgres_police(postgres_url: str) -> Iterator[str]:
    fill_police_db(postgres_url, schema="police")
    yield postgres_url
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.schema.DropSchema("police", cascade=True))
    engine.dispose()


class TestOnSqlite(SourceTests):
    batch_size = 120

    @pytest.fixture
    def source(self, sqlite_police: str) -> Iterator[Source]:
        source = PoliceDbSource("police_db", police_config(sqlite_police))
        yield source
        source.close()

    @pytest.fixture
    def expected_counts(self, sqlite_police: str) -> dict[str, int]:
        return count_rows(sqlite_police, "")


@pytest.mark.postgres
class TestOnPostgres(SourceTests):
    batch_size = 120

    @pytest.fixture
    def source(self, postgres_police: str) -> Iterator[Source]:
        source = PoliceDbSource("police_db", police_config(postgres_police, "police."))
        yield source
        source.close()

    @pytest.fixture
    def expected_counts(self, postgres_police: str) -> dict[str, int]:
        return count_rows(postgres_police, "police.")


def test_the_harness_reports_rows_that_fail_the_contract(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'police.db'}"
    fill_police_db(url)
    source = PoliceDbSource("police_db", police_config(url))
    try:

        class Strict(SourceTests):
            min_valid_share = 1.0

        harness = Strict()
        with pytest.raises(AssertionError, match=r"3 of 300 rows fail the person contract") as exc:
            harness.test_mapped_rows_fit_the_contract(source)
        assert "phone:phone_format" in str(exc.value)
    finally:
        source.close()


# Edge cases, on every backend (``database_url`` is SQLite, and PostgreSQL when available).


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_table(engine: sa.Engine) -> Iterator[Callable[..., str]]:
    """Create a table with a unique name (the PostgreSQL database is shared) and fill it."""
    metadata = sa.MetaData()

    def make(cursor_type: Any, rows: list[tuple[str, Any]]) -> str:
        table = sa.Table(
            f"t_{uuid.uuid4().hex[:8]}",
            metadata,
            sa.Column("ID", sa.String(16), primary_key=True),
            sa.Column("GXSJ", cursor_type, nullable=True),
            sa.Column("XM", sa.String(16)),
        )
        metadata.create_all(engine, tables=[table])
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"ID": k, "GXSJ": c, "XM": "张伟"} for k, c in rows])
        return table.name

    yield make
    metadata.drop_all(engine)


def one_stream(url: str, cursor_field: str | None = "GXSJ", **where: Any) -> dict[str, Any]:
    stream = {"name": "people", "kind": "person", "primary_key": "ID", "cursor_field": cursor_field}
    return {"url": url, "streams": [{**stream, **where}], "retry": {"attempts": 2, "initial": 0.01}}


def first_batch(source: Source, stream: Stream, state: State | None, size: int) -> Batch | None:
    """One batch of a read that is then abandoned, as a killed sync leaves it."""
    batches = cast(Generator[Batch, None, None], source.read(stream, state, size))
    try:
        return next(batches, None)
    finally:
        batches.close()


def read_one_batch_at_a_time(source: Source, size: int) -> list[Any]:
    stream = source.streams()[0]
    keys: list[Any] = []
    state: State | None = None
    while (batch := first_batch(source, stream, state, size)) is not None:
        keys += [row["ID"] for row in batch.rows]
        state = json.loads(json.dumps(batch.state))
    return keys


CURSOR_VALUES: dict[str, tuple[Any, list[Any]]] = {
    "datetime": (sa.DateTime(), [T0 + dt.timedelta(minutes=m) for m in (0, 1, 2)]),
    "date": (sa.Date(), [dt.date(2026, 3, d) for d in (1, 2, 3)]),
    "decimal": (sa.Numeric(12, 2), [Decimal("1.10"), Decimal("2.25"), Decimal("10.00")]),
    "integer": (sa.Integer(), [1, 2, 10]),
    "text": (sa.String(14), ["20260301080000", "20260301080001", "20260302000000"]),
}


@pytest.mark.parametrize("cursor", sorted(CURSOR_VALUES))
def test_rows_sharing_a_cursor_value_are_read_once_across_resumed_reads(
    database_url: str, make_table: Callable[..., str], cursor: str
) -> None:
    kind, (low, tied, high) = CURSOR_VALUES[cursor]
    rows = [(f"K{n:03d}", None) for n in range(9)]  # never updated: NULL cursor
    rows += [(f"K{n:03d}", low) for n in range(100, 105)]
    rows += [(f"K{n:03d}", tied) for n in range(200, 260)]  # 60 rows at one moment
    rows += [(f"K{n:03d}", high) for n in range(300, 307)]
    random.Random(4).shuffle(rows)  # noqa: S311 (test data)
    table = make_table(kind, rows)
    source = PoliceDbSource("police_db", one_stream(database_url, table=table))
    try:
        expected = sorted(k for k, _ in rows)
        assert sorted(keys := read_one_batch_at_a_time(source, 7)) == expected
        assert len(keys) == len(set(keys))
        batches = list(source.read(source.streams()[0], None, 7))
        assert [len(b.rows) for b in batches] == [7] * 11 + [4]
        assert sorted(row["ID"] for b in batches for row in b.rows) == expected
        assert batches[5].rows[-1]["GXSJ"] == tied  # a batch boundary inside the tie
        cursor_state = tied  # a JSON value as is, other types tagged to decode back
        if cursor in ("datetime", "date", "decimal"):
            cursor_state = {"type": cursor, "value": str(tied).replace(" ", "T")}
        assert batches[5].state == {"key": "K227", "cursor": cursor_state}
    finally:
        source.close()


def test_rows_changed_after_a_sync_are_read_by_the_next(
    database_url: str, make_table: Callable[..., str], engine: sa.Engine
) -> None:
    table = make_table(sa.DateTime(), [(f"K{n}", T0) for n in range(5)])
    source = PoliceDbSource("police_db", one_stream(database_url, table=table))
    stream = source.streams()[0]
    try:
        state = json.loads(json.dumps(list(source.read(stream, None, 10))[-1].state))
        later = T0 + dt.timedelta(days=1)
        with engine.begin() as conn:
            t = sa.table(table, sa.column("ID"), sa.column("GXSJ"), sa.column("XM"))
            conn.execute(t.update().where(t.c.ID == "K2").values(GXSJ=later))
            conn.execute(t.insert().values(ID="K1a", GXSJ=later, XM="新人"))
        rows = [row["ID"] for batch in source.read(stream, state, 10) for row in batch.rows]
        assert rows == ["K1a", "K2"]
    finally:
        source.close()


def test_a_query_stream_reads_the_query_only(
    database_url: str, make_table: Callable[..., str]
) -> None:
    table = make_table(sa.Integer(), [(f"K{n:02d}", n % 4) for n in range(20)])
    query = f'SELECT "ID", "GXSJ", "XM" AS name FROM "{table}" WHERE "GXSJ" >= 2'  # noqa: S608
    source = PoliceDbSource("police_db", one_stream(database_url, query=query))
    try:
        batches = list(source.read(source.streams()[0], None, 3))
        rows = [row for batch in batches for row in batch.rows]
        assert len(rows) == 10
        assert set(rows[0]) == {"ID", "GXSJ", "name"}
        assert [row["GXSJ"] for row in rows] == [2] * 5 + [3] * 5
        rest = list(source.read(source.streams()[0], batches[1].state, 3))
        assert [row["ID"] for b in rest for row in b.rows] == [row["ID"] for row in rows[6:]]
    finally:
        source.close()


@pytest.mark.parametrize(
    "where",
    [
        {"table": "NO_SUCH_TABLE"},
        {"table": "{table}", "primary_key": "NO_SUCH_COLUMN"},
        {"table": "{table}", "cursor_field": "NO_SUCH_COLUMN"},
        {"query": 'SELECT * FROM "NO_SUCH_TABLE"'},
        {"query": 'SELECT "NO_SUCH_COLUMN" FROM "{table}"'},
    ],
    ids=["table", "primary-key", "cursor", "query-table", "query-column"],
)
def test_what_the_database_does_not_have_is_a_configuration_error(
    database_url: str, make_table: Callable[..., str], where: dict[str, str]
) -> None:
    table = make_table(sa.Integer(), [("K1", 1)])
    where = {name: value.replace("{table}", table) for name, value in where.items()}
    source = PoliceDbSource("police_db", one_stream(database_url, **where))
    try:
        with pytest.raises(ConfigurationError, match="NO_SUCH_") as exc:
            list(source.read(source.streams()[0], None, 10))
        assert exc.value.source == "police_db"
        assert exc.value.stream == "people"
    finally:
        source.close()


def test_a_state_from_elsewhere_is_a_configuration_error(tmp_path: Path) -> None:
    source = PoliceDbSource("police_db", one_stream(f"sqlite:///{tmp_path / 'x.db'}", table="t"))
    stream = source.streams()[0]
    for state in ({"position": 3}, {"key": "K1", "cursor": {"type": "date", "value": "x"}}):
        with pytest.raises(ConfigurationError, match="state"):
            list(source.read(stream, state, 10))
    source.close()


GOOD_STREAM = {"name": "people", "kind": "person", "table": "RK", "primary_key": "SFZH"}


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"url": "sqlite://"},
        {"url": "sqlite://", "streams": []},
        {"url": "sqlite://", "streams": [GOOD_STREAM], "extra": 1},
        {"url": "sqlite://", "streams": [GOOD_STREAM, GOOD_STREAM]},
        {"url": "sqlite://", "streams": [{**GOOD_STREAM, "kind": "alien"}]},
        {"url": "sqlite://", "streams": [{**GOOD_STREAM, "query": "SELECT 1"}]},
        {"url": "sqlite://", "streams": [{k: v for k, v in GOOD_STREAM.items() if k != "table"}]},
        {
            "url": "sqlite://",
            "streams": [{**GOOD_STREAM, "mapping": {"fields": {"shoe_size": {"from": "X"}}}}],
        },
        {"url": "sqlite://", "streams": [{**GOOD_STREAM, "mapping": {"fields": {"name": {}}}}]},
        {"url": "sqlite://", "streams": [GOOD_STREAM], "retry": {"attempts": 0}},
        {"url": "not a url", "streams": [GOOD_STREAM]},
        {"url": "nosuchdb://host/db", "streams": [GOOD_STREAM]},
    ],
)
def test_a_bad_config_is_a_configuration_error(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        PoliceDbSource("police_db", config)


def test_config_errors_do_not_show_the_password() -> None:
    config = {"url": "postgresql://police:s3cret@db.example/rk", "streams": [{"name": "x"}]}
    with pytest.raises(ConfigurationError) as exc:
        PoliceDbSource("police_db", config)
    assert "s3cret" not in str(exc.value)
    assert "streams.0.kind" in str(exc.value)


def test_a_bare_postgresql_url_uses_psycopg() -> None:
    source = PoliceDbSource("police_db", {"url": "postgresql://u@h/db", "streams": [GOOD_STREAM]})
    assert source.engine.url.drivername == "postgresql+psycopg"
    source.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_database_is_a_transient_error_after_retries() -> None:
    url = f"postgresql://police@127.0.0.1:{closed_port()}/rk"
    config = {**one_stream(url, table="RK"), "retry": {"attempts": 3, "initial": 0.01}}
    source = PoliceDbSource("police_db", config)
    attempts = []
    sa.event.listen(source.engine, "do_connect", lambda *args: attempts.append(1))
    started = time.monotonic()
    try:
        with pytest.raises(TransientError, match=r"refused|connect"):
            list(source.read(source.streams()[0], None, 10))
    finally:
        source.close()
    assert len(attempts) == 3
    assert time.monotonic() - started < 5


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_connection_dropped_mid_read_resumes_after_the_last_batch(
    database_url: str, make_table: Callable[..., str], engine: sa.Engine
) -> None:
    rows = [(f"K{n:03d}", T0 + dt.timedelta(minutes=n // 10)) for n in range(100)]
    table = make_table(sa.DateTime(), rows)
    reader = f"reader_{table}"
    url = sa.make_url(database_url).update_query_dict({"application_name": reader})
    config = one_stream(url.render_as_string(hide_password=False), table=table)
    source = PoliceDbSource("police_db", config)
    keys = []
    try:
        for number, batch in enumerate(source.read(source.streams()[0], None, 15)):
            keys += [row["ID"] for row in batch.rows]
            if number == 2:
                with engine.connect() as conn:
                    killed = conn.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE application_name = :reader"
                        ),
                        {"reader": reader},
                    ).all()
                assert killed == [(True,)]
    finally:
        source.close()
    assert keys == [key for key, _ in rows]
