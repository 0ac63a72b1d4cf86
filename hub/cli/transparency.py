"""``hub audit key | prove | check-proof`` and ``hub audit witness …``: the proofs a
partner or a court checks offline, and the witness a partner runs on its own machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import httpx
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from hub.audit import AuditError, AuditLog, NoteError
from hub.audit.note import Cosigner, Verifier
from hub.audit.proofs import check_proof, prove
from hub.audit.witness import witness_once
from hub.audit.witnesses import add_witness, parse_witness_key, registered_witnesses
from hub.cli.options import HomeOption, operator
from hub.config import load_config, open_store
from hub.errors import HubError
from hub.files import write_private

witness_app = typer.Typer(help="Witnesses: the partners' own record of the audit log.")
err = Console(stderr=True)


def _fail(exc: Exception, code: int = 2) -> typer.Exit:
    err.print(f"[red]{exc}[/red]")
    return typer.Exit(code)


def key(home: HomeOption = None) -> None:
    """Print the hub's audit log key (a C2SP verifier key) for witnesses and auditors."""
    store = open_store(load_config(home))
    try:
        typer.echo(AuditLog.for_store(store).verifier.vkey())
    except HubError as exc:
        raise _fail(exc) from None
    finally:
        store.close()


def prove_entry(
    seq: Annotated[int, typer.Argument(min=1, help="The audit entry's seq.")],
    out: Annotated[Path | None, typer.Option(help="Write the bundle here (0600).")] = None,
    home: HomeOption = None,
) -> None:
    """Write the proof bundle of one entry: the entry, its inclusion proof and the
    (co)signed checkpoint it is proved against."""
    store = open_store(load_config(home))
    try:
        bundle = prove(AuditLog.for_store(store), seq)
    except HubError as exc:
        raise _fail(exc) from None
    finally:
        store.close()
    text = json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_private(out, text)
        err.print(f"proof of entry {seq} at tree size {bundle['tree_size']}: {out}")


def check(
    bundle: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    log_key: Annotated[str, typer.Option(help="The hub's log key (hub audit key).")],
    witness_key: Annotated[
        list[str] | None, typer.Option(help="A witness key that must have cosigned; repeatable.")
    ] = None,
) -> None:
    """Check a proof bundle with no database: exit 0 when it proves its entry, 1 if not."""
    try:
        document = json.loads(bundle.read_text(encoding="utf-8"))
        log = Verifier.parse(log_key)
        witnesses = tuple(parse_witness_key(k) for k in witness_key or [])
    except (ValueError, NoteError, AuditError) as exc:
        raise _fail(exc) from None
    result = check_proof(document, log, witnesses)
    if not result.ok:
        typer.echo(f"proof REFUSED: {result.reason}")
        raise typer.Exit(1)
    cosigned = ", ".join(result.cosigned_by) or "no witness"
    typer.echo(
        f"entry {result.seq} is in the log at size {result.tree_size}; cosigned by {cosigned}"
    )


@witness_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The witness's name, as in its key.")],
    key_: Annotated[str, typer.Option("--key", help="Its verifier key (witness keygen).")],
    home: HomeOption = None,
) -> None:
    """Accept a witness's cosignatures, and require them in ``hub audit verify``."""
    config = load_config(home)
    store = open_store(config)
    try:
        verifier = parse_witness_key(key_)
        if verifier.name != name:
            raise AuditError(f"the key is {verifier.name}'s, not {name}'s")
        add_witness(AuditLog.for_store(store), config.home, key_, by=operator())
    except HubError as exc:
        raise _fail(exc) from None
    finally:
        store.close()
    err.print(f"[green]witness {name} added[/green]")


@witness_app.command("list")
def list_witnesses(home: HomeOption = None) -> None:
    """The witnesses the hub accepts cosignatures from."""
    store = open_store(load_config(home))
    try:
        found = registered_witnesses(store)
    finally:
        store.close()
    table = Table("witness", "key")
    for name, verifier in sorted(found.items()):
        table.add_row(name, verifier.vkey())
    Console().print(table)


@witness_app.command("keygen")
def keygen(
    name: Annotated[str, typer.Argument(help="The witness's name, e.g. police-witness.")],
    out: Annotated[Path, typer.Option(help="Where to keep the private key (0600).")],
) -> None:
    """Make a witness key: the private key into ``out``, the verifier key printed for the
    hub's operator (``hub audit witness add``)."""
    try:
        cosigner = Cosigner(name, Ed25519PrivateKey.generate())
    except NoteError as exc:
        raise _fail(exc) from None
    write_private(out, cosigner.skey() + "\n")
    typer.echo(cosigner.verifier().vkey())


@witness_app.command("run")
def run(
    hub: Annotated[str, typer.Option(help="The hub's URL, e.g. https://hub.example")],
    key_file: Annotated[Path, typer.Option("--key", exists=True, dir_okay=False)],
    state: Annotated[Path, typer.Option(help="This witness's own state file.")],
    log_key: Annotated[str, typer.Option(help="The hub's log key (hub audit key).")],
) -> None:
    """Check that the hub's log only grew since the last run, then cosign its newest
    checkpoint. Exits 1, cosigning nothing, when the log was truncated or rewritten."""
    try:
        cosigner = Cosigner.parse(key_file.read_text("utf-8").strip())
        log = Verifier.parse(log_key)
    except (OSError, NoteError) as exc:
        raise _fail(exc) from None
    try:
        with httpx.Client(base_url=hub, timeout=30) as http:
            done = witness_once(http, cosigner, log, state)
    except AuditError as exc:
        raise _fail(exc, 1) from None
    except httpx.HTTPError as exc:
        raise _fail(HubError(f"the hub cannot be reached: {exc}")) from None
    typer.echo(f"cosigned {done.origin} at size {done.size}")
