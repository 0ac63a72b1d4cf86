"""Signed notes, checkpoints and cosignatures against the C2SP documents and the Go reference.

Published vectors are re-typed here, each with the repository and file it comes from.
"""

from __future__ import annotations

import base64
from typing import TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.audit.checkpoint import (
    Checkpoint,
    cosign,
    open_checkpoint,
    sign_checkpoint,
    verify_cosignature,
)
from hub.audit.errors import (
    InvalidSignature,
    MalformedCheckpoint,
    MalformedKey,
    MalformedNote,
    NoteError,
    Unverified,
)
from hub.audit.note import (
    COSIGNATURE_V1,
    ED25519,
    Cosigner,
    Signature,
    Signer,
    Verifier,
    add_signatures,
    cosignature_timestamp,
    note_key_id,
    open_note,
    sign_note,
    verifier_key,
)

# github.com/golang/mod, sumdb/note/note_test.go (public test keys of TestNewVerifier,
# TestNewSigner, TestSign, TestOpen).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
ENOCH_B64 = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
PETER_SIG = f"— PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"— EnochRoot {ENOCH_B64}\n"

# github.com/C2SP/C2SP, signed-note.md, "Example".
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n"
    "\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRK"
    "uwHjG1Yu72IneyaQM=\n"
)

# github.com/C2SP/C2SP, tlog-checkpoint.md and tlog-cosignature.md (the example checkpoint
# and its witness line; the cosignature document's signed-message example is at 1679315147).
C2SP_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
C2SP_WITNESS_LINE = (
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJs"
    "X3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)

# github.com/transparency-dev/formats, note/note_cosigv1_test.go (TestCoSigV1NewVerifier,
# TestCoSigV1Timestamp).
REMORA_COSIGNER_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
TD_ED25519_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
TD_COSIG_B64 = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBY"
    "JXORmnFBOBA=="
)
TD_NOT_A_COSIG_B64 = (
    "eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY="
)

ROOT = bytes(range(32))
E = TypeVar("E", bound=NoteError)


def _key(n: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32)


def _raises(reason: str, error: type[E] = MalformedNote) -> pytest.RaisesExc[E]:  # type: ignore[assignment]
    """``pytest.raises`` for ``error`` whose ``reason`` is ``reason``."""
    return pytest.raises(error, check=lambda e: e.reason == reason)


# --- published vectors ------------------------------------------------------------------


def test_the_go_verifier_key_parses_and_prints_back() -> None:
    v = Verifier.parse(PETER_VKEY)
    assert (v.name, v.key_id, v.algorithm) == ("PeterNeumann", 0xC74F20A3, ED25519)
    assert v.vkey() == PETER_VKEY
    assert verifier_key(v.name, v.public_key) == PETER_VKEY


def test_the_go_signer_key_signs_the_published_note_byte_for_byte() -> None:
    signer = Signer.parse(PETER_SKEY)
    assert sign_note(TEXT, signer) == TEXT + "\n" + PETER_SIG
    assert signer.skey() == PETER_SKEY
    assert signer.verifier().vkey() == PETER_VKEY


def test_the_go_note_opens_with_the_known_key_and_keeps_the_other_unverified() -> None:
    note = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [Verifier.parse(PETER_VKEY)])
    assert note.text == TEXT
    assert [(s.name, s.key_id) for s in note.verified] == [("PeterNeumann", 0xC74F20A3)]
    assert [(s.name, s.key_id) for s in note.unverified] == [("EnochRoot", 0xAF0CFE78)]
    assert note.unverified[0].line() == ENOCH_SIG


def test_the_go_note_opens_with_both_keys() -> None:
    verifiers = [Verifier.parse(PETER_VKEY), Verifier.parse(ENOCH_VKEY)]
    note = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), verifiers)
    assert [s.name for s in note.verified] == ["PeterNeumann", "EnochRoot"]
    assert note.unverified == ()


def test_a_note_signed_by_no_known_key_is_refused_but_shown() -> None:
    with _raises("no_known_signature", Unverified) as caught:
        open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    assert caught.value.note is not None
    assert [s.name for s in caught.value.note.unverified] == ["PeterNeumann", "EnochRoot"]


def test_the_c2sp_example_note_verifies() -> None:
    note = open_note(C2SP_NOTE, [Verifier.parse(C2SP_VKEY)])
    assert note.text == "This is an example message.\n"
    assert note.verified[0].key_id == 0x530D903A


