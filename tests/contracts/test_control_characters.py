"""No text of any kind holds a C0 control character other than tab, LF and CR."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import CONTRACTS, RecordInvalid, is_text
from tests.data import make_records

REFUSED = [chr(code) for code in range(0x20) if chr(code) not in "\t\n\r"]


def _rows() -> dict[str, dict[str, Any]]:
    return {kind: record.model_dump(mode="json") for kind, record in make_records().items()}


def _refusal(kind: str, row: dict[str, Any]) -> RecordInvalid:
    with pytest.raises(RecordInvalid) as caught:
        CONTRACTS[kind].parse(row)
    return caught.value


@pytest.mark.parametrize("character", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
def test_every_refused_character_is_named(character: str) -> None:
    row = _rows()["person"] | {"name": f"张{character}伟"}
    [failure] = _refusal("person", row).failures
    assert (failure.kind, failure.field, failure.rule) == ("person", "name", "control_character")
    assert f"U+{ord(character):04X}" in failure.message
    assert failure.value == f"张{character}伟"


def _text_fields() -> list[tuple[str, str]]:
    return [
        (kind, name)
        for kind, model in CONTRACTS.items()
        for name, info in model.model_fields.items()
        if is_text(info.annotation)
    ]


@pytest.mark.parametrize(("kind", "name"), _text_fields())
def test_every_text_field_of_every_kind_refuses_nul(kind: str, name: str) -> None:
    row = _rows()[kind]
    value = row.get(name)
    row[name] = [*(value or []), "a\x00b"] if isinstance(value, list) else "a\x00b"
    failures = _refusal(kind, row).failures
    assert [(f.field, f.rule) for f in failures] == [(name, "control_character")]


def test_text_in_lists_and_nested_objects_is_judged_too() -> None:
    rows = _rows()
    tags = rows["person"] | {"police_tags": ["重点关注", "涉\x07稳"]}
    assert [f.field for f in _refusal("person", tags).failures] == ["police_tags"]
    order = rows["work_order"]
    order["history"][0]["note"] = "已派发\x00"
    assert [f.rule for f in _refusal("work_order", order).failures] == ["control_character"]


def test_every_field_holding_one_is_named() -> None:
    row = _rows()["person"] | {"name": "\x00", "grid_code": "G1\x1b", "surprise": "\x01"}
    failures = _refusal("person", row).failures
    assert {f.field for f in failures} == {"name", "grid_code", "surprise"}
    assert {f.rule for f in failures} == {"control_character"}


@pytest.mark.parametrize("allowed", ["\t", "\n", "\r\n", "\u3000", "\x7f"])
def test_tab_newlines_and_other_characters_pass(allowed: str) -> None:
    row = _rows()["incident"] | {"description": f"楼道堆物{allowed}影响通行"}
    assert CONTRACTS["incident"].parse(row).description == f"楼道堆物{allowed}影响通行"  # type: ignore[attr-defined]
