"""C2SP checkpoints (c2sp.org/tlog-checkpoint) and their witness cosignatures
(c2sp.org/tlog-cosignature, the Ed25519 ``cosignature/v1`` form).

A checkpoint is a signed note whose text is::

    <origin>
    <tree size, decimal, no leading zero>
    <base64 of the 32-byte root hash>
    <extension lines, optional, each non-empty>

The log signs it with an ordinary note key (type 0x01) named after the origin. A witness
adds a signature line of type 0x04: ``base64(key id || 8-byte big-endian timestamp ||
Ed25519("cosignature/v1\\ntime <timestamp>\\n" || checkpoint text))``. The witness vouches
for the first three lines only; extension lines are signed but carry no statement.

What this module does not do: check consistency between two checkpoints, or that the root
is the RFC 6962 Merkle root of the entries; a witness does the first with a consistency
proof, which needs a Merkle tree the log does not keep yet.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.audit.errors import MalformedCheckpoint, MalformedKey, Unverified
from hub.audit.note import (
    COSIGNATURE_V1,
    Cosigner,
    Note,
    Signature,
    Signer,
    Verifier,
    cosignature_timestamp,
    open_note,
    sign_note,
)

MAX_SIZE = 2**64 - 1
"""Tree sizes are unsigned 64-bit numbers."""

_SIZE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: origin, tree size and root hash, plus opaque extension lines.

    Checked on construction: the origin is non-empty and holds no control character; the
    size is in 0..2^64-1; the root is 32 bytes; each extension line is non-empty and holds
    no control character. The spec recommends but does not require an origin without
    spaces or ``+``; one used as the log's key name (``open_checkpoint``) must do without.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or _has_control(self.origin):
            raise MalformedCheckpoint("bad_origin", "the origin is empty or holds a newline")
        if not 0 <= self.size <= MAX_SIZE:
            raise MalformedCheckpoint("bad_size", f"tree size {self.size} is out of range")
        if len(self.root) != 32:
            raise MalformedCheckpoint("bad_root", "the root hash is not 32 bytes")
        if any(not line or _has_control(line) for line in self.extensions):
            raise MalformedCheckpoint("bad_extension", "an extension line is empty or broken")

    def body(self) -> str:
        """The note text, final newline included."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """The checkpoint a note text states, byte for byte.

        Checked: the text ends in a newline and has at least three lines; the size is
        ASCII decimal without leading zeros (``0`` alone for the empty tree); the root is
        canonical standard base64 of 32 bytes; then what the constructor checks. So
        ``parse(text).body() == text`` whenever ``parse`` succeeds.
        """
        if not text.endswith("\n"):
            raise MalformedCheckpoint("too_short", "a checkpoint ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpoint("too_short", "a checkpoint has at least three lines")
        origin, size, root, *extensions = lines
        if _SIZE.fullmatch(size) is None:
            raise MalformedCheckpoint("bad_size", f"tree size {size!r} is not plain decimal")
        try:
            raw = base64.b64decode(root.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise MalformedCheckpoint("bad_root", "the root hash is not base64") from None
        if base64.b64encode(raw).decode() != root:
            raise MalformedCheckpoint("bad_root", "the root hash is not canonical base64")
        return cls(origin, int(size), raw, tuple(extensions))


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint opened with its log's key: the note, and the Unix time each witness
    given cosigned it at, by witness name."""

    checkpoint: Checkpoint
    note: Note
    cosigned: dict[str, int] = field(default_factory=dict)


def sign_checkpoint(checkpoint: Checkpoint, log: Signer, *also: Signer) -> str:
    """The checkpoint as a note signed by the log key (and ``also`` by other keys of the
    log: a hand-over checkpoint, ``hub.audit.keychain``), whose names must be the origin."""
    for signer in (log, *also):
        if signer.name != checkpoint.origin:
            raise MalformedKey("bad_name", f"the log key is {signer.name!r}, not the origin")
    return sign_note(checkpoint.body(), log, *also)


def cosign(checkpoint: Checkpoint, witness: Cosigner, *, at: int | None = None) -> str:
    """The witness's ``cosignature/v1`` signature line (newline included) for the
    checkpoint, timestamped ``at`` or by the witness's clock. Add it to the log's note
    with ``hub.audit.note.add_signatures``."""
    text = checkpoint.body().encode()
    signature = witness.sign(text) if at is None else witness.sign_at(text, at)
    return Signature(witness.name, witness.key_id, signature).line()


def verify_cosignature(checkpoint: Checkpoint, line: str, witness: Verifier) -> int:
    """Verify one cosignature line over ``checkpoint``; return its timestamp (Unix seconds).

    Checked: ``witness`` is a ``cosignature/v1`` key (``MalformedKey``, wrong_algorithm);
    the line parses (``MalformedNote``); it names the witness's key (``Unverified``,
    other_key); its timestamp is at most 2^63 - 1 and its Ed25519 signature holds over the
    cosigned message (``InvalidSignature``). A timestamp in the future is not refused here.
    """
    if witness.algorithm != COSIGNATURE_V1:
        raise MalformedKey("wrong_algorithm", f"{witness.name}'s key is not a cosigner key")
    signature = Signature.parse(line)
    if (signature.name, signature.key_id) != (witness.name, witness.key_id):
        raise Unverified(
            "other_key", f"the line is by {signature.name}+{signature.key_id:08x}, not the witness"
        )
    note = open_note(checkpoint.body() + "\n" + signature.line(), [witness])
    return cosignature_timestamp(note.verified[0])


def open_checkpoint(
    note: str | bytes, log: Verifier, witnesses: Iterable[Verifier] = ()
) -> SignedCheckpoint:
    """Open a checkpoint note signed by ``log`` and possibly cosigned by ``witnesses``.

    Checked: everything ``open_note`` checks (any failing signature by the log or a given
    witness refuses the whole note); the log key is a type 0x01 key that signed it
    (``Unverified``, not_signed_by_log); every witness key is a ``cosignature/v1`` one
    (``MalformedKey``, wrong_algorithm); the text is a checkpoint (``Checkpoint.parse``)
    whose origin is the log key's name (``MalformedCheckpoint``, bad_origin). Which
    witnesses, or how many, must have cosigned is the caller's policy: see ``cosigned``.
    """
    if log.algorithm == COSIGNATURE_V1:
        raise MalformedKey("wrong_algorithm", f"{log.name}'s key is a cosigner key, not a log's")
    witnesses = list(witnesses)
    if any(w.algorithm != COSIGNATURE_V1 for w in witnesses):
        raise MalformedKey("wrong_algorithm", "a witness key must be a cosignature/v1 key")
    opened = open_note(note, [log, *witnesses])
    if opened.signed_by(log) is None:
        raise Unverified("not_signed_by_log", f"{log.name} did not sign this checkpoint", opened)
    checkpoint = Checkpoint.parse(opened.text)
    if checkpoint.origin != log.name:
        raise MalformedCheckpoint("bad_origin", f"origin {checkpoint.origin!r} is not {log.name}")
    cosigned = {}
    for witness in witnesses:
        signature = opened.signed_by(witness)
        if signature is not None:
            cosigned[witness.name] = cosignature_timestamp(signature)
    return SignedCheckpoint(checkpoint, opened, cosigned)


def _has_control(text: str) -> bool:
    return any(c < " " for c in text)
