"""Where the hub keeps its state: the hub home (``$HUB_HOME``, default ``./hub-data``).

The home holds ``config.json`` (database URL), ``keys.json`` and, with the embedded
default, the SQLite database ``hub.db``. ``HUB_DATABASE_URL`` overrides the configured URL,
so the same home can be pointed at another database. The home is private (0700) and every
file in it 0600: see ``hub.files``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError

from hub.errors import ConfigError
from hub.files import private_dir, private_sqlite_file, write_private
from hub.store import Keyring, Store

CONFIG_FILE = "config.json"
KEY_FILE = "keys.json"


class HubConfig(BaseModel):
    home: Path
    database_url: str
    issuer: str = "http://127.0.0.1:8000"
    """The hub's OAuth issuer identifier: the URL partners reach it at."""
    audience: str = "urn:hub:api"

    @property
    def key_file(self) -> Path:
        return self.home / KEY_FILE


def default_home() -> Path:
    return Path(os.environ.get("HUB_HOME", "hub-data")).resolve()


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'hub.db'}"


def load_config(home: Path | None = None) -> HubConfig:
    home = (home or default_home()).resolve()
    path = home / CONFIG_FILE
    try:
        stored = json.loads(path.read_text())
        config = HubConfig(home=home, **stored)
    except FileNotFoundError:
        raise ConfigError(f"no hub at {home}: run `hub init` first") from None
    except (KeyError, ValueError, ValidationError) as exc:
        raise ConfigError(f"{path} is not a valid hub config: {exc}") from None
    if url := os.environ.get("HUB_DATABASE_URL"):
        config = config.model_copy(update={"database_url": url})
    return config


def save_config(config: HubConfig) -> None:
    private_dir(config.home)
    document = config.model_dump(mode="json", exclude={"home"})
    write_private(config.home / CONFIG_FILE, json.dumps(document, indent=2) + "\n")


def open_store(config: HubConfig, keyring: Keyring | None = None) -> Store:
    """The store of the hub; an SQLite database file is created 0600 before it is opened."""
    private_sqlite_file(config.database_url)
    return Store.open(config.database_url, keyring or Keyring.load(config.key_file))
