"""``hub worker``: the long-running process that syncs scheduled sources (hub.ingest.worker)."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Protocol

import typer
from rich.console import Console
from rich.text import Text

from connectors.sdk import ConnectorError
from hub.cli.options import HomeOption, open_current_store
from hub.config import HubConfig, load_config
from hub.errors import HubError
from hub.ingest.pipeline import default_workers
from hub.ingest.schedule import parse_duration
from hub.ingest.sources import SourceSpec, load_sources
from hub.ingest.worker import DEFAULT_LEASE, DEFAULT_POLL, Worker, WorkerOptions

err = Console(stderr=True)


def duration(value: str | None) -> dt.timedelta | None:
    """A typer parser for ``30s``, ``5m``, ``1h`` …"""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


WorkersOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Processes judging and sealing rows while this one reads and writes;"
        " default the machine's cores.",
    ),
]

EveryOption = Annotated[
    str | None,
    typer.Option(help="Interval for sources with no schedule: in sources.yaml, e.g. 5m."),
]


def worker(
    every: EveryOption = None,
    lease: Annotated[
        str, typer.Option(help="How long a claim lasts unless renewed (longer than a batch).")
    ] = "2m",
    poll: Annotated[str, typer.Option(help="How often an idle worker looks for due streams.")] = (
        "5s"
    ),
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
    workers: WorkersOption = None,
    expectations: Annotated[
        bool, typer.Option(help="Run the dataset expectations after every stream's run.")
    ] = True,
    once: Annotated[bool, typer.Option(help="Exit once no stream is due.")] = False,
    worker_id: Annotated[str | None, typer.Option(help="Default host:pid:random.")] = None,
    home: HomeOption = None,
) -> None:
    """Sync the scheduled sources' streams as they fall due, sharing them with any other
    worker on the same database (each stream claimed by one worker at a time, under a
    lease). SIGTERM or SIGINT: finish the batch, release the claim, exit 0."""
    config, specs = load(home)
    options = WorkerOptions(
        lease=duration(lease) or DEFAULT_LEASE,
        poll=duration(poll) or DEFAULT_POLL,
        default_every=duration(every),
        batch_size=batch_size,
        workers=workers or default_workers(),
        expectations=expectations,
        once=once,
    )
    run_worker(config, specs, options, worker_id)


def run_worker(
    config: HubConfig,
    specs: list[SourceSpec],
    options: WorkerOptions,
    worker_id: str | None = None,
) -> None:
    """The worker loop in this process until a signal (or, with ``once``, nothing due)."""
    worker_logging()
    store = open_current_store(config)
    try:
        loop = Worker(store, config.home, specs, options, worker_id)
        if not loop.specs:
            err.print(Text("no source has a schedule: (or give --every)", style="red"))
            raise typer.Exit(2)
        with stop_on_signals(loop):
            loop.run()
    finally:
        store.close()


def load(home: HomeOption) -> tuple[HubConfig, list[SourceSpec]]:
    try:
        config = load_config(home)
        specs = load_sources(config.home)
    except (HubError, ConnectorError) as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    return config, specs


def worker_logging() -> None:
    """The hub's own INFO lines on stderr; other libraries' (great-expectations is chatty)
    from WARNING up only."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("hub").setLevel(logging.INFO)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


class Stoppable(Protocol):
    @property
    def stop(self) -> threading.Event: ...


@contextmanager
def stop_on_signals(loop: Stoppable) -> Iterator[None]:
    """SIGTERM and SIGINT set ``loop.stop``: the loop ends after the work in flight."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("hub.worker").info(
            "%s: stopping after the batch in flight", signal.Signals(signum).name
        )
        loop.stop.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
