"""The hub's configured sources: ``sources.yaml`` in the hub home.

sources:
  - id: police                 # the source system's name in provenance and reports
    connector: police_db       # an entry point of the group hub.connectors
    config: {url: ..., streams: [...]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.sdk import ConfigurationError, Source, load_source

SOURCES_FILE = "sources.yaml"


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    connector: str
    config: dict[str, Any] = Field(default_factory=dict)

    def open(self) -> Source:
        return load_source(self.id, self.connector, self.config)


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[SourceSpec]


def load_sources(home: Path) -> list[SourceSpec]:
    path = home / SOURCES_FILE
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        specs = SourcesFile.model_validate(document).sources
    except FileNotFoundError:
        raise ConfigurationError(f"no {path}: describe the hub's sources there") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"{path} is not a valid sources file: {exc}") from None
    ids = [spec.id for spec in specs]
    if len(ids) != len(set(ids)):
        raise ConfigurationError(f"{path}: source ids must be unique, got {ids}")
    return specs


def save_sources(home: Path, specs: list[SourceSpec]) -> None:
    document = {"sources": [spec.model_dump() for spec in specs]}
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    (home / SOURCES_FILE).write_text(text, encoding="utf-8")
