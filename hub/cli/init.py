from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.config import HubConfig, default_home, save_config, sqlite_url
from hub.store import Keyring, Store


def init(
    home: Annotated[
        Path | None, typer.Option(help="Hub home; default $HUB_HOME or ./hub-data.")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL, e.g. postgresql://hub@db/hub; default SQLite in home."),
    ] = None,
) -> None:
    """Create the hub home: config, key file (mode 0600) and database tables.

    Running it again keeps the existing keys: they are the only way to read stored values.
    """
    home = (home or default_home()).resolve()
    config = HubConfig(home=home, database_url=database_url or sqlite_url(home))
    console = Console()
    if config.key_file.exists():
        keyring = Keyring.load(config.key_file)
        console.print(f"keys kept: {config.key_file}")
        if keyring.audit_key is None:
            keyring.audit_key = Keyring.generate().audit_key
            keyring.save(config.key_file)
            console.print("audit signing key added to the key file")
    else:
        keyring = Keyring.generate()
        keyring.save(config.key_file)
        console.print(f"keys created: {config.key_file} (mode 0600; back it up, keep it secret)")
    save_config(config)
    store = Store.open(config.database_url, keyring)
    try:
        store.create_schema()
    finally:
        store.close()
    console.print(f"[green]hub ready[/green] at {home} on {store.engine.url.render_as_string()}")
