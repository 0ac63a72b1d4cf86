from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.sdk import ConfigurationError, RecordMapping, Stream, StreamConfig, parse_config
from connectors.spreadsheet import FileStreamConfig


class TopicStreamConfig(StreamConfig):
    """A third party's stream config: only its own field."""

    topic: str


def test_a_stream_config_becomes_the_sdks_stream() -> None:
    config = TopicStreamConfig.model_validate(
        {"name": "people", "kind": "person", "primary_key": "SFZH", "topic": "rk"}
    )
    assert config.to_stream() == Stream("people", "person", "SFZH", None, RecordMapping())


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"kind": "citizen"}, "unknown kind 'citizen'"),
        ({"mapping": {"fields": {"nickname": {"from": "NC"}}}}, "no field 'nickname'"),
        ({"primary_key": ""}, "primary_key"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_every_connector_checks_the_shared_fields_alike(
    change: dict[str, object], problem: str
) -> None:
    config = {"name": "people", "kind": "person", "primary_key": "SFZH", "topic": "rk"} | change
    with pytest.raises(ConfigurationError, match=problem):
        parse_config(TopicStreamConfig, config, "src")


def test_a_file_stream_takes_no_cursor() -> None:
    base = {"name": "people", "kind": "person", "primary_key": "公民身份号码", "pattern": "*.csv"}
    assert FileStreamConfig.model_validate(base).to_stream().cursor_field is None
    with pytest.raises(ValidationError, match="cursor_field"):
        FileStreamConfig.model_validate(base | {"cursor_field": "updated"})
