from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.cli.options import HomeOption
from hub.config import CONFIG_FILE, HubConfig, default_home, open_store, save_config, sqlite_url
from hub.errors import KeyringError
from hub.files import private_dir, tighten
from hub.ingest.report import REPORTS_DIR
from hub.ingest.sources import SOURCES_FILE
from hub.policyfiles import POLICIES_DIR
from hub.store import Keyring
from hub.store.suite import suite_named


def init(
    home: HomeOption = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL, e.g. postgresql://hub@db/hub; default SQLite in home."),
    ] = None,
    crypto: Annotated[
        str | None,
        typer.Option(
            help="Crypto suite of a new hub: standard (AES-GCM, SHA-256, Ed25519) or gm "
            "(SM4-GCM, SM3, SM2). Default $HUB_CRYPTO, else standard. Fixed for the hub's life.",
        ),
    ] = None,
) -> None:
    """Create the hub home (mode 0700): config, key file and database tables (files 0600).

    Running it again keeps the existing keys: they are the only way to read stored values.
    A home found readable by others is tightened to 0700. The crypto suite is chosen here
    once (``--crypto``) and recorded in the key file; running it again with another suite
    is refused.
    """
    home = (home or default_home()).resolve()
    config = HubConfig(home=home, database_url=database_url or sqlite_url(home))
    console = Console()
    loose = [path for path in _hub_files(home) if tighten(path)]
    private_dir(home)
    if loose:
        console.print(f"[yellow]tightened (were open to other users): {len(loose)} paths[/yellow]")
    if crypto is not None:
        try:
            suite_named(crypto)
        except KeyringError as exc:
            raise typer.BadParameter(str(exc), param_hint="--crypto") from None
    if config.key_file.exists():
        try:
            keyring = Keyring.load(config.key_file, crypto)
        except KeyringError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        console.print(f"keys kept: {config.key_file} ({keyring.suite.name} crypto suite)")
        if keyring.audit_key is None:
            keyring.audit_key = Keyring.generate(keyring.suite).audit_key
            keyring.save(config.key_file)
            console.print("audit signing key added to the key file")
    else:
        keyring = Keyring.generate(crypto)
        keyring.save(config.key_file)
        console.print(
            f"keys created: {config.key_file} ({keyring.suite.name} crypto suite; "
            "mode 0600; back it up, keep it secret)"
        )
    save_config(config)
    store = open_store(config, keyring)
    try:
        store.create_schema()
    finally:
        store.close()
    console.print(f"[green]hub ready[/green] at {home} on {store.engine.url.render_as_string()}")


def _hub_files(home: Path) -> list[Path]:
    """The home and what an earlier hub may have left readable in it: its own files only,
    so a home pointed at a shared folder does not have its other contents changed."""
    names = [
        CONFIG_FILE,
        "hub.db",
        "hub.db-wal",
        "hub.db-shm",
        SOURCES_FILE,
        "demo-clients.json",
    ]
    folders = [home / REPORTS_DIR, home / POLICIES_DIR]
    inside = [path for folder in folders if folder.is_dir() for path in sorted(folder.iterdir())]
    return [home, *(home / name for name in names), *folders, *inside]