def test_every_mangling_of_the_go_vkey_is_refused() -> None:
    """As golang/mod's TestNewVerifier: every proper substring, every character + 1."""
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(MalformedKey):
                    Verifier.parse(PETER_VKEY[i:j])
    for i, c in enumerate(PETER_VKEY):
        with pytest.raises(MalformedKey):
            Verifier.parse(PETER_VKEY[:i] + chr(ord(c) + 1) + PETER_VKEY[i + 1 :])


def test_every_mangling_of_the_go_skey_is_refused() -> None:
    for i in range(len(PETER_SKEY) + 1):
        for j in range(i + 1, len(PETER_SKEY) + 1):
            if (i, j) != (0, len(PETER_SKEY)):
                with pytest.raises(MalformedKey):
                    Signer.parse(PETER_SKEY[i:j])
    for i, c in enumerate(PETER_SKEY):
        with pytest.raises(MalformedKey):
            Signer.parse(PETER_SKEY[:i] + chr(ord(c) + 1) + PETER_SKEY[i + 1 :])


@pytest.mark.parametrize(
    ("vkey", "reason"),
    [
        # golang/mod sumdb/note/note_test.go: wrong key length, unknown algorithm (both with
        # the key id adjusted to match).
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "bad_vkey",
        ),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "unknown_algorithm"),
        # transparency-dev/formats note/note_cosigv1_test.go
        ("bananas.sigstore.dev+12344556", "bad_vkey"),
        ("rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!", "bad_vkey"),
        ("rekor.sigstore.dev+12345678+AwEB", "unknown_algorithm"),
        # ours: uppercase hex, a name with a space
        (PETER_VKEY.replace("c74f20a3", "C74F20A3"), "bad_vkey"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "bad_name"),
    ],
)
def test_bad_vkeys_are_refused_with_their_reason(vkey: str, reason: str) -> None:
    with _raises(reason, MalformedKey):
        Verifier.parse(vkey)


def test_published_vkeys_of_both_signature_types_parse() -> None:
    assert Verifier.parse(TD_ED25519_VKEY).algorithm == ED25519
    remora = Verifier.parse(REMORA_COSIGNER_VKEY)
    assert (remora.algorithm, remora.key_id) == (COSIGNATURE_V1, 0xDA77ADE7)
    assert remora.vkey() == REMORA_COSIGNER_VKEY


def test_published_cosignatures_state_their_timestamps() -> None:
    c2sp = Signature.parse(C2SP_WITNESS_LINE)
    assert (c2sp.name, cosignature_timestamp(c2sp)) == ("witness.example.com/w1", 1679315147)
    td = Signature.parse(f"— w {TD_COSIG_B64}")
    assert cosignature_timestamp(td) == 1727964367
    with _raises("bad_signature_line"):
        cosignature_timestamp(Signature.parse(f"— w {TD_NOT_A_COSIG_B64}"))


def test_the_c2sp_checkpoint_parses_and_prints_back() -> None:
    checkpoint = Checkpoint.parse(C2SP_CHECKPOINT)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.root.hex().startswith("0ac5186a")
    assert checkpoint.body() == C2SP_CHECKPOINT


# --- malformed notes --------------------------------------------------------------------

BAD_NOTES = [
    (TEXT, "no_blank_line"),
    (TEXT + "\n", "no_signatures"),
    (TEXT + "\n" + PETER_SIG[:-1], "no_final_newline"),
    ("\x01" + TEXT + "\n" + PETER_SIG, "control_character"),
    (TEXT + "\n" + PETER_SIG.replace("\n", "\r\n"), "control_character"),
    ("\ud800" + TEXT + "\n" + PETER_SIG, "not_utf8"),
    (TEXT + "\n" + PETER_SIG.replace("—", "-"), "bad_dash"),
    (TEXT + "\n" + PETER_SIG.replace("—", "–"), "bad_dash"),
    (TEXT + "\n" + PETER_SIG.replace("— ", "—"), "bad_dash"),
    (TEXT + "\n" + PETER_SIG + "Unexpected line.\n", "bad_dash"),
    (TEXT + "\n" + "— PeterNeumann\n", "bad_signature_line"),
    (TEXT + "\n" + "— PeterNeumann \n", "bad_signature_line"),
    (TEXT + "\n" + PETER_SIG.replace("=\n", "= trailing\n"), "bad_base64"),
    (TEXT + "\n" + PETER_SIG.replace("=\n", "\n"), "bad_base64"),
    (TEXT + "\n" + f"— Bad Name {PETER_B64}\n", "bad_base64"),
    (TEXT + "\n" + "— PeterNeumann AAAA\n", "bad_base64"),
    (TEXT + "\n" + f"— Peter+Neumann {PETER_B64}\n", "bad_name"),
    (TEXT + "\n" + PETER_SIG * 101, "too_many_signatures"),
]


