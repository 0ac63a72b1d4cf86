from __future__ import annotations

from enum import StrEnum

from contracts.checks import CreditCode, Phone
from contracts.meta import Sensitivity as S
from contracts.meta import field
from contracts.record import Code, Record, Text


class UnitType(StrEnum):
    ENTERPRISE = "企业"
    SOLE_TRADER = "个体工商户"
    PUBLIC_INSTITUTION = "机关事业单位"
    SOCIAL_ORGANIZATION = "社会组织"
    OTHER = "其他"


class Unit(Record):
    """实有单位: an organisation or business operating in the jurisdiction."""

    kind = "unit"
    version = 1
    label = "实有单位"

    credit_code: CreditCode = field("统一社会信用代码", S.PUBLIC, key=True)
    name: Text = field("单位名称", S.PUBLIC)
    unit_type: UnitType = field("单位类型", S.PUBLIC)
    legal_representative: Text | None = field("法定代表人", S.PERSONAL, default=None)
    phone: Phone | None = field("联系电话", S.SENSITIVE_PERSONAL, default=None)
    address_code: Code = field("标准地址编码", S.INTERNAL)
    key_unit: bool = field("重点单位", S.INTERNAL, default=False)
    grid_code: Code = field("网格编码", S.INTERNAL)
    beat_code: Code = field("警务区编码", S.INTERNAL)
