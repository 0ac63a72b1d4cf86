from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.audit import AuditEntry, AuditLog
from hub.audit.archive import archive as archive_log
from hub.audit.archive import log_key_of_archive
from hub.audit.archive import verify_archive as check_archive
from hub.audit.witnesses import trusted_witnesses
from hub.cli.options import HomeOption, operator
from hub.config import load_config, open_store
from hub.errors import HubError
from hub.files import private_dir
from hub.sharing.auditing import subject_by_id_number
from hub.store import Store

app = typer.Typer(help="The audit log: verify it is intact, checkpoint it, search it.")
err = Console(stderr=True)


def _open(home: HomeOption) -> tuple[Store, AuditLog]:
    try:
        store = open_store(load_config(home))
        return store, AuditLog.for_store(store)
    except HubError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def verify(home: HomeOption = None) -> None:
    """Recompute every entry's leaf and the root at every checkpoint, check every
    checkpoint's signature and chain, and every witness's cosignatures (the witnesses the
    hub home names must have cosigned).

    Exits 0 when the log is intact, 1 with the first bad position when it is not.
    """
    store, log = _open(home)
    try:
        witnesses = trusted_witnesses(load_config(home).home)
        result = log.verify(witnesses=witnesses)
    except HubError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        store.close()
    if result.ok:
        archived = f" ({result.archived} archived)" if result.archived else ""
        typer.echo(
            f"audit log intact: {result.entries} entries{archived}, {result.checkpoints} "
            f"signed checkpoints, {result.cosignatures} cosignatures by {len(witnesses)} witnesses"
        )
        return
    typer.echo(f"audit log BROKEN at entry {result.first_bad}: {result.reason}")
    raise typer.Exit(1)


@app.command()
def checkpoint(home: HomeOption = None) -> None:
    """Sign the log's current head now (every append is checkpointed already)."""
    store, log = _open(home)
    try:
        made = log.checkpoint()
    finally:
        store.close()
    if made is None:
        typer.echo("audit log is empty: nothing to sign")
    else:
        typer.echo(f"checkpoint of tree size {made.size}:\n{made.note}")


def _moment(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@app.command()
def search(
    client: Annotated[str | None, typer.Option(help="Client id.")] = None,
    kind: Annotated[str | None, typer.Option(help="Record kind.")] = None,
    purpose: Annotated[str | None, typer.Option(help="Declared purpose.")] = None,
    record: Annotated[str | None, typer.Option(help="Id of a record returned.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. token.issued, records.query")] = None,
    since: Annotated[str | None, typer.Option(help="ISO date or time (UTC if no zone).")] = None,
    until: Annotated[str | None, typer.Option(help="ISO date or time, exclusive.")] = None,
    request_id: Annotated[str | None, typer.Option(help="Request id.")] = None,
    outcome: Annotated[str | None, typer.Option(help="allowed, denied or error")] = None,
    after: Annotated[int | None, typer.Option(help="Entries after this seq (paging).")] = None,
    newest: Annotated[bool, typer.Option("--newest", help="Newest first.")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    home: HomeOption = None,
) -> None:
    """Print matching entries, oldest first (or --newest), as JSON lines."""
    start, end = _moment(since), _moment(until)
    _print_found(
        home,
        lambda store, log: log.search(
            client_id=client,
            kind=kind,
            purpose=purpose,
            record_id=record,
            action=action,
            since=start,
            until=end,
            limit=limit,
            request_id=request_id,
            outcome=outcome,
            after_seq=after,
            newest_first=newest,
        ),
    )


@app.command()
def subject(
    id_number: Annotated[
        str,
        typer.Option(
            "--id-number", help="The person's citizen ID number.", prompt=True, hide_input=True
        ),
    ],
    limit: Annotated[int, typer.Option(min=1)] = 100,
    home: HomeOption = None,
) -> None:
    """Subject access (PIPL art. 45): every entry naming a record of the person with this
    ID number (each source's, the houses they own), newest first, as JSON lines.

    The number is looked up by its blind index and never stored or printed; the query is
    itself audited, as yours (``cli:<user>``).
    """
    _print_found(
        home,
        lambda store, log: subject_by_id_number(store, log, operator(), id_number, limit=limit),
    )


def _print_found(home: Path | None, find: Callable[[Store, AuditLog], list[AuditEntry]]) -> None:
    """Run an audit query and print its entries as JSON lines; exit 2 on a hub error."""
    store, log = _open(home)
    try:
        entries = find(store, log)
    except HubError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        store.close()
    for entry in entries:
        typer.echo(json.dumps(entry.as_json(), ensure_ascii=False))


@app.command()
def archive(
    before: Annotated[str, typer.Option(help="ISO date or time (UTC if no zone), 180+ days ago.")],
    out: Annotated[
        Path | None, typer.Option(help="Archive file; default under the hub home's archive/.")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Move entries older than --before (to the last checkpoint at or below the cut) to an
    archive file with their signed checkpoint and proofs; the database keeps their leaf
    hashes. Audited as ``audit.archived``. Nothing is removed unless the file verifies."""
    cut = _moment(before) or dt.datetime.max  # never None: --before is required
    store, log = _open(home)
    try:
        if out is None:
            folder = private_dir(load_config(home).home / "archive")
            out = folder / f"audit-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%fZ}.json"
        result = archive_log(log, cut, out, subject=operator())
    except HubError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        store.close()
    record = result.record
    typer.echo(
        f"archived entries {record.first}..{record.last} to {result.path}\n"
        f"sha256 {record.sha256}, signed root {record.root}, recorded as entry {record.entry}"
    )


@app.command("verify-archive")
def verify_archive(
    file: Annotated[Path, typer.Argument(help="An archive file written by `hub audit archive`.")],
    log_key: Annotated[
        str | None, typer.Option(help="The log's verifier key (`hub audit key`).")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Verify an archive file alone: every entry against the signed root of its range, and
    that range against the newer checkpoint. Without --log-key, the hub home's key.

    Exits 0 when it verifies, 1 with the reason when it does not."""
    if log_key is None:
        store, log = _open(home)
        try:
            log_key = log_key_of_archive(log, file)
        finally:
            store.close()
    result = check_archive(file, log_key)
    if not result.ok:
        typer.echo(f"archive BROKEN: {result.reason}")
        raise typer.Exit(1)
    typer.echo(
        f"archive intact: entries {result.first}..{result.last}, consistent with the "
        f"checkpoint of size {result.latest}; sha256 {result.sha256}"
    )
