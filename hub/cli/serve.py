"""``hub serve``: the API under uvicorn, in one process or ``--workers N`` over one database.

Each worker is its own process (an app factory, ``hub.api.app:app_from_environment``) that
opens the hub from the environment this command sets: ``HUB_HOME`` and ``HUB_ISSUER`` (the
public URL). The audit append and every other shared write already serialise across
processes (a database lock), so workers need nothing else in common. With several workers
the metrics go through ``PROMETHEUS_MULTIPROC_DIR`` (a fresh folder unless one is set,
emptied at start as prometheus-client asks), so a scrape of any worker sees them all.

On SIGTERM or SIGINT the server stops accepting connections, lets the requests in flight
finish (each one's audit entry commits with its answer) for up to ``--graceful-timeout``
seconds, then exits.
"""

from __future__ import annotations

import logging.config
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from hub.api.observability import logging_config
from hub.cli.options import HomeOption
from hub.config import load_config
from hub.errors import ConfigError
from hub.metrics import MULTIPROCESS_ENV

FACTORY = "hub.api.app:app_from_environment"
err = Console(stderr=True)
log = logging.getLogger("hub.serve")


def public_url_for(host: str, port: int) -> str:
    """The URL of a bind address; a wildcard address names loopback (say --public-url)."""
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 - recognised, not bound
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    home: HomeOption = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Processes serving the API.")] = 1,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="The URL partners reach the hub at (OAuth issuer, metadata, token endpoint "
            "and client-assertion audience). Default: HUB_ISSUER or the config's issuer if "
            "set, else http://HOST:PORT."
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxies (comma-separated IPs or CIDRs, or *) whose X-Forwarded-For and "
            "X-Forwarded-Proto are trusted for the client address and scheme. Default: "
            "$FORWARDED_ALLOW_IPS or loopback."
        ),
    ] = None,
    graceful_timeout: Annotated[
        int, typer.Option(min=0, help="Seconds requests in flight get to finish at shutdown.")
    ] = 30,
    worker_healthcheck_timeout: Annotated[
        int,
        typer.Option(
            min=1,
            help="Seconds a worker process gets to answer the supervisor's health check before "
            "it is replaced. A worker importing the hub on a busy machine needs more than "
            "uvicorn's default 5 s, and would otherwise be killed and restarted in a loop.",
        ),
    ] = 60,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the hub's API: JSON log lines on stderr, /health, /ready and /metrics."""
    try:
        config = load_config(home)
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    url = (public_url or (config.issuer if config.issuer_chosen else "")).rstrip("/")
    url = url or public_url_for(host, port)
    os.environ["HUB_HOME"] = str(config.home)
    os.environ["HUB_ISSUER"] = url
    metrics_dir = _metrics_dir() if workers > 1 else None
    logging.config.dictConfig(logging_config(log_level))
    log.info("serving", extra={"public_url": url, "bind": f"{host}:{port}", "workers": workers})
    try:
        uvicorn.run(
            FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips,
            timeout_graceful_shutdown=graceful_timeout,
            timeout_worker_healthcheck=worker_healthcheck_timeout,
            log_config=logging_config(log_level),
            log_level=log_level,
            access_log=False,
            server_header=False,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _metrics_dir() -> Path | None:
    """The shared metrics folder, emptied; a temporary one (removed after) unless set."""
    if given := os.environ.get(MULTIPROCESS_ENV):
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        return None
    folder = Path(tempfile.mkdtemp(prefix="hub-metrics-"))
    os.environ[MULTIPROCESS_ENV] = str(folder)
    return folder
