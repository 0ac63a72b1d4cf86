"""The hub's configured sources: ``sources.yaml`` in the hub home.

sources:
  - id: police                 # the source system's name in provenance and reports
    connector: police_db       # an entry point of the group hub.connectors
    config: {url: ..., streams: [...]}
    schedule: {every: 5m}      # optional: `hub worker` syncs it this often (hub.ingest.schedule)
    side: police               # optional: police or grid, whose system (hub.sharing.reconcile)
    checks: {max_gap: 2d}      # optional: thresholds of the run's checks (hub.ingest.checks)

Secrets need not be written in the file: any string in a source's ``config`` may hold
``${NAME}`` references, replaced by the environment variable ``NAME`` when the source is
opened (``$${`` stands for a literal ``${``). The file, written 0600, then holds only the
reference, and a missing variable is an error naming it and the source, nothing else.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

from connectors.sdk import ConfigurationError, Source, load_source
from hub.files import write_private
from hub.ingest.checks import CheckConfig
from hub.ingest.schedule import Schedule, format_duration

SOURCES_FILE = "sources.yaml"

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_KEY = re.compile(r"key|secret|password|passwd|token|credential", re.IGNORECASE)
_NAMING_KEY = re.compile(r"(_path|_param|_field|^primary_key)$", re.IGNORECASE)
"""Keys whose value names a place (``token_path: data.token``, ``primary_key: id``), not a
secret, although the key's name has a secret's word in it."""


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    connector: str
    config: dict[str, Any] = Field(default_factory=dict)
    """As written in ``sources.yaml``: ``${NAME}`` references not yet expanded."""
    schedule: Schedule | None = None
    """How often ``hub worker`` syncs the source's streams; None: only when asked."""
    side: Literal["police", "grid"] | None = None
    """Whose system this is (公安 or 网格): what the reconciliation of the two sides counts
    its records under; None: neither side's (its records are left out of it)."""
    checks: CheckConfig | None = None
    """When the run's cross-kind checks flag this source and what fails the run; None:
    the defaults (``CheckConfig``: every flag warns)."""

    @field_serializer("checks")
    def _checks(self, checks: CheckConfig | None) -> dict[str, Any] | None:
        return None if checks is None else checks.as_yaml()

    @field_serializer("schedule")
    def _schedule(self, schedule: Schedule | None) -> dict[str, str] | None:
        return None if schedule is None else {"every": format_duration(schedule.every)}

    def resolved_config(self, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The config with every ``${NAME}`` replaced from ``environ`` (default the process
        environment); a ConfigurationError names a missing variable and this source."""
        resolved: dict[str, Any] = _expand(
            self.config, self.id, os.environ if environ is None else environ
        )
        return resolved

    def open(self) -> Source:
        return load_source(self.id, self.connector, self.resolved_config())

    def secrets(self) -> set[str]:
        """Values of the config that must never appear in a message: every value taken
        from the environment, every string under a key that names a key, secret, password
        or token, and the password of any URL. Best effort, for redacting errors."""
        found: set[str] = set()
        _collect_secrets(self.config, False, found)
        with contextlib.suppress(ConfigurationError):
            _collect_secrets(self.resolved_config(), False, found)
        for name in _references(self.config):
            if value := os.environ.get(name):
                found.add(value)
        return {value for value in found if len(value) >= 4}


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
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigurationError(f"{path} is not valid YAML{line}") from None
    except ValidationError as exc:
        # Field paths and messages only: pydantic's own text quotes the input, secrets too.
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"{path} is not a valid sources file: {problems}") from None
    ids = [spec.id for spec in specs]
    if len(ids) != len(set(ids)):
        raise ConfigurationError(f"{path}: source ids must be unique, got {ids}")
    return specs


def save_sources(home: Path, specs: list[SourceSpec]) -> None:
    """Write ``sources.yaml`` (mode 0600: it may hold a partner's key in clear)."""
    document = {"sources": [_dumped(spec) for spec in specs]}
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    write_private(home / SOURCES_FILE, text)


def _dumped(spec: SourceSpec) -> dict[str, Any]:
    document = spec.model_dump()
    for optional in ("schedule", "side", "checks"):
        if document[optional] is None:
            del document[optional]
    return document


def _expand(value: Any, source_id: str, environ: Mapping[str, str]) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "${"
            if name not in environ:
                raise ConfigurationError(
                    f"the environment variable {name} (referenced as ${{{name}}}) is not set",
                    source=source_id,
                )
            return environ[name]

        return _REFERENCE.sub(replace, value)
    if isinstance(value, dict):
        return {key: _expand(item, source_id, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item, source_id, environ) for item in value]
    return value


def _references(value: Any) -> set[str]:
    if isinstance(value, str):
        return {m.group(1) for m in _REFERENCE.finditer(value) if m.group(1)}
    if isinstance(value, dict):
        return set().union(*(_references(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value))
    return set()


def _collect_secrets(value: Any, secret: bool, found: set[str]) -> None:
    if isinstance(value, str):
        if secret:
            found.add(value)
        try:
            password = urlsplit(value).password if "@" in value else None
        except ValueError:
            password = None
        if password:
            found.add(password)
    elif isinstance(value, dict):
        for key, item in value.items():
            named = bool(_SECRET_KEY.search(str(key))) and not _NAMING_KEY.search(str(key))
            _collect_secrets(item, secret or named, found)
    elif isinstance(value, list):
        for item in value:
            _collect_secrets(item, secret, found)
