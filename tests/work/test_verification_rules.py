"""The verification registry's rules outside the served hub: a visit links to every
source's copy of what it verified, a policy writes only what a visitor states, and only a
stream of a verified kind may be self-declared."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from connectors.sdk import StreamConfig
from contracts import VERIFIED_KINDS, Record, Visit
from hub.store import Store
from hub.store.store import kind_table
from policies import PolicyInvalid, parse_policy
from tests.data import make_records


@pytest.mark.parametrize("kind", VERIFIED_KINDS)
def test_a_visits_record_key_indexes_as_the_link_key_of_every_copy(
    store: Store, records: dict[str, Record], kind: str
) -> None:
    record = records[kind]
    visit = Visit.parse(
        make_records()["visit"].model_dump(mode="json")
        | {"record_kind": kind, "record_key": record.natural_key(), "result": "属实"}
    )
    with store.begin() as tx:
        tx.upsert("police_db", [("P1", record)])
        tx.upsert("grid_platform", [("g-1", record)])
        tx.upsert("hub", [(visit.model_dump()["visit_id"], visit)])
    copies = kind_table(kind).table
    visits = kind_table("visit").table
    with store.engine.connect() as conn:
        links = set(conn.execute(select(copies.c.link_key)).scalars())
        [(index, sealed)] = conn.execute(select(visits.c.record_key_bidx, visits.c.record_key))
    assert links == {index}
    assert record.natural_key() not in sealed


def _policy(write: list[str]) -> dict[str, object]:
    return {
        "id": "grid-x",
        "version": 1,
        "title": "x",
        "purposes": ["走访核查"],
        "kinds": {
            "visit": {
                "actions": ["read", "write"],
                "rows": {"jurisdiction": [{"field": "grid_code", "claim": "grid_codes"}]},
                "fields": {"result": "allow"},
                "write": write,
            }
        },
    }


def test_a_policy_lets_a_visitor_write_only_what_a_visitor_states() -> None:
    assert parse_policy(_policy(["result", "note", "visitor", "visited_at"]))
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(_policy(["result", "record_key", "side", "grid_code"]))
    assert [(p.where, p.message.split(";")[0]) for p in caught.value.problems] == [
        ("kinds.visit.write", f"the hub fills {name}")
        for name in ("record_key", "side", "grid_code")
    ]


def test_only_a_stream_of_a_verified_kind_is_self_declared() -> None:
    stream = {"name": "s", "primary_key": "id", "self_declared": True}
    assert StreamConfig.model_validate(stream | {"kind": "person"}).to_stream().self_declared
    assert (
        not StreamConfig.model_validate(stream | {"kind": "person", "self_declared": False})
        .to_stream()
        .self_declared
    )
    with pytest.raises(ValidationError, match="not verified door to door"):
        StreamConfig.model_validate(stream | {"kind": "incident"})
