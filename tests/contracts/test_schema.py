"""Exported JSON Schemas carry the hub's field metadata for partners."""

from __future__ import annotations

import re

import pytest

from contracts import CONTRACTS, Sensitivity, UnknownKind, contract, json_schema

SENSITIVITIES = {"public", "internal", "personal", "sensitive_personal", "police_only"}
KINDS = sorted(CONTRACTS)
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_the_seven_kinds() -> None:
    assert set(CONTRACTS) == {
        "address",
        "person",
        "house",
        "unit",
        "incident",
        "work_order",
        "visit",
    }
    assert {s.value for s in Sensitivity} == SENSITIVITIES


@pytest.mark.parametrize("kind", KINDS)
def test_every_property_has_the_metadata(kind: str) -> None:
    schema = json_schema(kind)
    model = CONTRACTS[kind]
    assert schema["x-kind"] == kind
    assert schema["x-version"] == model.version
    assert schema["$id"] == f"urn:hub:contract:{kind}:v{model.version}"
    assert set(schema["properties"]) == set(model.model_fields)
    for name, prop in schema["properties"].items():
        assert prop["x-label"], name
        assert prop["x-sensitivity"] in SENSITIVITIES, name
        assert isinstance(prop["x-natural-key"], bool), name


@pytest.mark.parametrize("kind", KINDS)
def test_exactly_the_natural_key_fields_are_flagged(kind: str) -> None:
    schema = json_schema(kind)
    flagged = [name for name, prop in schema["properties"].items() if prop["x-natural-key"]]
    assert flagged == schema["x-natural-key"]
    assert flagged == list(CONTRACTS[kind].natural_key_fields())
    assert set(flagged) <= set(schema.get("required", []))


def test_person_id_number_is_sensitive_personal() -> None:
    schema = json_schema("person")
    assert schema["properties"]["id_number"]["x-sensitivity"] == "sensitive_personal"
    assert schema["properties"]["id_number"]["x-natural-key"] is True
    assert schema["properties"]["id_number"]["x-label"] == "公民身份号码"
    assert schema["properties"]["police_tags"]["x-sensitivity"] == "police_only"


def test_unknown_kind() -> None:
    with pytest.raises(UnknownKind) as caught:
        json_schema("vehicle")
    assert caught.value.kind == "vehicle"
    with pytest.raises(UnknownKind):
        contract("person", 99)


@pytest.mark.parametrize("kind", KINDS)
def test_each_model_has_a_natural_key_and_chinese_labels(kind: str) -> None:
    model = contract(kind)
    assert CHINESE.search(model.label)
    assert model.natural_key_fields()
    for spec in model.specs():
        assert CHINESE.search(spec.label), spec.name
        assert spec.sensitivity in Sensitivity


@pytest.mark.parametrize("kind", KINDS)
def test_labels_are_unique_within_a_kind(kind: str) -> None:
    # flat files may use labels as headers, so two fields must not share one
    labels = [spec.label for spec in contract(kind).specs()]
    assert len(labels) == len(set(labels))
