"""The audit log's key changes, as its checkpoints state them.

The log's origin never changes: it names the log's first key (``origin_for``). When the
audit key is rotated, the log appends an ``audit.key_changed`` entry and signs the
checkpoint that ends on it (the *hand-over* checkpoint) with both keys; that checkpoint
has a second extension line, ``key <vkey>``, naming the new key. Every later checkpoint is
signed by the new key alone. So the chain of keys is carried by the signed checkpoints
themselves: anyone holding one key of the chain (an auditor the first, a witness the one
it last saw) follows it forward, and no key can be introduced without a signature by the
key before it. The C2SP checkpoint format allows such extension lines; witnesses that do
not know this one cosign the first three lines as usual.
"""

from __future__ import annotations

import re

from hub.audit.checkpoint import Checkpoint
from hub.audit.errors import MalformedCheckpoint, NoteError
from hub.audit.note import COSIGNATURE_V1, Verifier, open_note

KEY_CHANGED = "audit.key_changed"
"""The action of the entry a hand-over checkpoint ends on."""

_KEY = re.compile(r"key (\S+)")


def key_line(next_key: Verifier) -> str:
    return f"key {next_key.vkey()}"


def next_key(checkpoint: Checkpoint) -> Verifier | None:
    """The key a hand-over checkpoint hands over to; None for any other checkpoint.

    Raises ``MalformedCheckpoint`` when the line is there but names no log key of the
    same origin."""
    lines = [line for line in checkpoint.extensions[1:] if line.startswith("key ")]
    if not lines:
        return None
    found = _KEY.fullmatch(lines[0])
    if len(lines) > 1 or found is None:
        raise MalformedCheckpoint("bad_extension", "a checkpoint names one next key at most")
    try:
        verifier = Verifier.parse(found.group(1))
    except NoteError:
        raise MalformedCheckpoint("bad_extension", "the next key is not a verifier key") from None
    if verifier.algorithm == COSIGNATURE_V1 or verifier.name != checkpoint.origin:
        raise MalformedCheckpoint(
            "bad_extension", f"the next key {verifier.name} is not a key of {checkpoint.origin}"
        )
    return verifier


def signed_by_next(note: str, key: Verifier) -> bool:
    """Whether the hand-over note is signed by the key it hands over to as well."""
    try:
        return open_note(note, [key]).signed_by(key) is not None
    except NoteError:
        return False
