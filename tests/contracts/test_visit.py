"""The visit contract (v2): what a 走访核查 may find, of what, and by which side."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import RecordInvalid, Visit, VisitResult
from tests.data import make_records


def _visit(**changes: Any) -> dict[str, Any]:
    return make_records()["visit"].model_dump(mode="json") | changes


def test_every_result_of_a_door_to_door_check() -> None:
    assert [r.value for r in VisitResult] == [
        "属实",
        "不属实",
        "人户分离",
        "已搬离",
        "信息变更",
        "无人",
    ]
    for result in VisitResult:
        assert Visit.parse(_visit(result=result.value)).model_dump()["result"] is result


@pytest.mark.parametrize("kind", ["house", "unit", "address"])
def test_only_a_person_is_found_living_apart_from_their_registration(kind: str) -> None:
    with pytest.raises(RecordInvalid) as caught:
        Visit.parse(_visit(record_kind=kind, result="人户分离"))
    assert [(f.field, f.rule) for f in caught.value.failures] == [("result", "result_for_kind")]
    assert Visit.parse(_visit(record_kind=kind, result="已搬离"))


@pytest.mark.parametrize(
    ("changes", "failure"),
    [
        ({"record_kind": "incident"}, ("record_kind", "value_set")),
        ({"record_kind": "work_order"}, ("record_kind", "value_set")),
        ({"side": "居委会"}, ("side", "value_set")),
        ({"visited_at": "2026-11-02T09:30:00"}, ("visited_at", "datetime_timezone")),
    ],
)
def test_what_a_visit_cannot_be(changes: dict[str, Any], failure: tuple[str, str]) -> None:
    with pytest.raises(RecordInvalid) as caught:
        Visit.parse(_visit(**changes))
    assert [(f.field, f.rule) for f in caught.value.failures] == [failure]


def test_a_visit_kept_before_v2_has_no_side() -> None:
    row = _visit()
    del row["side"]
    assert Visit.parse(row).model_dump()["side"] is None


def test_the_verified_record_is_named_by_a_sealed_key() -> None:
    specs = {spec.name: spec for spec in Visit.specs()}
    assert specs["record_key"].sensitivity.encrypted_at_rest
    assert Visit.version == 2
    assert Visit.owned_by_hub
    assert frozenset({"result", "note", "visitor", "visited_at"}) == Visit.STATED
