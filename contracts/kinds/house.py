from __future__ import annotations

from enum import StrEnum

from pydantic import NonNegativeInt

from contracts.checks import CitizenId
from contracts.meta import Sensitivity as S
from contracts.meta import field
from contracts.record import Code, Record, Text


class HouseUse(StrEnum):
    OWNER_OCCUPIED = "自住"
    RENTED = "出租"
    GROUP_RENTED = "群租"
    VACANT = "空置"
    BUSINESS = "经营"


class House(Record):
    """实有房屋: a dwelling or premises at a standard address."""

    kind = "house"
    version = 1
    label = "实有房屋"

    house_code: Code = field("房屋编码", S.INTERNAL, key=True)
    address_code: Code = field("标准地址编码", S.INTERNAL)
    use: HouseUse = field("房屋用途", S.INTERNAL)
    owner_id_number: CitizenId | None = field("产权人身份号码", S.SENSITIVE_PERSONAL, default=None)
    owner_name: Text | None = field("产权人姓名", S.PERSONAL, default=None)
    occupant_count: NonNegativeInt = field("居住人数", S.INTERNAL, default=0)
    grid_code: Code = field("网格编码", S.INTERNAL)
    beat_code: Code = field("警务区编码", S.INTERNAL)