@pytest.mark.parametrize(("note", "reason"), BAD_NOTES)
def test_malformed_notes_are_refused_with_their_reason(note: str, reason: str) -> None:
    with _raises(reason):
        open_note(note, [Verifier.parse(PETER_VKEY)])


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with _raises("not_utf8"):
        open_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode(), [Verifier.parse(PETER_VKEY)])


# --- verification -----------------------------------------------------------------------


def test_tampered_text_fails_the_known_signature() -> None:
    note = (TEXT + "\n" + PETER_SIG).replace("answer", "Answer")
    with pytest.raises(InvalidSignature) as caught:
        open_note(note, [Verifier.parse(PETER_VKEY)])
    assert (caught.value.reason, caught.value.key_id) == ("invalid_signature", 0xC74F20A3)


def test_a_tampered_signature_by_a_known_key_fails() -> None:
    # golang/mod note_test.go: "ABCD" inserted inside the signature bytes.
    tampered = PETER_SIG[:40] + "ABCD" + PETER_SIG[40:]
    with pytest.raises(InvalidSignature):
        open_note(TEXT + "\n" + tampered, [Verifier.parse(PETER_VKEY)])


def test_a_wrong_key_id_makes_the_signature_unknown_not_trusted() -> None:
    wrong_id = PETER_SIG.replace("x08g", "xxxx")
    with _raises("no_known_signature", Unverified):
        open_note(TEXT + "\n" + wrong_id, [Verifier.parse(PETER_VKEY)])
    note = open_note(TEXT + "\n" + wrong_id + PETER_SIG, [Verifier.parse(PETER_VKEY)])
    assert [s.verified for s in note.signatures] == [False, True]


def test_another_key_under_a_known_name_is_ignored() -> None:
    impostor = Signer("PeterNeumann", _key(9))
    note = open_note(
        sign_note(TEXT, impostor, Signer.parse(PETER_SKEY)), [Verifier.parse(PETER_VKEY)]
    )
    assert [(s.name, s.verified) for s in note.signatures] == [
        ("PeterNeumann", False),
        ("PeterNeumann", True),
    ]


def test_repeated_signatures_are_kept_once() -> None:
    # golang/mod note_test.go: "Duplicated verified and unverified signatures".
    b64_at = len("— EnochRoot ")
    enoch_abcd = ENOCH_SIG[: b64_at + 46] + "ABCD" + ENOCH_SIG[b64_at + 46 :]
    note = open_note(
        TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd,
        [Verifier.parse(PETER_VKEY)],
    )
    assert [s.name for s in note.verified] == ["PeterNeumann"]
    assert [s.line() for s in note.unverified] == [ENOCH_SIG, enoch_abcd]


def test_a_bad_repeat_by_a_known_key_fails_even_after_a_good_one() -> None:
    """Stricter than golang/mod, which skips repeats by a key without verifying them."""
    tampered = PETER_SIG[:40] + "ABCD" + PETER_SIG[40:]
    with pytest.raises(InvalidSignature):
        open_note(TEXT + "\n" + PETER_SIG + tampered, [Verifier.parse(PETER_VKEY)])


def test_two_different_keys_with_one_name_and_id_are_refused() -> None:
    peter = Verifier.parse(PETER_VKEY)
    open_note(TEXT + "\n" + PETER_SIG, [peter, Verifier.parse(PETER_VKEY)])
    other = Verifier("PeterNeumann", _key(9).public_key())
    other.key_id = peter.key_id
    with _raises("ambiguous_key", MalformedKey):
        open_note(TEXT + "\n" + PETER_SIG, [peter, other])


# --- signing ----------------------------------------------------------------------------


def test_a_generated_key_round_trips_through_its_strings() -> None:
    signer = Signer("hub.example/audit", _key(1))
    again = Signer.parse(signer.skey())
    verifier = Verifier.parse(signer.verifier().vkey())
    note = sign_note("hello\n\nworld\n", again)
    opened = open_note(note, [verifier])
    assert opened.text == "hello\n\nworld\n"
    assert opened.signed_by(verifier) is not None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no newline", "no_final_newline"),
        ("tab\there\n", "control_character"),
        ("\ud800\n", "not_utf8"),
    ],
)
def test_sign_note_refuses_text_that_is_no_note_text(text: str, reason: str) -> None:
    with _raises(reason):
        sign_note(text, Signer("a", _key(1)))


