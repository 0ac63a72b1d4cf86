"""``hub keys``: rotate the data keys (re-encrypting every sealed value), the blind-index
key (re-indexing every blind-indexed column), the token signing keys and the audit key
(the log hands over to it: ``AuditLog.hand_over``), and show which keys there are. Key
material is never printed."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from hub.audit import AuditEvent, AuditLog
from hub.auth.keys import SigningKeys
from hub.cli.options import HomeOption, operator
from hub.config import HubConfig, load_config, open_store
from hub.errors import HubError
from hub.store import Keyring, Store, reindex
from hub.store.indexstate import IndexState
from hub.store.keyring import ed25519_key_id, key_file_lock
from hub.store.rotation import (
    DEFAULT_BATCH,
    DrainReport,
    Progress,
    drain,
    remaining,
    retire_drained,
    start_rotation,
)
from hub.store.tables import signing_keys

app = typer.Typer(help="Keys: rotate data, index and signing keys, show key ids.")
err = Console(stderr=True)

MAX_LISTED = 20
"""Unreadable values listed one by one; the rest are counted."""


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(2)


def _open(home: HomeOption) -> tuple[HubConfig, Store]:
    try:
        config = load_config(home)
        return config, open_store(config)
    except HubError as exc:
        raise _fail(str(exc)) from None


@app.command()
def rotate(
    home: HomeOption = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish an interrupted rotation; adds no key.")
    ] = False,
    signing: Annotated[
        bool,
        typer.Option("--signing", help="Rotate the token signing key instead of the data key."),
    ] = False,
    index: Annotated[
        bool,
        typer.Option("--index", help="Rotate the blind-index key instead of the data key."),
    ] = False,
    audit: Annotated[
        bool,
        typer.Option("--audit", help="Rotate the audit log's checkpoint signing key."),
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Rows re-encrypted (or re-indexed) per transaction.")
    ] = DEFAULT_BATCH,
) -> None:
    """Add a new data key and re-encrypt every sealed value under it, in batches; the old
    key is retired once a scan finds no value left under it.

    The key file is saved with the new key before any value moves. A killed rotation is
    finished with ``--resume`` (a plain ``rotate`` refuses while one is unfinished).
    Restart ``hub serve`` and running syncs after a rotation: they read the key file at
    start. Exits 0 when the old key is retired, 1 when values that open under no key
    keep it from being retired (they are listed by table, column and row id).

    ``--index`` re-keys the blind index instead (``hub.store.reindex``): a new index key
    is added, every blind index of every table is mapped to it in batches, and one
    transaction switches them all; the old key is then retired, kept only for audit
    search. A killed one is finished by ``--index --resume``, or by ``--index`` alone,
    which finds it. No restart is needed: every process follows the database. Exits 0
    when the old key is retired, 1 when indexes whose value their row does not give keep
    the switch from happening (listed by table, column and row id; lookups still work).

    ``--audit`` rotates the key that signs the audit log's checkpoints: the new key is
    saved to the key file, the log appends ``audit.key_changed`` and signs that checkpoint
    with the old key and the new, naming the new one, and the old key's material is then
    dropped from the key file. The log's origin does not change; witnesses and auditors
    follow the change from the key they hold. A killed one is finished by ``--audit``
    again. Running processes pick the new key up from the key file at their next append.
    """
    if signing + index + audit > 1:
        raise _fail("--signing, --index and --audit rotate different keys: one at a time")
    if signing:
        if resume:
            raise _fail("--resume is for data keys; a signing-key rotation is one step")
        _rotate_signing(home)
        return
    config, store = _open(home)
    try:
        with key_file_lock(config.key_file):
            if audit:
                _rotate_audit(config, store, resume)
            elif index:
                _rotate_index(config, store, resume, batch_size)
            else:
                _rotate_data(config, store, resume, batch_size)
    except HubError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()


def _rotate_data(config: HubConfig, store: Store, resume: bool, batch_size: int) -> None:
    log = AuditLog.for_store(store)
    old = store.keyring.draining if resume else sorted(store.keyring.data_keys)
    if not resume:
        start_rotation(store, config.key_file)
        started = {"new_key": store.keyring.active, "old_keys": old}
        log.append(
            AuditEvent(
                action="keys.rotation_started",
                outcome="allowed",
                subject=operator(),
                detail=started,
            )
        )
        typer.echo(f"new data key {store.keyring.active} saved to {config.key_file}")
    new = store.keyring.active
    report = drain(store, batch_size, _progress)
    retired, left = retire_drained(store, config.key_file)
    log.append(_rotated_event(new, old, report, retired, left, resume))
    _summary(report, retired, left)
    if left:
        raise typer.Exit(1)


def _progress(progress: Progress) -> None:
    typer.echo(f"moved {progress.total} values ({progress.table}: {progress.moved})")


def _rotated_event(
    new: str,
    old: list[str],
    report: DrainReport,
    retired: list[str],
    left: dict[str, int],
    resumed: bool,
) -> AuditEvent:
    detail: dict[str, Any] = {
        "new_key": new,
        "old_keys": old,
        "resumed": resumed,
        "moved": report.moved,
        "unreadable": len(report.unreadable),
        "left": left,
        "retired": retired,
    }
    return AuditEvent(action="keys.rotated", outcome="allowed", subject=operator(), detail=detail)


def _summary(report: DrainReport, retired: list[str], left: dict[str, int]) -> None:
    typer.echo(f"moved {report.total} values to the active key")
    for item in report.unreadable[:MAX_LISTED]:
        err.print(
            f"[red]unreadable: {item.table}.{item.column} row {item.row}: {item.reason}[/red]",
            highlight=False,
        )
    if len(report.unreadable) > MAX_LISTED:
        err.print(f"[red]… and {len(report.unreadable) - MAX_LISTED} more unreadable[/red]")
    if left:
        where = ", ".join(f"{name}: {count}" for name, count in sorted(left.items()))
        err.print(
            f"[red]values still not under the active key ({where}): old keys kept[/red]",
            highlight=False,
        )
    elif retired:
        typer.echo(f"retired: {', '.join(retired)}")
    else:
        typer.echo("no key to retire")


def _rotate_index(config: HubConfig, store: Store, resume: bool, batch_size: int) -> None:
    store.create_schema()
    log = AuditLog.for_store(store)
    unfinished = reindex.pending(store)
    if resume and unfinished is None:
        raise _fail("no index rotation to resume; `hub keys rotate --index` starts one")
    if unfinished is None:
        old = store.keyring.index_key_id
        new = reindex.start(store, config.key_file)
        log.append(
            AuditEvent(
                action="keys.index_rotation_started",
                outcome="allowed",
                subject=operator(),
                detail={"new_key": new, "old_key": old},
            )
        )
        typer.echo(f"new index key {new} saved to {config.key_file}")
    else:
        typer.echo(f"resuming the unfinished rotation to index key {unfinished}")
    report = reindex.run(store, config.key_file, batch_size, _index_progress)
    log.append(_index_event(report, resumed=unfinished is not None))
    _index_summary(report)
    if report.retired is None:
        raise typer.Exit(1)


def _index_progress(progress: reindex.Progress) -> None:
    typer.echo(f"mapped {progress.total} indexes ({progress.table}: {progress.mapped})")


def _index_event(report: reindex.Report, *, resumed: bool) -> AuditEvent:
    detail: dict[str, Any] = {
        "new_key": report.new_key,
        "old_key": report.old_key,
        "resumed": resumed,
        "mapped": report.mapped,
        "unmatched": len(report.unmatched),
        "unmapped": report.unmapped,
        "rewritten": report.rewritten,
        "swept": report.swept,
        "retired": report.retired,
    }
    return AuditEvent(
        action="keys.index_rotated",
        outcome="allowed" if report.retired else "error",
        subject=operator(),
        detail=detail,
    )


def _index_summary(report: reindex.Report) -> None:
    typer.echo(f"mapped {report.total} indexes to index key {report.new_key}")
    for item in report.unmatched[:MAX_LISTED]:
        err.print(
            f"[red]unmatched: {item.table}.{item.column} row {item.row}: {item.reason}[/red]",
            highlight=False,
            soft_wrap=True,
        )
    if len(report.unmatched) > MAX_LISTED:
        err.print(f"[red]… and {len(report.unmatched) - MAX_LISTED} more unmatched[/red]")
    if report.retired is None:
        where = ", ".join(f"{name}: {n}" for name, n in sorted(report.unmapped.items()))
        err.print(
            f"[red]indexes with no new value ({where}): not switched, rows still under "
            f"index key {report.old_key}[/red]",
            highlight=False,
            soft_wrap=True,
        )
        return
    rows = sum(report.rewritten.values()) + sum(report.swept.values())
    typer.echo(f"switched: {rows} rows rewritten to index key {report.new_key}")
    typer.echo(f"retired: {report.retired} (kept for audit search only)")


def _rotate_audit(config: HubConfig, store: Store, resume: bool) -> None:
    keyring = store.keyring
    unfinished = keyring.audit_next_key is not None
    if resume and not unfinished:
        raise _fail("no audit key rotation to resume; `hub keys rotate --audit` starts one")
    log = AuditLog.for_store(store)
    old = keyring.audit_key_id
    new_key = keyring.start_audit_rotation()
    if unfinished:
        typer.echo("resuming the unfinished audit key rotation")
    else:
        keyring.save(config.key_file)
    change = log.hand_over(new_key, subject=operator())
    keyring.finish_audit_rotation()
    keyring.save(config.key_file)
    typer.echo(f"audit key {change.key_id} signs the log from checkpoint {change.size} on")
    typer.echo(f"retired: {old} (its checkpoints still verify: hub audit verify)")
    typer.echo(f"log key for witnesses: {change.vkey}")


def _rotate_signing(home: HomeOption) -> None:
    _config, store = _open(home)
    try:
        keys = SigningKeys(store)
        with store.engine.connect() as conn:
            query = signing_keys.select().where(signing_keys.c.retired_at.is_(None))
            before = sorted(row.kid for row in conn.execute(query))
        created = keys.rotate()
        AuditLog.for_store(store).append(
            AuditEvent(
                action="keys.signing_rotated",
                outcome="allowed",
                subject=operator(),
                detail={"new_key": created.kid, "retired": before},
            )
        )
    finally:
        store.close()
    typer.echo(f"new token signing key {created.kid}")
    if before:
        typer.echo(
            f"retired (still verifies tokens it signed until they expire): {', '.join(before)}"
        )


def _index_lines(keyring: Keyring, state: IndexState) -> list[str]:
    in_force = state.in_force or keyring.index_key_id
    unfinished = "(rotation unfinished: hub keys rotate --index --resume)"
    lines = []
    for kid in keyring.index_keys():
        if kid == in_force:
            lines.append(f"index key {kid}: in force")
        elif kid == state.previous:
            lines.append(f"index key {kid}: previous, rows moved off it {unfinished}")
        else:
            lines.append(f"index key {kid}: next {unfinished}")
    for kid, old in sorted(keyring.retired_index_keys.items(), key=lambda item: item[1].retired):
        lines.append(f"index key {kid}: retired {old.retired} (audit search only)")
    return lines


@app.command()
def show(home: HomeOption = None) -> None:
    """The key ids: data keys (active, draining, retired), index keys (in force, next,
    retired), the audit key, the token signing keys; and how many values are not yet
    under the active data key."""
    _config, store = _open(home)
    try:
        keyring = store.keyring
        left = remaining(store)
        with store.engine.connect() as conn:
            query = signing_keys.select().order_by(signing_keys.c.created_at)
            signing = [row._mapping for row in conn.execute(query)]
        index_state = store.index_state()
    finally:
        store.close()
    typer.echo(f"data key {keyring.active}: active")
    for kid in keyring.draining:
        typer.echo(f"data key {kid}: draining (rotation unfinished: hub keys rotate --resume)")
    for kid, at in sorted(keyring.retired.items(), key=lambda item: item[1]):
        typer.echo(f"data key {kid}: retired {at}")
    typer.echo(f"values not under the active key: {sum(left.values())}")
    for line in _index_lines(keyring, index_state):
        typer.echo(line)
    if keyring.audit_key_id is not None:
        typer.echo(f"audit key {keyring.audit_key_id}: signs checkpoints")
        first = ed25519_key_id(keyring.audit_first_key())
        if first != keyring.audit_key_id:
            typer.echo(f"audit key {first}: first (the log's origin names it), retired")
    if keyring.audit_next_key is not None:
        typer.echo("audit key rotation unfinished: hub keys rotate --audit")
    for row in signing:
        state = (
            "active"
            if row["retired_at"] is None
            else f"retired {row['retired_at']:%Y-%m-%dT%H:%M:%SZ}"
        )
        typer.echo(f"signing key {row['kid']}: {state}")
