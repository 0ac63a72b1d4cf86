"""No sensitive value is ever at rest in clear, on disk (SQLite) or in any column (both)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from contracts import Person, Record
from hub.errors import KeyringError
from hub.store import KIND_TABLES, Keyring, Store
from hub.store.query import Filter, select_records
from policies import RowScope
from tests.conftest import SUITES
from tests.data import ID_NUMBERS


@pytest.fixture(params=SUITES)
def crypto(request: pytest.FixtureRequest) -> str:
    """Every test of this module under each crypto suite (``tests.conftest``)."""
    return str(request.param)


SECRETS = [*ID_NUMBERS[:2], "13812345678", "025-84561234", "重点关注", "双方曾有冲突记录"]
"""ID numbers, a person's and a unit's phone, police tags, case notes."""


def _fill(store: Store, records: dict[str, Record]) -> None:
    with store.begin() as tx:
        tx.upsert("police_db", [(kind, r) for kind, r in records.items()])


def _all_cells_as_text(store: Store) -> str:
    chunks = []
    with store.engine.connect() as conn:
        for kind_table in KIND_TABLES.values():
            for row in conn.execute(kind_table.table.select()):
                chunks.extend(str(value) for value in row)
    return "\n".join(chunks)


def test_no_clear_sensitive_value_in_any_column(store: Store, records: dict[str, Record]) -> None:
    _fill(store, records)
    cells = _all_cells_as_text(store)
    assert "张伟" in cells  # personal, not sensitive: stored in clear, so the scan does see data
    for secret in SECRETS:
        assert secret not in cells


def test_no_clear_sensitive_value_in_the_sqlite_files(
    tmp_path: Path, records: dict[str, Record], crypto: str
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'hub.db'}", Keyring.generate(crypto))
    store.create_schema()
    _fill(store, records)
    with store.engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(FULL)"))
    store.close()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("hub.db")]
    raw = b"".join(p.read_bytes() for p in files)
    assert "张伟".encode() in raw
    for secret in SECRETS:
        assert secret.encode() not in raw, secret


def test_old_values_decrypt_after_key_rotation(store: Store, records: dict[str, Record]) -> None:
    with store.begin() as tx:
        tx.upsert("police_db", [("p1", records["person"])])
    old_key = store.keyring.active
    new_key = store.keyring.rotate()
    other = Person.parse(
        {
            **records["person"].model_dump(mode="json"),
            "id_number": ID_NUMBERS[2],
            "birth_date": "2012-03-15",
        }
    )
    with store.begin() as tx:
        tx.upsert("police_db", [("p2", other)])
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT source_key, id_number FROM rec_person")).all()
    sealed = {key: value for key, value in rows}
    assert sealed["p1"].startswith(old_key + ".")
    assert sealed["p2"].startswith(new_key + ".")
    first, second = store.get("person", "police_db", "p1"), store.get("person", "police_db", "p2")
    assert first is not None
    assert second is not None
    assert first.record.id_number == ID_NUMBERS[0]  # type: ignore[attr-defined]
    assert second.record.id_number == ID_NUMBERS[2]  # type: ignore[attr-defined]


def test_a_value_moved_to_another_column_does_not_decrypt(crypto: str) -> None:
    keyring = Keyring.generate(crypto)
    sealed = keyring.encrypt('"13812345678"', "person.phone")
    assert keyring.decrypt(sealed, "person.phone") == '"13812345678"'
    with pytest.raises(KeyringError, match="authentication"):
        keyring.decrypt(sealed, "person.id_number")


def test_key_file_is_private_and_reloads(tmp_path: Path, crypto: str) -> None:
    keyring = Keyring.generate(crypto)
    path = tmp_path / "keys.json"
    keyring.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    reloaded = Keyring.load(path)
    assert reloaded.decrypt(keyring.encrypt("x", "a.b"), "a.b") == "x"
    assert reloaded.blind_index("abc") == keyring.blind_index("ABC ")


def test_a_units_phone_is_sealed_and_found_by_its_blind_index(
    store: Store, records: dict[str, Record]
) -> None:
    phone = next(c for c in KIND_TABLES["unit"].fields if c.name == "phone")
    assert phone.encrypted
    assert phone.indexed
    _fill(store, records)
    everything = RowScope(unrestricted=True, any_of=(), all_of=())
    [found] = select_records(store, "unit", everything, [Filter("phone", "eq", "025-84561234")])
    assert found.record == records["unit"]
