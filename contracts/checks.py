"""National-standard checks, as pydantic validators with stable rule names.

Each check raises ``PydanticCustomError(rule, message)``; the rule name is what reports,
quarantine and the CLI show, so they never change once published.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError

from contracts.codes import ETHNICITY, SEX, CodeTable, area_name


def check_citizen_id(value: str) -> str:
    """GB 11643 citizen identity number: length, format, check digit, birth date, area code."""
    number = value.replace(" ", "").upper()
    if len(number) != 18 or not number[:17].isdigit() or not re.fullmatch(r"[0-9X]", number[17]):
        raise PydanticCustomError("id_format", "citizen ID number must be 17 digits and a 0-9/X")
    if number[17] != ric.calc_check_digit(number):
        raise PydanticCustomError("id_check_digit", "citizen ID number check digit is wrong")
    try:
        birth = citizen_id_birth_date(number)
    except ValueError:
        raise PydanticCustomError(
            "id_birth_date", "citizen ID number holds no valid birth date"
        ) from None
    if birth > dt.date.today() or birth.year < 1890:
        raise PydanticCustomError("id_birth_date", "citizen ID number birth date is not plausible")
    if area_name(number[:6], birth.year, since=True) is None:
        raise PydanticCustomError(
            "id_area_code",
            "citizen ID number area code {area} is not a GB/T 2260 code",
            {"area": number[:6]},
        )
    return number


def citizen_id_birth_date(number: str) -> dt.date:
    """The birth date digits of a compact 18-digit number (ValueError if not a date)."""
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def citizen_id_sex(number: str) -> str:
    """GB/T 2261.1 sex code from the sequence digit: odd is male (1), even female (2)."""
    return "1" if int(number[16]) % 2 else "2"


def check_credit_code(value: str) -> str:
    """GB 32100 unified social credit code: charset, length and check character."""
    try:
        return str(uscc.validate(value))
    except InvalidChecksum:
        raise PydanticCustomError(
            "credit_code_check_digit", "unified social credit code check character is wrong"
        ) from None
    except (InvalidLength, ValidationError):
        raise PydanticCustomError(
            "credit_code_format", "unified social credit code must be 18 characters of GB 32100"
        ) from None


def check_area_code(value: str) -> str:
    if len(value) != 6 or value.endswith("00") or area_name(value) is None:
        raise PydanticCustomError(
            "area_code",
            "{value} is not a county-level GB/T 2260 area code in use",
            {"value": value},
        )
    return value


def code_in(table: CodeTable) -> BeforeValidator:
    """Accept a code or a name of ``table`` and store the code; anything else is refused."""

    def check(value: object) -> object:
        if not isinstance(value, str | int):
            return value
        code = table.lookup(str(value))
        if code is None:
            raise PydanticCustomError(
                "unknown_code",
                "{value} is not a {standard} code",
                {"value": str(value), "standard": table.standard},
            )
        return code

    return BeforeValidator(check)


_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def check_phone(value: str) -> str:
    compact = value.replace(" ", "")
    if not _PHONE.match(compact):
        raise PydanticCustomError("phone_format", "not a mainland mobile or landline number")
    return compact


CitizenId = Annotated[str, AfterValidator(check_citizen_id)]
CreditCode = Annotated[str, AfterValidator(check_credit_code)]
AreaCode = Annotated[str, AfterValidator(check_area_code)]
SexCode = Annotated[str, code_in(SEX)]
EthnicityCode = Annotated[str, code_in(ETHNICITY)]
Phone = Annotated[str, AfterValidator(check_phone)]
