"""Where the hub keeps its state, and its settings.

The hub home (``$HUB_HOME``, default ``./hub-data``) holds ``config.json``, ``keys.json``
and, with the embedded default, the SQLite database ``hub.db``. The home is private (0700)
and every file in it 0600: see ``hub.files``.

Every option of ``config.json`` can also come from the environment (12-factor), which wins
over the file: ``HUB_DATABASE_URL``, ``HUB_ISSUER``, ``HUB_AUDIENCE`` and the external
identity provider's ``HUB_EXTERNAL_IDP__ISSUER``, ``__AUDIENCE``, ``__JWKS_URI``,
``__ALGORITHMS`` (a JSON list), ``__CACHE_TTL`` …, the operators' sign-in provider's
``HUB_OPERATOR_OIDC__ISSUER``, ``__CLIENT_ID``, ``__CLIENT_SECRET`` …, the work orders'
service levels ``HUB_WORK_ORDERS__ACCEPT_WITHIN``, ``__CLOSE_WITHIN`` … (``hub.work.sla``),
the pages' ``HUB_CONSOLE__REVIEWER`` (``hub.console.settings``), the access alerts'
thresholds ``HUB_ACCESS_ALERTS__VOLUME_MIN`` … (``hub.audit.patterns``) (``HubEnv``).
Any of them can instead name a file holding the value,
``HUB_DATABASE_URL_FILE=/run/secrets/db_url``, so a secret need not sit in the
environment; naming both is an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.audit.patterns import AlertThresholds, AlertThresholdsEnv
from hub.auth.settings import ExternalIdP, OperatorIdP
from hub.console.settings import ConsoleEnv, ConsoleSettings
from hub.errors import ConfigError, SchemaBehind
from hub.files import private_dir, private_sqlite_file, write_private
from hub.store import Keyring, Store, schema
from hub.work.sla import Sla, SlaEnv

CONFIG_FILE = "config.json"
KEY_FILE = "keys.json"
ENV_PREFIX = "HUB_"
DEFAULT_ISSUER = "http://127.0.0.1:8000"
REDACTED = "***"
_SECRET_WORDS = ("pass", "secret", "key", "token")


class HubConfig(BaseModel):
    home: Path
    database_url: str
    issuer: str = DEFAULT_ISSUER
    """The hub's OAuth issuer identifier: the URL partners reach it at. Unless chosen (in
    the file or ``HUB_ISSUER``), ``hub serve`` names its own address (``issuer_chosen``)."""
    audience: str = "urn:hub:api"
    external_idp: ExternalIdP | None = None
    """An identity provider whose access tokens the hub accepts besides its own."""
    operator_oidc: OperatorIdP | None = None
    """An OpenID Connect provider operators may sign in to the pages through, besides
    their passwords (``hub.console.provider``)."""
    webhook_loopback: bool = False
    """Subscriber URLs may be loopback, over plain http too (tests, the demo): never in
    production, where a partner's receiver is https on its own host (``hub.events.urls``)."""
    webhook_attempts: int = Field(default=8, ge=1, le=50)
    """Attempts at a webhook delivery before it is a dead letter (``hub webhooks list``)."""
    work_orders: Sla = Field(default_factory=Sla)
    """Work orders' service levels: signing and closing due, near-due window, per type."""
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    """The pages: the org stewards review submissions for (``hub.console.settings``)."""
    access_alerts: AlertThresholds = Field(default_factory=AlertThresholds)
    """When reads add up to an alert (``hub.audit.patterns``): the auditor's page, /metrics."""

    @property
    def key_file(self) -> Path:
        return self.home / KEY_FILE

    @property
    def issuer_chosen(self) -> bool:
        return "issuer" in self.model_fields_set


class ExternalIdPEnv(BaseModel):
    """``ExternalIdP``'s fields, each optional: the environment may set some of them over
    the file's (``test_every_option_has_an_environment_variable`` keeps them in step)."""

    issuer: str | None = None
    audience: str | None = None
    jwks_uri: str | None = None
    algorithms: tuple[str, ...] | None = None
    cache_ttl: float | None = None
    refetch_interval: float | None = None
    timeout: float | None = None
    require_at_jwt: bool | None = None
    client_claims: tuple[str, ...] | None = None
    scope_claims: tuple[str, ...] | None = None
    subject_claim: str | None = None


class OperatorIdPEnv(BaseModel):
    """``OperatorIdP``'s fields, each optional, as ``ExternalIdPEnv`` is ``ExternalIdP``'s."""

    issuer: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    subject_claim: str | None = None
    scopes: tuple[str, ...] | None = None
    algorithms: tuple[str, ...] | None = None
    redirect_uri: str | None = None
    label: str | None = None
    timeout: float | None = None
    cache_ttl: float | None = None
    refetch_interval: float | None = None
    leeway: int | None = None


