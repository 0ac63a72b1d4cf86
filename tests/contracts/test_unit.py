"""实有单位 contract: GB 32100 unified social credit codes."""

from __future__ import annotations

from typing import Any

import pytest
from stdnum.cn import uscc

from contracts import RecordInvalid, Unit, UnitType, unflatten


def credit_code(body: str) -> str:
    """``body`` (17 characters) with its GB 32100 check character."""
    assert len(body) == 17
    return body + uscc.calc_check_digit(body)


def unit_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "credit_code": credit_code("91320104MA1MXY2K0"),
        "name": "南京秦淮夫子庙文化旅游发展有限公司",
        "unit_type": "企业",
        "address_code": "320104001001010",
        "grid_code": "G320104001",
        "beat_code": "B32010401",
    }
    row.update(changes)
    return row


def rules(row: dict[str, Any]) -> list[tuple[str | None, str]]:
    with pytest.raises(RecordInvalid) as caught:
        Unit.parse(row)
    return [(f.field, f.rule) for f in caught.value.failures]


@pytest.mark.parametrize(
    "body",
    [
        "91320104MA1MXY2K0",  # 企业 (company), 秦淮区
        "92320104MA1N3TQ4X",  # 个体工商户
        "12320102466012345",  # 机关事业单位
        "52320104MJ5678901",  # 社会组织
        "91110000600037341",  # the example of GB 32100
    ],
)
def test_valid_credit_codes_pass(body: str) -> None:
    code = credit_code(body)
    unit = Unit.parse(unit_row(credit_code=code))
    assert unit.credit_code == code
    assert unit.natural_key() == code


def test_credit_code_is_compacted_and_uppercased() -> None:
    code = credit_code("91320104MA1MXY2K0")
    assert Unit.parse(unit_row(credit_code=f" {code[:8]} {code[8:].lower()} ")).credit_code == code


@pytest.mark.parametrize("body", ["91320104MA1MXY2K0", "12320102466012345"])
def test_bad_check_character(body: str) -> None:
    good = credit_code(body)
    for wrong in {"0", "A", "Y"} - {good[-1]}:
        assert rules(unit_row(credit_code=good[:-1] + wrong)) == [
            ("credit_code", "credit_code_check_digit")
        ]


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("91320104MA1MXY2K", id="too-short"),
        pytest.param("91320104MA1MXY2K0N1", id="too-long"),
        pytest.param("A1320104MA1MXY2K0N", id="letter-in-first-eight"),
        pytest.param("91320104MA1IXY2K0N", id="letter-I-not-in-alphabet"),
        pytest.param("91320104-MA1MXY2K0Z", id="letter-Z-not-in-alphabet"),
        pytest.param("统一社会信用代码", id="not-a-code"),
    ],
)
def test_malformed_credit_code(code: str) -> None:
    assert rules(unit_row(credit_code=code)) == [("credit_code", "credit_code_format")]


def test_unit_from_a_flat_row_with_chinese_headers() -> None:
    row = {
        "统一社会信用代码": credit_code("92320104MA1N3TQ4X"),
        "单位名称": "秦淮区老王记鸭血粉丝汤店",
        "单位类型": "个体工商户",
        "法定代表人": "王德明",
        "联系电话": "139 0517 1234",
        "标准地址编码": "320104001002003",
        "重点单位": "",
        "网格编码": "G320104001",
        "警务区编码": "B32010401",
    }
    unit = Unit.parse(unflatten(Unit, row))
    assert unit.unit_type is UnitType.SOLE_TRADER
    assert unit.phone == "13905171234"
    assert unit.key_unit is False
