"""Which blind-index key the rows are under: the database says, every writing
transaction reads it.

The key file says which index keys a process holds; the ``index_keys`` table says which
one the rows of this database are under (``in_force``), and during a rotation
(``hub.store.reindex``) which is ``next`` (its map is being filled), then, after the
switch, which was ``previous`` (its map kept until the rotation ends). A database with no
row there was never index-rotated: its rows are under the key file's index key.

``Store.begin`` reads this state in every transaction and writes under the key in force
for that transaction's snapshot; look-ups outside a transaction read it again when their
reading is older than ``REFRESH_SECONDS``. On SQLite the transaction holds the write lock from its
first statement, so no switch can come between the read and the commit. On PostgreSQL a
transaction that finds a rotation under way also takes ``SWITCH_LOCK`` shared and reads
again; the switch takes it exclusively, so it waits for every transaction that read the
old state, and those that come after it read the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, func, select

from hub.errors import KeyringError
from hub.store.keyring import Keyring

IN_FORCE = "in_force"
NEXT = "next"
PREVIOUS = "previous"
RETIRED = "retired"

SWITCH_LOCK = 0x6875625F69647878
"""The advisory lock the switch takes exclusively and writers shared ("hub_idxx")."""

REFRESH_SECONDS = 1.0
"""How old a process's reading of the state may be when it looks a value up: a process
that only reads learns of a rotation within this, and the switch waits three times it
after the start (``hub.store.reindex``), so every process holds both keys by then."""


@dataclass(frozen=True, slots=True)
class IndexState:
    in_force: str | None
    """The key the rows are under; None: the key file's (never rotated)."""
    next: str | None = None
    """The new key of a rotation not yet switched."""
    previous: str | None = None
    """The key the rows were under before a switch whose rotation has not ended."""

    @property
    def rotating(self) -> bool:
        return self.next is not None or self.previous is not None


_STATE = "SELECT key_id, state FROM index_keys WHERE state <> 'retired'"
"""Read in every writing transaction: plain SQL, the cheapest statement to run."""


def read_state(conn: Connection) -> IndexState:
    by_state = {state: key_id for key_id, state in conn.exec_driver_sql(_STATE)}
    return IndexState(by_state.get(IN_FORCE), by_state.get(NEXT), by_state.get(PREVIOUS))


def hold_state(conn: Connection) -> IndexState:
    """The state, in a writing transaction, as it stays until the commit."""
    state = read_state(conn)
    if state.next is not None and conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock_shared(SWITCH_LOCK)))
        state = read_state(conn)
    return state


def lock_for_switch(conn: Connection) -> IndexState:
    """In the switching transaction: wait for every writer that read the state before it,
    keep the ones after it waiting, and read the state."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(SWITCH_LOCK)))
    return read_state(conn)


def holding(keyring: Keyring, state: IndexState, key_file: Path | None) -> Keyring:
    """``keyring`` indexing under the key the rows are under. If it does not hold every
    key ``state`` names, or still holds as next the key of a rotation that has ended, the
    key file is read again first (a process started before a rotation learns of it here,
    one started during it of its end). KeyringError if neither holds the key in force."""
    in_force = state.in_force or keyring.index_key_id
    named = {in_force} | ({state.next} if state.next else set())
    ended = (
        not state.rotating
        and state.in_force is not None
        and state.in_force == keyring.next_index_key_id
    )
    if (ended or not named <= set(keyring.index_keys())) and key_file is not None:
        fresh = Keyring.load(key_file)
        if in_force in fresh.index_keys():
            keyring = fresh
    if in_force not in keyring.index_keys():
        raise KeyringError(
            f"the rows are indexed under key {in_force}, which the key file does not hold "
            "as its index key (a key file older than the database?)"
        )
    return keyring.indexing(in_force)
