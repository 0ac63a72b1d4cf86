"""Witnesses run as the partners would run them: a separate process against a served hub,
with their own key and state file; and proof bundles checked with no database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from hub.api import create_app
from hub.audit import AuditEvent, AuditLog
from hub.audit.checkpoint import Checkpoint, sign_checkpoint
from hub.audit.note import Signer
from hub.cli import app
from hub.config import load_config, open_store
from hub.reference.serve import serve_in_thread
from hub.store.tables import audit_checkpoints, audit_log, audit_tree

pytestmark = pytest.mark.slow
runner = CliRunner()
HUB = Path(sys.executable).parent / "hub"


@dataclass
class Served:
    home: Path
    url: str
    log_key: str

    def append(self, n: int) -> None:
        store = open_store(load_config(self.home))
        try:
            log = AuditLog.for_store(store)
            for i in range(n):
                log.append(AuditEvent(action="records.read", outcome="allowed", request_id=f"r{i}"))
        finally:
            store.close()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(HUB), *args], capture_output=True, text=True, timeout=120, check=False
        )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    home = tmp_path / "hub"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    log_key = runner.invoke(app, ["audit", "key", "--home", str(home)]).stdout.strip()
    with serve_in_thread(create_app(load_config(home))) as server:
        yield Served(home, server.url, log_key)


def _witness(served: Served, tmp_path: Path, name: str) -> tuple[Path, str]:
    key_file = tmp_path / f"{name}.key"
    made = served.cli("audit", "witness", "keygen", name, "--out", str(key_file))
    assert made.returncode == 0, made.stderr
    vkey = made.stdout.strip()
    added = runner.invoke(
        app, ["audit", "witness", "add", name, "--key", vkey, "--home", str(served.home)]
    )
    assert added.exit_code == 0, added.output
    return key_file, vkey


def _run(served: Served, key_file: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return served.cli(
        "audit", "witness", "run", "--hub", served.url, "--key", str(key_file),
        "--state", str(state), "--log-key", served.log_key,
    )  # fmt: skip


def test_a_witness_cosigns_and_catches_a_truncated_log(served: Served, tmp_path: Path) -> None:
    key_file, _ = _witness(served, tmp_path, "police-witness")
    state = tmp_path / "police-witness.state"
    served.append(5)
    first = _run(served, key_file, state)
    assert first.returncode == 0, first.stderr
    size = json.loads(state.read_text())["size"]
    assert f"at size {size}" in first.stdout
    assert (state.stat().st_mode & 0o077) == 0
    verified = runner.invoke(app, ["audit", "verify", "--home", str(served.home)])
    assert verified.exit_code == 0, verified.output
    assert "1 cosignatures by 1 witnesses" in verified.output

    served.append(7)
    second = _run(served, key_file, state)
    assert second.returncode == 0, second.stderr
    grown = json.loads(state.read_text())["size"]
    assert grown > size

    store = open_store(load_config(served.home))
    with store.engine.begin() as conn:  # the attacker: the newest entries and their traces
        conn.execute(delete(audit_log).where(audit_log.c.seq > size))
        conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.size > size))
        conn.execute(delete(audit_tree).where(audit_tree.c.level == 0, audit_tree.c.idx >= size))
    store.close()
    third = _run(served, key_file, state)
    assert third.returncode == 1
    assert f"size {size}" in third.stderr
    assert f"size {grown}" in third.stderr
    assert "truncated" not in third.stdout
    assert json.loads(state.read_text())["size"] == grown, "the state is kept"


def test_a_stranger_cannot_cosign(served: Served, tmp_path: Path) -> None:
    served.append(2)
    key_file = tmp_path / "stranger.key"
    assert (
        served.cli("audit", "witness", "keygen", "stranger", "--out", str(key_file)).returncode == 0
    )
    done = _run(served, key_file, tmp_path / "stranger.state")
    assert done.returncode == 1
    assert "refused" in done.stderr


def test_a_proof_bundle_checks_offline_and_refuses_a_changed_entry(
    served: Served, tmp_path: Path
) -> None:
    key_file, vkey = _witness(served, tmp_path, "grid-witness")
    served.append(9)
    assert _run(served, key_file, tmp_path / "grid.state").returncode == 0
    bundle = tmp_path / "proof.json"
    proved = runner.invoke(
        app, ["audit", "prove", "4", "--out", str(bundle), "--home", str(served.home)]
    )
    assert proved.exit_code == 0, proved.output

    def check(path: Path, *witness: str) -> subprocess.CompletedProcess[str]:
        keys = [arg for w in witness for arg in ("--witness-key", w)]
        return served.cli("audit", "check-proof", str(path), "--log-key", served.log_key, *keys)

    good = check(bundle, vkey)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "cosigned by grid-witness" in good.stdout

    document = json.loads(bundle.read_text())
    document["entry"]["event"] = document["entry"]["event"].replace("allowed", "denied")
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(document))
    refused = check(altered, vkey)
    assert refused.returncode == 1
    assert "not in the signed tree" in refused.stdout

    other_file = tmp_path / "other.key"
    other = served.cli("audit", "witness", "keygen", "other", "--out", str(other_file))
    missing = check(bundle, other.stdout.strip())
    assert missing.returncode == 1
    assert "not cosigned by other" in missing.stdout


def test_a_witness_follows_the_audit_key_rotation_and_refuses_a_key_no_chain_leads_to(
    served: Served, tmp_path: Path
) -> None:
    """The witness was given the log key before the rotation. The hub rotates while it is
    served (its own next append, the witness's cosignature, must be signed by the new key);
    the witness follows the hand-over from the key it holds and cosigns under the new key.
    A newest checkpoint signed by any other key is an alarm."""
    key_file, _ = _witness(served, tmp_path, "grid-witness")
    state = tmp_path / "grid-witness.state"
    served.append(3)
    assert _run(served, key_file, state).returncode == 0
    rotated = runner.invoke(app, ["keys", "rotate", "--audit", "--home", str(served.home)])
    assert rotated.exit_code == 0, rotated.output
    new_key = runner.invoke(app, ["audit", "key", "--home", str(served.home)]).stdout.strip()
    assert new_key != served.log_key
    served.append(2)

    followed = _run(served, key_file, state)
    assert followed.returncode == 0, followed.stderr
    assert json.loads(state.read_text())["log_key"] == new_key
    again = _run(served, key_file, state)  # the server appended the cosignature, new key
    assert again.returncode == 0, again.stderr
    verified = runner.invoke(app, ["audit", "verify", "--home", str(served.home)])
    assert verified.exit_code == 0, verified.output
    assert "cosignatures by 1 witnesses" in verified.output

    store = open_store(load_config(served.home))
    mallory = Signer(AuditLog.for_store(store).first_verifier.name, Ed25519PrivateKey.generate())
    with store.engine.begin() as conn:
        size = conn.execute(select(func.max(audit_checkpoints.c.size))).scalar_one()
        note = conn.execute(
            select(audit_checkpoints.c.note).where(audit_checkpoints.c.size == size)
        ).scalar_one()
        body = Checkpoint.parse(note[: note.index("\n\n") + 1])
        conn.execute(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.size == size)
            .values(note=sign_checkpoint(body, mallory))
        )
    store.close()
    alarm = _run(served, key_file, state)
    assert alarm.returncode == 1
    assert "not the log's" in alarm.stderr
    assert json.loads(state.read_text())["log_key"] == new_key, "the state is kept"
