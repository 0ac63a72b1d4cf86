from __future__ import annotations

import pytest

from contracts import Person, RecordInvalid, Unit, WorkOrder, unflatten
from contracts.record import Record


def test_chinese_headers_empty_cells_and_yes_no(records: dict[str, Record]) -> None:
    unit = records["unit"].model_dump(mode="json")
    labels = {spec.name: spec.label for spec in Unit.specs()}
    row = {labels[k]: str(v) for k, v in unit.items()}
    row[labels["key_unit"]] = "是"
    row[labels["legal_representative"]] = "  "
    parsed = Unit.parse(unflatten(Unit, row))
    assert parsed.key_unit is True
    assert parsed.legal_representative is None


def test_list_cells_split_on_either_semicolon(records: dict[str, Record]) -> None:
    person = records["person"].model_dump(mode="json")
    person["police_tags"] = "涉稳；重点关注; "
    assert Person.parse(unflatten(Person, person)).police_tags == ["涉稳", "重点关注"]


def test_whole_row_failures_do_not_copy_the_row(records: dict[str, Record]) -> None:
    order = records["work_order"].model_dump(mode="json")
    order["status"] = "已办结"
    with pytest.raises(RecordInvalid) as caught:
        WorkOrder.parse(order)
    [failure] = caught.value.failures
    assert (failure.field, failure.rule, failure.value) == (None, "order_history", None)
