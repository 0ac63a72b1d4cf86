"""The row scope read two ways agrees: compiled into SQL (``select_records``) on each backend,
and in Python (``policies.admits``, which judges pushed records). Random scopes over random
stored records, values drawn from a small alphabet that holds LIKE's wildcards, its escape
character and both cases of a letter.

It found one disagreement, now mended: a prefix compiled to ``LIKE 'p%'``, which SQLite
matches ignoring ASCII case (a prefix ``aa`` admitted a record ``aA1`` that ``admits`` and
PostgreSQL refuse); prefixes now compile to ``substr(column, 1, len(p)) = p``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import CONTRACTS, HouseholdType, IncidentType, Record
from hub.store import KIND_TABLES, Store
from hub.store.query import select_records
from policies import Match, RowScope, admits
from tests.data import make_records

CODE_CHARS = "aAb1_-"
"""What a stored code may hold (contracts.record.Code): wildcard ``_`` included."""
CLAIM_CHARS = "aAb1_-%\\"
"""What a scope value may hold: anything a token claim or a policy names."""
ENUMS = {"person": ("household_type", HouseholdType), "incident": ("incident_type", IncidentType)}
CODE_FIELDS = ("grid_code", "beat_code", "address_code")


@dataclass(frozen=True)
class Alphabet:
    codes: str
    claims: str

    @classmethod
    def of(cls, store: Store) -> Alphabet:
        return cls(CODE_CHARS, CLAIM_CHARS)

    def code(self) -> st.SearchStrategy[str]:
        return st.text(self.codes, min_size=1, max_size=3).map(lambda s: "a" + s)


def _field_values(kind: str, alphabet: Alphabet) -> dict[str, st.SearchStrategy[Any]]:
    name, enum = ENUMS[kind]
    values: dict[str, st.SearchStrategy[Any]] = dict.fromkeys(CODE_FIELDS, alphabet.code())
    values[name] = st.sampled_from([member.value for member in enum])
    return values


def _scope_values(kind: str, field: str, op: str, alphabet: Alphabet) -> st.SearchStrategy[str]:
    if field == ENUMS[kind][0]:
        words = [member.value for member in ENUMS[kind][1]]
        if op == "prefix":
            words = sorted({w[:n] for w in words for n in range(len(w) + 1)})
        return st.one_of(st.sampled_from(words), st.text(alphabet.claims, max_size=2))
    size = 0 if op == "prefix" else 1
    return st.one_of(alphabet.code(), st.text(alphabet.claims, min_size=size, max_size=4))


@st.composite
def _matches(draw: st.DrawFn, kind: str, alphabet: Alphabet) -> Match:
    field = draw(st.sampled_from([*CODE_FIELDS, ENUMS[kind][0]]))
    op = draw(st.sampled_from(["in", "prefix"]))
    values = draw(st.lists(_scope_values(kind, field, op, alphabet), min_size=1, max_size=3))
    return Match(field, op, tuple(values))  # type: ignore[arg-type]


def _scopes(kind: str, alphabet: Alphabet) -> st.SearchStrategy[RowScope]:
    matches = st.lists(_matches(kind, alphabet), max_size=3).map(tuple)
    return st.builds(RowScope, st.booleans(), matches, matches)


def _records(kind: str, alphabet: Alphabet) -> st.SearchStrategy[list[Record]]:
    base = make_records()[kind].model_dump(mode="json")
    model = CONTRACTS[kind]
    fields = st.fixed_dictionaries(_field_values(kind, alphabet))
    return st.lists(fields.map(lambda f: model.parse(base | f)), min_size=1, max_size=8)


def _store_only(store: Store, kind: str, records: list[Record]) -> None:
    with store.engine.begin() as conn:
        conn.execute(KIND_TABLES[kind].table.delete())
    with store.begin() as tx:
        tx.upsert("police_db", [(f"r{n}", r) for n, r in enumerate(records)])


def _check_agreement(store: Store, kind: str, examples: int) -> None:
    alphabet = Alphabet.of(store)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(records=_records(kind, alphabet), scope=_scopes(kind, alphabet))
    def agree(records: list[Record], scope: RowScope) -> None:
        _store_only(store, kind, records)
        found = {s.provenance.source_key for s in select_records(store, kind, scope, limit=100)}
        expected = {f"r{n}" for n, r in enumerate(records) if admits(scope, r.model_dump())}
        assert found == expected

    agree()


def test_sql_scope_and_admits_agree_on_people(store: Store) -> None:
    _check_agreement(store, "person", examples=60)


def test_sql_scope_and_admits_agree_on_incidents(store: Store) -> None:
    _check_agreement(store, "incident", examples=60)


def test_a_prefix_scope_is_case_sensitive(store: Store, records: dict[str, Record]) -> None:
    """Found by the property test: SQLite's LIKE ignored ASCII case, so prefixes compile
    to an exact ``substr`` comparison."""
    incident = records["incident"].model_copy(update={"grid_code": "GA1"})
    _store_only(store, "incident", [incident])
    scope = RowScope(False, (Match("grid_code", "prefix", ("Ga",)),), ())
    assert not admits(scope, incident.model_dump())
    assert select_records(store, "incident", scope) == []