def test_sign_note_needs_distinct_signers() -> None:
    with _raises("no_signatures"):
        sign_note(TEXT)
    with _raises("ambiguous_key", MalformedKey):
        sign_note(TEXT, Signer("a", _key(1)), Signer("a", _key(1)))


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\u2003b", "a\nb"])
def test_key_names_with_spaces_or_plus_are_refused(name: str) -> None:
    with _raises("bad_name", MalformedKey):
        Signer(name, _key(1))
    with _raises("bad_name", MalformedKey):
        verifier_key(name, _key(1).public_key())


# --- checkpoints ------------------------------------------------------------------------

LOG = Signer("hub.example/audit", _key(1))
WITNESS = Cosigner("witness.example/w1", _key(2), clock=lambda: 1700000000.75)
CHECKPOINT = Checkpoint("hub.example/audit", 42, ROOT)


def test_a_checkpoint_body_round_trips_with_extensions() -> None:
    checkpoint = Checkpoint("hub.example/audit", 0, ROOT, ("ext one", "two"))
    body = checkpoint.body()
    assert body.splitlines()[:2] == ["hub.example/audit", "0"]
    assert Checkpoint.parse(body) == checkpoint


ROOT_B64 = base64.b64encode(ROOT).decode()
URLSAFE_ROOT = base64.urlsafe_b64encode(bytes([255]) * 32).decode()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"o\n42\n{ROOT_B64}", "too_short"),
        ("o\n42\n", "too_short"),
        (f"\n42\n{ROOT_B64}\n", "bad_origin"),
        (f"o\n042\n{ROOT_B64}\n", "bad_size"),
        (f"o\n+42\n{ROOT_B64}\n", "bad_size"),
        (f"o\n-1\n{ROOT_B64}\n", "bad_size"),
        (f"o\n 42\n{ROOT_B64}\n", "bad_size"),
        (f"o\n\n{ROOT_B64}\n", "bad_size"),
        (f"o\n{2**64}\n{ROOT_B64}\n", "bad_size"),
        (f"o\n42\n{base64.b64encode(ROOT[:31]).decode()}\n", "bad_root"),
        (f"o\n42\n{ROOT_B64.rstrip('=')}\n", "bad_root"),
        (f"o\n42\n{ROOT_B64[:-2]}9=\n", "bad_root"),
        (f"o\n42\n{URLSAFE_ROOT}\n", "bad_root"),
        (f"o\n42\n{ROOT_B64}\n\nx\n", "bad_extension"),
    ],
)
def test_checkpoint_parse_is_strict(text: str, reason: str) -> None:
    with _raises(reason, MalformedCheckpoint):
        Checkpoint.parse(text)


def test_a_signed_checkpoint_opens_with_the_log_key() -> None:
    opened = open_checkpoint(sign_checkpoint(CHECKPOINT, LOG), LOG.verifier())
    assert opened.checkpoint == CHECKPOINT
    assert opened.cosigned == {}


@pytest.mark.parametrize(("line", "value"), [(1, "43"), (2, base64.b64encode(b"\1" * 32).decode())])
def test_a_checkpoint_with_its_size_or_root_altered_fails(line: int, value: str) -> None:
    lines = sign_checkpoint(CHECKPOINT, LOG).split("\n")
    lines[line] = value
    with pytest.raises(InvalidSignature):
        open_checkpoint("\n".join(lines), LOG.verifier())


def test_a_checkpoint_must_be_signed_by_the_log_for_its_origin() -> None:
    with _raises("bad_name", MalformedKey):
        sign_checkpoint(CHECKPOINT, Signer("other.example/log", _key(1)))
    other_origin = sign_note(Checkpoint("other.example", 1, ROOT).body(), LOG)
    with _raises("bad_origin", MalformedCheckpoint):
        open_checkpoint(other_origin, LOG.verifier())
    witnessed_only = sign_note(CHECKPOINT.body(), WITNESS)
    with _raises("not_signed_by_log", Unverified):
        open_checkpoint(witnessed_only, LOG.verifier(), [WITNESS.verifier()])
    with _raises("wrong_algorithm", MalformedKey):
        open_checkpoint(witnessed_only, WITNESS.verifier())
    with _raises("wrong_algorithm", MalformedKey):
        open_checkpoint(witnessed_only, LOG.verifier(), [LOG.verifier()])


# --- cosignatures -----------------------------------------------------------------------


def test_the_cosigner_key_id_uses_type_0x04() -> None:
    raw = _key(2).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert WITNESS.key_id == note_key_id(WITNESS.name, 0x04, raw)
    assert WITNESS.key_id != Signer(WITNESS.name, _key(2)).key_id
    vkey = WITNESS.verifier().vkey()
    assert vkey == verifier_key(WITNESS.name, _key(2).public_key(), COSIGNATURE_V1)
    assert base64.b64decode(vkey.split("+")[2])[0] == 0x04
    assert Cosigner.parse(WITNESS.skey()).key_id == WITNESS.key_id