class HubEnv(BaseSettings):
    """The ``HUB_*`` variables that override ``config.json``; unset ones are None."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="ignore",
    )

    database_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    external_idp: ExternalIdPEnv | None = None
    operator_oidc: OperatorIdPEnv | None = None
    webhook_loopback: bool | None = None
    webhook_attempts: int | None = None
    work_orders: SlaEnv | None = None
    console: ConsoleEnv | None = None
    access_alerts: AlertThresholdsEnv | None = None


_NESTED = ("external_idp", "operator_oidc", "work_orders", "console", "access_alerts")
"""Settings that are objects: a ``_FILE`` reference to one holds JSON."""


def environment_overrides() -> dict[str, Any]:
    """What the environment sets, ``*_FILE`` references read; never echoes a value."""
    environ = os.environ
    from_files: dict[str, Any] = {}
    for name in HubEnv.model_fields:
        variable = f"{ENV_PREFIX}{name.upper()}"
        reference = environ.get(f"{variable}_FILE")
        if not reference:
            continue
        if environ.get(variable):
            raise ConfigError(f"both {variable} and {variable}_FILE are set: choose one")
        try:
            from_files[name] = Path(reference).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{variable}_FILE: cannot read {reference}: {exc.strerror}") from None
        if name in _NESTED:
            from_files[name] = _json(from_files[name], f"{variable}_FILE")
    try:
        found = HubEnv(**from_files)
    except ValidationError as exc:
        raise ConfigError(f"the HUB_* environment is not valid: {_errors(exc)}") from None
    except SettingsError as exc:
        raise ConfigError(f"the HUB_* environment is not valid: {type(exc).__name__}") from None
    return found.model_dump(exclude_none=True)


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ConfigError(f"{where}: the file does not hold JSON") from None


def _errors(exc: ValidationError) -> str:
    """The problems of a validation error without the input values (they may be secret)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'config'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def default_home() -> Path:
    return Path(os.environ.get("HUB_HOME", "hub-data")).resolve()


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'hub.db'}"


def load_config(home: Path | None = None) -> HubConfig:
    """The hub at ``home``: its ``config.json`` with the ``HUB_*`` environment over it."""
    home = (home or default_home()).resolve()
    path = home / CONFIG_FILE
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no hub at {home}: run `hub init` first") from None
    except ValueError:
        raise ConfigError(f"{path} is not a valid hub config: not JSON") from None
    if not isinstance(stored, dict):
        raise ConfigError(f"{path} is not a valid hub config: not a JSON object")
    if stored.get("issuer") == DEFAULT_ISSUER:
        # Every `hub init` before `hub serve` existed wrote the default: it was never chosen.
        del stored["issuer"]
    values = _merge(stored, environment_overrides())
    try:
        return HubConfig(home=home, **values)
    except ValidationError as exc:
        raise ConfigError(f"{path} is not a valid hub config: {_errors(exc)}") from None
    except TypeError:
        raise ConfigError(f"{path} is not a valid hub config") from None


def save_config(config: HubConfig) -> None:
    private_dir(config.home)
    document = config.model_dump(mode="json", exclude={"home"}, exclude_defaults=True)
    write_private(config.home / CONFIG_FILE, json.dumps(document, indent=2) + "\n")


def redacted(config: HubConfig) -> dict[str, Any]:
    """The effective settings as ``hub config show`` prints them: the database URL's
    password, any secret-looking query parameter and the sign-in provider's client secret
    replaced by ``***``."""
    shown = config.model_dump(mode="json")
    shown["database_url"] = redact_url(config.database_url)
    if shown.get("operator_oidc") and shown["operator_oidc"].get("client_secret"):
        shown["operator_oidc"]["client_secret"] = REDACTED
    return shown


def redact_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return REDACTED  # not a URL: nothing of it is shown
    query = {
        name: (REDACTED if any(w in name.lower() for w in _SECRET_WORDS) else value)
        for name, value in parsed.query.items()
    }
    hidden = parsed.set(query=query).render_as_string(hide_password=True)
    return hidden.replace("%2A%2A%2A", REDACTED)


def open_store(
    config: HubConfig, keyring: Keyring | None = None, *, at_head: bool = False
) -> Store:
    """The store of the hub; an SQLite database file is created 0600 before it is opened.
    ``at_head``: refuse (``SchemaBehind``) a database the migrations have not brought to
    head, for the long-running commands that do not migrate it themselves."""
    private_sqlite_file(config.database_url)
    keyring = keyring or Keyring.load(config.key_file)
    store = Store.open(config.database_url, keyring, config.key_file)
    if at_head:
        try:
            schema.require_head(store.engine)
        except SchemaBehind:
            store.close()
            raise
    return store
