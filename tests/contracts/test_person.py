"""实有人口 contract: GB 11643 ID numbers and their agreement with birth date and sex."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from stdnum.cn import ric

from contracts import Failure, HouseholdType, Person, RecordInvalid


def citizen_id(area: str, birth: str, seq: int) -> str:
    """A GB 11643 number with a correct check digit (odd ``seq`` is male, even female)."""
    body = f"{area}{birth.replace('-', '')}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


_VALID_ID = citizen_id("320104", "1985-03-12", 13)
_WRONG_CHECK = _VALID_ID[:-1] + ("0" if _VALID_ID[-1] != "0" else "1")


def person_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id_number": _VALID_ID,
        "name": "张伟",
        "sex": "1",
        "birth_date": "1985-03-12",
        "ethnicity": "01",
        "phone": "13912345678",
        "household_type": "户籍",
        "address_code": "320104001001001",
        "grid_code": "G320104001",
        "beat_code": "B32010401",
    }
    row.update(changes)
    return {name: value for name, value in row.items() if value is not None}


def failures(row: dict[str, Any]) -> tuple[Failure, ...]:
    with pytest.raises(RecordInvalid) as caught:
        Person.parse(row)
    assert caught.value.kind == "person"
    return caught.value.failures


def test_valid_person_parses() -> None:
    person = Person.parse(person_row())
    assert isinstance(person, Person)
    assert person.id_number == _VALID_ID
    assert person.birth_date == dt.date(1985, 3, 12)
    assert person.sex == "1"
    assert person.ethnicity == "01"
    assert person.household_type is HouseholdType.REGISTERED
    assert person.natural_key() == person.id_number


def test_names_are_stored_as_codes() -> None:
    female = citizen_id("320102", "1990-07-21", 24)
    person = Person.parse(
        person_row(id_number=female, birth_date="1990-07-21", sex="女", ethnicity="汉族")
    )
    assert person.sex == "2"
    assert person.ethnicity == "01"
    assert Person.parse(person_row(sex="男", ethnicity="回")).ethnicity == "03"


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        pytest.param({"id_number": _WRONG_CHECK}, "id_number", "id_check_digit", id="check"),
        pytest.param({"id_number": "32010419850312"}, "id_number", "id_format", id="short"),
        pytest.param({"id_number": "32010419850312001A"}, "id_number", "id_format", id="letter"),
        pytest.param(
            {"id_number": citizen_id("320104", "1985-02-30", 13)},
            "id_number",
            "id_birth_date",
            id="no-such-day",
        ),
        pytest.param(
            {"id_number": citizen_id("999999", "1985-03-12", 13)},
            "id_number",
            "id_area_code",
            id="unknown-area",
        ),
        pytest.param(
            {"birth_date": "1985-03-13"}, "birth_date", "id_birth_date_mismatch", id="birth"
        ),
        pytest.param({"sex": "2"}, "sex", "id_sex_mismatch", id="sex-code"),
        pytest.param({"sex": "女"}, "sex", "id_sex_mismatch", id="sex-name"),
        pytest.param({"sex": "3"}, "sex", "unknown_code", id="unknown-sex"),
        pytest.param({"ethnicity": "99"}, "ethnicity", "unknown_code", id="unknown-ethnicity"),
        pytest.param({"ethnicity": "火星族"}, "ethnicity", "unknown_code", id="unknown-name"),
        pytest.param({"name": None}, "name", "required", id="no-name"),
        pytest.param({"name": "  "}, "name", "required", id="blank-name"),
        pytest.param({"id_number": None}, "id_number", "required", id="no-id"),
        pytest.param({"birth_date": "12/03/1985"}, "birth_date", "date_format", id="date"),
        pytest.param({"phone": "12345"}, "phone", "phone_format", id="phone"),
        pytest.param({"household_type": "常住"}, "household_type", "value_set", id="type"),
        pytest.param({"address_code": "地址 1"}, "address_code", "pattern", id="code"),
        pytest.param({"nickname": "小张"}, "nickname", "unknown_field", id="extra"),
    ],
)
def test_each_defect_gives_its_rule(changes: dict[str, Any], field: str, rule: str) -> None:
    assert [(f.field, f.rule) for f in failures(person_row(**changes))] == [(field, rule)]


def test_lowercase_x_is_normalised() -> None:
    number = next(
        n for seq in range(1000) if (n := citizen_id("320102", "1979-03-25", seq)).endswith("X")
    )
    sex = "1" if int(number[16]) % 2 else "2"
    person = Person.parse(person_row(id_number=number.lower(), birth_date="1979-03-25", sex=sex))
    assert person.id_number == number
    assert person.id_number.endswith("X")


def test_retired_area_code_valid_in_birth_year_is_accepted() -> None:
    # 110103 北京市崇文区 was merged into 东城区 in 2010.
    person = Person.parse(
        person_row(id_number=citizen_id("110103", "1980-06-09", 71), birth_date="1980-06-09")
    )
    assert person.id_number.startswith("110103")


def test_retired_area_code_after_its_retirement_is_refused() -> None:
    row = person_row(id_number=citizen_id("110103", "2012-06-09", 71), birth_date="2012-06-09")
    assert [(f.field, f.rule) for f in failures(row)] == [("id_number", "id_area_code")]


@pytest.mark.parametrize(
    ("area", "birth"),
    [
        pytest.param("320104", "1958-10-01", id="qinhuai-code-from-1983"),
        pytest.param("320102", "1940-01-01", id="xuanwu-code-from-1983"),
        pytest.param("810000", "1990-05-05", id="hong-kong-from-1997"),
    ],
)
def test_area_code_created_after_birth_is_accepted(area: str, birth: str) -> None:
    # ID numbers were first issued in 1984: an older person's number carries the area
    # code in use at registration, not in the birth year.
    person = Person.parse(person_row(id_number=citizen_id(area, birth, 35), birth_date=birth))
    assert person.id_number.startswith(area)


def test_future_birth_date_is_refused() -> None:
    future = dt.date.today() + dt.timedelta(days=400)
    row = person_row(
        id_number=citizen_id("320104", future.isoformat(), 13), birth_date=future.isoformat()
    )
    assert [(f.field, f.rule) for f in failures(row)] == [("id_number", "id_birth_date")]


def test_future_birth_date_disagrees_with_a_valid_id() -> None:
    future = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    assert [(f.field, f.rule) for f in failures(person_row(birth_date=future))] == [
        ("birth_date", "id_birth_date_mismatch")
    ]


def test_every_failure_carries_kind_field_rule_value() -> None:
    row = person_row(
        id_number=_WRONG_CHECK, sex="3", ethnicity="99", name=None, phone="12345", extra="x"
    )
    found = failures(row)
    assert {(f.field, f.rule) for f in found} == {
        ("id_number", "id_check_digit"),
        ("sex", "unknown_code"),
        ("ethnicity", "unknown_code"),
        ("name", "required"),
        ("phone", "phone_format"),
        ("extra", "unknown_field"),
    }
    values = {f.field: f.value for f in found}
    assert values == {
        "id_number": _WRONG_CHECK,
        "sex": "3",
        "ethnicity": "99",
        "name": None,
        "phone": "12345",
        "extra": "x",
    }
    for failure in found:
        assert failure.kind == "person"
        assert failure.field
        assert failure.rule
        assert failure.message
        assert failure.as_dict() == {
            "kind": "person",
            "field": failure.field,
            "rule": failure.rule,
            "value": failure.value,
            "message": failure.message,
        }
