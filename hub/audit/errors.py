"""Errors of the audit package.

AuditError                 the log cannot do what was asked: no signing key, an entry that
 │                         does not decode, a proof asked for beyond the tree
 ├── MerkleError           (hub.audit.merkle) a size, index or hash a tree operation refuses
 ├── WitnessAlarm          a witness found the log is not what it cosigned: truncated, forked,
 │                         a proof that fails, a checkpoint not the log's; ``reason`` a word
 ├── UnknownWitness        a cosignature from a witness the hub has not registered
 ├── AuditKeyUnavailable   the log is signed by an audit key this process does not hold
 └── ArchiveError          (hub.audit.archive) archiving refused or failed; nothing was removed
      ├── RetentionError   the cut is within the retention period (180 days)
      └── ArchiveInvalid   an archive file that does not verify; ``reason`` says why

NoteError                  signed notes, checkpoints and cosignatures (``hub.audit.note``,
                           ``hub.audit.checkpoint``); every one carries ``reason``, a stable word
 ├── MalformedNote         not a signed note, or a signature line that does not parse:
 │                         not_utf8, control_character, no_final_newline, no_blank_line,
 │                         no_signatures, bad_dash, bad_signature_line, bad_name, bad_base64,
 │                         too_many_signatures, bad_timestamp
 ├── MalformedCheckpoint   a note text that is not a tlog-checkpoint body: too_short,
 │                         bad_origin, bad_size, bad_root, bad_extension
 ├── MalformedKey          a key string, key name or key list that cannot be used: bad_vkey,
 │                         bad_skey, bad_name, unknown_algorithm, key_id_mismatch,
 │                         ambiguous_key, wrong_algorithm
 ├── InvalidSignature      a signature by a known key (name and key id match) that fails:
 │                         invalid_signature
 └── Unverified            well formed, but not signed by the key that was required:
                           no_known_signature, not_signed_by_log, other_key

A note refused for any of these reasons must be treated as if it had not been received.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.errors import HubError

if TYPE_CHECKING:
    from hub.audit.note import Note


class AuditError(HubError):
    """The log cannot do what was asked: no signing key, an entry that does not decode."""


class WitnessAlarm(AuditError):
    """What a witness must not cosign; it keeps its state and exits non-zero."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class UnknownWitness(AuditError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no witness {name!r} is registered")


class AuditKeyUnavailable(AuditError):
    """The log's last hand-over names an audit key neither this process nor its key file
    holds: nothing is signed (and so nothing appended) rather than a checkpoint by a key
    the chain has left behind."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"the audit log is now signed by key {key_id}, which the key file does not hold: "
            "finish the rotation (hub keys rotate --audit) or restore the key file"
        )
        self.key_id = key_id


class ArchiveError(AuditError):
    """Archiving was refused or failed before anything was removed from the database."""


class RetentionError(ArchiveError):
    """The cut asked for would archive entries younger than the retention period."""


class ArchiveInvalid(ArchiveError):
    """An archive file that does not verify; ``reason`` says why, in a sentence."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NoteError(HubError):
    """Base of the note errors; ``reason`` says why, in one word callers can match on."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class MalformedNote(NoteError):
    pass


class MalformedCheckpoint(NoteError):
    pass


class MalformedKey(NoteError):
    pass


class InvalidSignature(NoteError):
    def __init__(self, name: str, key_id: int) -> None:
        self.name = name
        self.key_id = key_id
        super().__init__("invalid_signature", f"invalid signature by key {name}+{key_id:08x}")


class Unverified(NoteError):
    """``note`` is the parsed note when there was one (its signatures all unverified): for
    diagnosis only, its text must not be trusted."""

    def __init__(self, reason: str, message: str, note: Note | None = None) -> None:
        self.note = note
        super().__init__(reason, message)
