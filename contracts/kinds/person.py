from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from contracts.checks import (
    CitizenId,
    EthnicityCode,
    Phone,
    SexCode,
    citizen_id_birth_date,
    citizen_id_sex,
)
from contracts.meta import Sensitivity as S
from contracts.meta import field
from contracts.record import Code, Record, Text


class HouseholdType(StrEnum):
    REGISTERED = "户籍"
    MIGRANT = "流动"
    FOREIGN = "境外"


class Person(Record):
    """实有人口: a person actually living in the jurisdiction."""

    kind = "person"
    version = 1
    label = "实有人口"

    id_number: CitizenId = field("公民身份号码", S.SENSITIVE_PERSONAL, key=True)
    name: Text = field("姓名", S.PERSONAL)
    sex: SexCode = field("性别", S.PERSONAL)
    birth_date: dt.date = field("出生日期", S.PERSONAL)
    ethnicity: EthnicityCode = field("民族", S.PERSONAL)
    phone: Phone | None = field("联系电话", S.SENSITIVE_PERSONAL, default=None)
    household_type: HouseholdType = field("人口类型", S.INTERNAL)
    address_code: Code = field("居住地址编码", S.PERSONAL)
    house_code: Code | None = field("房屋编码", S.PERSONAL, default=None)
    grid_code: Code = field("网格编码", S.INTERNAL)
    beat_code: Code = field("警务区编码", S.INTERNAL)
    police_tags: list[Text] = field("重点人员标签", S.POLICE_ONLY, default_factory=list)

    @field_validator("birth_date")
    @classmethod
    def _birth_date_matches_id(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        number = info.data.get("id_number")
        if number is not None and citizen_id_birth_date(number) != value:
            raise PydanticCustomError(
                "id_birth_date_mismatch",
                "birth date {value} differs from the one in the ID number",
                {"value": value.isoformat()},
            )
        return value

    @field_validator("sex")
    @classmethod
    def _sex_matches_id(cls, value: str, info: ValidationInfo) -> str:
        number = info.data.get("id_number")
        if number is not None and value in ("1", "2") and citizen_id_sex(number) != value:
            raise PydanticCustomError(
                "id_sex_mismatch",
                "sex {value} differs from the ID number's sex digit",
                {"value": value},
            )
        return value