def test_a_cosignature_verifies_and_states_its_timestamp() -> None:
    line = cosign(CHECKPOINT, WITNESS)
    assert verify_cosignature(CHECKPOINT, line, WITNESS.verifier()) == 1700000000
    at = cosign(CHECKPOINT, WITNESS, at=1679315147)
    assert verify_cosignature(CHECKPOINT, at, Verifier.parse(WITNESS.verifier().vkey())) == (
        1679315147
    )


def test_the_cosigned_message_is_the_c2sp_one() -> None:
    line = cosign(CHECKPOINT, WITNESS, at=1679315147)
    signature = Signature.parse(line).signature
    message = b"cosignature/v1\ntime 1679315147\n" + CHECKPOINT.body().encode()
    _key(2).public_key().verify(signature[8:], message)
    assert signature[:8] == (1679315147).to_bytes(8, "big")


def test_a_cosignature_over_another_checkpoint_fails() -> None:
    line = cosign(CHECKPOINT, WITNESS)
    for other in (
        Checkpoint(CHECKPOINT.origin, 43, ROOT),
        Checkpoint(CHECKPOINT.origin, 42, b"\1" * 32),
        Checkpoint("hub.example/other", 42, ROOT),
        Checkpoint(CHECKPOINT.origin, 42, ROOT, ("extension",)),
    ):
        with pytest.raises(InvalidSignature):
            verify_cosignature(other, line, WITNESS.verifier())


def test_a_cosignature_is_checked_against_the_witness_it_names() -> None:
    line = cosign(CHECKPOINT, WITNESS)
    other = Cosigner("witness.example/w2", _key(3))
    with _raises("other_key", Unverified):
        verify_cosignature(CHECKPOINT, line, other.verifier())
    with _raises("wrong_algorithm", MalformedKey):
        verify_cosignature(CHECKPOINT, line, Signer(WITNESS.name, _key(2)).verifier())
    with _raises("bad_dash"):
        verify_cosignature(CHECKPOINT, line.replace("—", "-"), WITNESS.verifier())


def test_a_cosignature_timestamp_must_fit_63_bits() -> None:
    with _raises("bad_timestamp"):
        cosign(CHECKPOINT, WITNESS, at=2**63)
    signature = Signature.parse(cosign(CHECKPOINT, WITNESS, at=5)).signature
    forged = Signature(WITNESS.name, WITNESS.key_id, (2**63).to_bytes(8, "big") + signature[8:])
    with pytest.raises(InvalidSignature):
        verify_cosignature(CHECKPOINT, forged.line(), WITNESS.verifier())


def test_a_note_signature_is_no_cosignature_and_the_reverse() -> None:
    as_note_key = Signer(WITNESS.name, _key(2))
    cosigned = sign_note(CHECKPOINT.body(), WITNESS)
    with _raises("no_known_signature", Unverified):
        open_note(cosigned, [as_note_key.verifier()])
    plain = sign_note(CHECKPOINT.body(), as_note_key)
    with _raises("no_known_signature", Unverified):
        open_note(plain, [WITNESS.verifier()])


def test_a_witnessed_checkpoint_opens_with_its_cosignatures() -> None:
    second = Cosigner("witness.example/w2", _key(3))
    stranger = Cosigner("witness.example/w3", _key(4))
    note = add_signatures(
        sign_checkpoint(CHECKPOINT, LOG),
        cosign(CHECKPOINT, WITNESS),
        cosign(CHECKPOINT, second, at=1700000100),
        cosign(CHECKPOINT, stranger, at=1),
    )
    opened = open_checkpoint(note, LOG.verifier(), [WITNESS.verifier(), second.verifier()])
    assert opened.cosigned == {"witness.example/w1": 1700000000, "witness.example/w2": 1700000100}
    assert [s.name for s in opened.note.unverified] == ["witness.example/w3"]
    with _raises("bad_signature_line"):
        add_signatures(note, cosign(CHECKPOINT, WITNESS))


def test_a_bad_cosignature_refuses_the_whole_checkpoint() -> None:
    forged = cosign(Checkpoint(CHECKPOINT.origin, 1, ROOT), WITNESS)
    note = add_signatures(sign_checkpoint(CHECKPOINT, LOG), forged)
    with pytest.raises(InvalidSignature):
        open_checkpoint(note, LOG.verifier(), [WITNESS.verifier()])
    assert open_checkpoint(note, LOG.verifier()).cosigned == {}
