from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import pytest
from pydantic import AfterValidator, AwareDatetime, StringConstraints, TypeAdapter, ValidationError

from contracts import CONTRACTS, HouseholdType, StatusChange, bare, is_structured, is_text, untyped
from contracts.checks import CitizenId, Phone
from contracts.record import Code, Text


def _refuse(value: str) -> str:
    raise ValueError("refused")


Refused = Annotated[str, AfterValidator(_refuse)]


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (Text, str),
        (Text | None, str),
        (Annotated[Code | None, "note"], str),
        (CitizenId | None, str),
        (list[Text], list[Text]),
        (list[Text] | None, list[Text]),
        (int | str, int | str),
        (AwareDatetime | None, AwareDatetime),
        (Literal["a", "b"] | None, Literal["a", "b"]),
        (dt.date, dt.date),
    ],
)
def test_bare_removes_optional_and_annotated_only(annotation: Any, expected: Any) -> None:
    assert bare(annotation) == expected


def test_untyped_removes_every_validator_nested_too() -> None:
    annotation = list[Refused] | None
    with pytest.raises(ValidationError):
        TypeAdapter(annotation).validate_python(["x"])
    assert untyped(annotation) == list[str] | None
    assert TypeAdapter(untyped(annotation)).validate_python(["x"]) == ["x"]
    assert untyped(Annotated[str, StringConstraints(min_length=3)]) is str


@pytest.mark.parametrize(
    ("annotation", "structured"),
    [
        (list[CitizenId], True),
        (list[Text] | None, True),
        (dict[str, int] | None, True),
        (list[StatusChange], True),
        (StatusChange | None, True),
        (Annotated[list[str], "wrapped"], True),
        (int | list[int], True),
        (Text, False),
        (Phone | None, False),
        (HouseholdType, False),
        (AwareDatetime, False),
        (Literal["a"], False),
        (bool, False),
    ],
)
def test_is_structured(annotation: Any, structured: bool) -> None:
    assert is_structured(annotation) is structured


@pytest.mark.parametrize(
    ("annotation", "text"),
    [
        (Text, True),
        (Code | None, True),
        (HouseholdType, True),
        (list[CitizenId], True),
        (list[Text] | None, True),
        (dt.date, False),
        (int, False),
        (list[StatusChange], False),
        (Literal["a"], False),
        (int | str, False),
    ],
)
def test_is_text(annotation: Any, text: bool) -> None:
    assert is_text(annotation) is text


@pytest.mark.parametrize("model", CONTRACTS.values(), ids=list(CONTRACTS))
def test_every_contract_field_reads_back_through_its_untyped_type(model: Any) -> None:
    for name, info in model.model_fields.items():
        untyped_type = untyped(info.annotation)
        assert is_structured(untyped_type) == is_structured(info.annotation), name
        assert is_text(untyped_type) == is_text(info.annotation), name
