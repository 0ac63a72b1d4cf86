"""The connector SDK: a `Source` declares `Stream`s and reads them in `Batch`es."""

from connectors.sdk.config import RetryConfig, StreamConfig, parse_config
from connectors.sdk.errors import ConfigurationError, ConnectorError, FatalError, TransientError
from connectors.sdk.mapping import CODE_TABLES, FieldMapping, RecordMapping
from connectors.sdk.retry import retrying
from connectors.sdk.source import (
    ENTRY_POINT_GROUP,
    Batch,
    Source,
    State,
    Stream,
    available_connectors,
    load_source,
)

__all__ = [
    "CODE_TABLES",
    "ENTRY_POINT_GROUP",
    "Batch",
    "ConfigurationError",
    "ConnectorError",
    "FatalError",
    "FieldMapping",
    "RecordMapping",
    "RetryConfig",
    "Source",
    "State",
    "Stream",
    "StreamConfig",
    "TransientError",
    "available_connectors",
    "load_source",
    "parse_config",
    "retrying",
]
