"""A witness: a partner system's own check that the hub's audit log only ever grows.

Run on the partner's machine (``hub audit witness run``), it keeps a state file with the
last checkpoint it cosigned. Each run fetches the hub's newest checkpoint, checks that the
hub's key signed it, and that it extends the one the witness cosigned before (the same root
at the same size, or a consistency proof from the old size to the new one). Only then does
it cosign and send the cosignature back. A smaller tree, a different root at the same size,
or a proof that fails is an alarm: nothing is cosigned, the state is kept, and the run
exits non-zero naming the sizes, because the log was truncated or rewritten.

When the hub rotates its audit key, its newest checkpoint is signed by a key the witness
does not know. The witness then asks for the log's key changes (``/v1/audit/keys``) and
follows them from the key it holds (``hub.audit.keychain``): each hand-over checkpoint must
be signed by that key and by the key it names, and extend what the witness saw, before the
named key is trusted; the state file keeps the key reached. A key that no such chain
leads to is an alarm, like a rewrite.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import httpx

from hub.audit.checkpoint import Checkpoint, cosign, open_checkpoint
from hub.audit.errors import NoteError, Unverified, WitnessAlarm
from hub.audit.keychain import next_key, signed_by_next
from hub.audit.merkle import tree_hash_for, verify_consistency
from hub.audit.note import Cosigner, Verifier
from hub.files import write_private


@dataclass(frozen=True, slots=True)
class WitnessState:
    origin: str
    size: int
    root: bytes
    log_key: str | None = None
    """The log key reached by following its key changes; None: the one pinned at start."""

    @classmethod
    def load(cls, path: Path) -> WitnessState | None:
        if not path.exists():
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            document["origin"],
            int(document["size"]),
            base64.b64decode(document["root"]),
            document.get("log_key"),
        )

    def save(self, path: Path) -> None:
        document = {
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
        }
        if self.log_key is not None:
            document["log_key"] = self.log_key
        write_private(path, json.dumps(document, indent=2) + "\n")


def witness_once(
    http: httpx.Client, cosigner: Cosigner, log: Verifier, state_path: Path
) -> WitnessState:
    """One round: fetch, check, cosign, send, remember. Raises ``WitnessAlarm``."""
    before = WitnessState.load(state_path)
    if before is not None and before.log_key is not None:
        log = Verifier.parse(before.log_key)
    answer = http.get("/v1/audit/checkpoint")
    if answer.status_code != 200:
        raise WitnessAlarm(
            "unavailable", f"the hub answered {answer.status_code} for its checkpoint"
        )
    try:
        checkpoint = open_checkpoint(answer.text, log).checkpoint
    except Unverified:
        before, log = _follow_keys(http, before, log)
        checkpoint = _open(answer.text, log)
    except NoteError as exc:
        raise WitnessAlarm("bad_checkpoint", f"the checkpoint is not the log's: {exc}") from None
    if before is not None:
        _extends(http, before, checkpoint, log)
    line = cosign(checkpoint, cosigner)
    sent = http.post(
        "/v1/audit/checkpoint/cosignature",
        json={"size": checkpoint.size, "cosignature": line},
    )
    if sent.status_code not in (200, 201):
        raise WitnessAlarm("refused", f"the hub refused the cosignature: {sent.text[:200]}")
    after = WitnessState(checkpoint.origin, checkpoint.size, checkpoint.root, log.vkey())
    after.save(state_path)
    return after


def _open(note: str, log: Verifier) -> Checkpoint:
    try:
        return open_checkpoint(note, log).checkpoint
    except NoteError as exc:
        raise WitnessAlarm("bad_checkpoint", f"the checkpoint is not the log's: {exc}") from None


def _follow_keys(
    http: httpx.Client, before: WitnessState | None, log: Verifier
) -> tuple[WitnessState | None, Verifier]:
    """Walk the log's hand-overs from ``log``, the key held, to the newest one; each must
    be signed by the key before it and the key it names, and extend what was seen."""
    answer = http.get("/v1/audit/keys")
    if answer.status_code != 200:
        raise WitnessAlarm("bad_checkpoint", "the checkpoint is signed by a key not known here")
    for change in answer.json()["changes"]:
        try:
            opened = open_checkpoint(change["checkpoint"], log)
        except Unverified:
            continue  # a hand-over before the key held: already behind us
        except NoteError as exc:
            raise WitnessAlarm("bad_key_change", f"a key change does not verify: {exc}") from None
        handover = opened.checkpoint
        try:
            new = next_key(handover)
        except NoteError as exc:
            raise WitnessAlarm("bad_key_change", f"a key change does not verify: {exc}") from None
        if new == log:
            continue  # the hand-over to the key held (signed by it too)
        if new is None or not signed_by_next(change["checkpoint"], new):
            raise WitnessAlarm(
                "bad_key_change",
                f"the checkpoint of size {handover.size} is served as a key change but does "
                "not hand over to a key that signed it",
            )
        if before is not None:
            _extends(http, before, handover, log)
        before = WitnessState(handover.origin, handover.size, handover.root, new.vkey())
        log = new
    return before, log


def _extends(http: httpx.Client, before: WitnessState, now: Checkpoint, log: Verifier) -> None:
    if now.origin != before.origin:
        raise WitnessAlarm("other_log", f"origin {now.origin} is not {before.origin}")
    if now.size < before.size:
        raise WitnessAlarm(
            "truncated",
            f"the log shows size {now.size}, smaller than size {before.size} this witness "
            "cosigned: entries were removed",
        )
    if now.size == before.size:
        if now.root != before.root:
            raise WitnessAlarm("fork", f"size {now.size} has another root than the one cosigned")
        return
    answer = http.get("/v1/audit/consistency", params={"from": before.size, "to": now.size})
    if answer.status_code != 200:
        raise WitnessAlarm("bad_proof", f"no consistency proof from {before.size} to {now.size}")
    proof = [base64.b64decode(h) for h in answer.json()["proof"]]
    th = tree_hash_for(log.public_key)
    if not verify_consistency(before.size, now.size, before.root, now.root, proof, th):
        raise WitnessAlarm(
            "fork",
            f"the tree of size {now.size} does not extend the one of size {before.size} this "
            "witness cosigned: the log was rewritten",
        )
