"""The crypto suites: published test vectors, round trips, tampering, and a hub that keeps
the suite it was made with."""

from __future__ import annotations

import hmac
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from typer.testing import CliRunner

from hub.cli import app as cli
from hub.errors import KeyringError
from hub.store import Keyring
from hub.store.suite import GM, SM2_USER_ID, STANDARD, GmSuite, suite_named
from policies import PseudonymKey, pseudonym
from tests.conftest import SUITES

# --- published vectors --------------------------------------------------------------------


def test_sm3_of_abc_is_the_standard_vector() -> None:
    """GB/T 32905-2016 appendix A.1 (example 1)."""
    expected = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert GmSuite().digest(b"abc").hex() == expected


def test_sm3_of_the_64_byte_message_is_the_standard_vector() -> None:
    """GB/T 32905-2016 appendix A.2 (example 2): "abcd" sixteen times."""
    expected = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    assert GmSuite().digest(b"abcd" * 16).hex() == expected


def test_sm4_block_is_the_standard_vector() -> None:
    """GB/T 32907-2016 appendix A.1: one block, key = plaintext."""
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 (the vector is one block)
    block = encryptor.update(key) + encryptor.finalize()
    assert block.hex() == "681edf34d206965e86b3e94f536e4246"


def test_hmac_sm3_agrees_with_a_second_implementation() -> None:
    """The suite's HMAC-SM3 (cryptography) against Python's ``hmac`` over OpenSSL's SM3."""
    key, message = b"k" * 32, b"320104198001011234"
    mac = GmSuite().mac(key)
    mac.update(message)
    assert mac.hexdigest() == hmac.new(key, message, "sm3").hexdigest()


# --- SM2 ----------------------------------------------------------------------------------

_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)
Point = tuple[int, int] | None


def _add(p: Point, q: Point) -> Point:
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % _P == 0:
        return None
    if p == q:
        slope = (3 * p[0] * p[0] + _A) * pow(2 * p[1], -1, _P)
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, _P)
    x = (slope * slope - p[0] - q[0]) % _P
    return x, (slope * (p[0] - x) - p[1]) % _P


def _mul(k: int, p: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = _add(result, p)
        p, k = _add(p, p), k >> 1
    return result


def _sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def _textbook_sm2_verify(public: bytes, message: bytes, signature: bytes, user_id: bytes) -> bool:
    """GB/T 32918.2-2016 §7 written out (Z_A, e, t, (x1, y1) = [s]G + [t]P_A, R = e + x1):
    an implementation that shares nothing with Tongsuo's but SM3."""
    x, y = int.from_bytes(public[1:33], "big"), int.from_bytes(public[33:], "big")
    coordinates = b"".join(v.to_bytes(32, "big") for v in (_A, _B, *_G, x, y))
    z = _sm3(len(user_id * 8).to_bytes(2, "big") + user_id + coordinates)
    e = int.from_bytes(_sm3(z + message), "big")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    t = (r + s) % _N
    if not (1 <= r < _N and 1 <= s < _N) or t == 0:
        return False
    point = _add(_mul(s, _G), _mul(t, (x, y)))
    return point is not None and (e + point[0]) % _N == r


def test_sm2_signs_and_verifies_and_refuses_another_message() -> None:
    gm = GmSuite()
    private = gm.new_signing_key()
    public = gm.public_key(private)
    signature = gm.sign(private, b"hub checkpoint")
    assert len(public) == 65
    assert public[0] == 4
    assert len(signature) == 64
    assert gm.verify(public, signature, b"hub checkpoint")
    assert not gm.verify(public, signature, b"hub checkpoinT")
    assert not gm.verify(gm.public_key(gm.new_signing_key()), signature, b"hub checkpoint")


def test_sm2_signature_holds_by_the_textbook_algorithm_with_the_default_user_id() -> None:
    """The known-answer check of the user id: Tongsuo's signature verifies by the
    standard's own equations with Z_A over ``1234567812345678``, and not with another id;
    and a signature made by those equations verifies by Tongsuo."""
    gm = GmSuite()
    private = gm.new_signing_key()
    public = gm.public_key(private)
    message = b"tree_size 42"
    signature = gm.sign(private, message)
    assert _textbook_sm2_verify(public, message, signature, SM2_USER_ID)
    assert not _textbook_sm2_verify(public, message, signature, b"ALICE123@YAHOO.COM")
    # the other way round: sign by the standard (GB/T 32918.2 §6.1) with a fixed k
    d = int.from_bytes(private, "big")
    x, y = int.from_bytes(public[1:33], "big"), int.from_bytes(public[33:], "big")
    coordinates = b"".join(v.to_bytes(32, "big") for v in (_A, _B, *_G, x, y))
    z = _sm3((len(SM2_USER_ID) * 8).to_bytes(2, "big") + SM2_USER_ID + coordinates)
    e = int.from_bytes(_sm3(z + message), "big")
    k = 0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F
    kg = _mul(k, _G)
    assert kg is not None
    r = (e + kg[0]) % _N
    s = pow(1 + d, -1, _N) * (k - r * d) % _N
    assert gm.verify(public, r.to_bytes(32, "big") + s.to_bytes(32, "big"), message)


# --- sealing under each suite --------------------------------------------------------------


@pytest.mark.parametrize("name", SUITES)
def test_a_sealed_value_opens_only_in_its_column_and_untampered(name: str) -> None:
    keyring = Keyring.generate(name)
    token = keyring.encrypt("320104198001011234", "person.id_number")
    assert "320104198001011234" not in token
    assert keyring.decrypt(token, "person.id_number") == "320104198001011234"
    with pytest.raises(KeyringError, match="fails authentication"):
        keyring.decrypt(token, "house.owner_id_number")
    kid, _, body = token.partition(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(KeyringError, match="fails authentication"):
        keyring.decrypt(f"{kid}.{flipped}", "person.id_number")


def test_the_two_suites_seal_index_and_pseudonymise_differently() -> None:
    """The same key material gives different blind indexes and pseudonyms under the two
    suites: gm is not the standard suite under another name."""
    standard = Keyring.generate(STANDARD)
    gm = Keyring(
        {standard.active: bytes(16)},
        standard.active,
        standard.index_key,
        partner_root=standard.partner_root,
        suite=suite_named(GM),
    )
    assert len(standard.data_keys[standard.active]) == 32  # AES-256
    assert standard.blind_index("320104198001011234") != gm.blind_index("320104198001011234")
    assert standard.partner_key(b"p") != gm.partner_key(b"p")
    secret = gm.partner_key(b"p")
    assert pseudonym("x", PseudonymKey(secret, "sm3")) != pseudonym("x", secret)
    assert pseudonym("x", PseudonymKey(secret)) == pseudonym("x", secret)


# --- the key file keeps its suite ---------------------------------------------------------


@pytest.mark.parametrize("name", SUITES)
def test_the_key_file_records_its_suite_and_loads_it(tmp_path: Path, name: str) -> None:
    path = tmp_path / "keys.json"
    keyring = Keyring.generate(name)
    token = keyring.encrypt("13812345678", "person.phone")
    keyring.save(path)
    assert json.loads(path.read_text())["suite"] == name
    loaded = Keyring.load(path)
    assert loaded.suite.name == name
    assert loaded.decrypt(token, "person.phone") == "13812345678"
    assert Keyring.load(path, name).suite.name == name


def test_a_key_file_without_a_suite_is_a_standard_one(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    Keyring.generate(STANDARD).save(path)
    document = json.loads(path.read_text())
    del document["suite"]
    path.write_text(json.dumps(document))
    assert Keyring.load(path).suite.name == STANDARD
    with pytest.raises(KeyringError, match="'standard' crypto suite, not 'gm'"):
        Keyring.load(path, GM)


def test_hub_init_records_the_suite_and_refuses_to_change_it(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["init", "--home", str(tmp_path), "--crypto", "gm"])
    assert made.exit_code == 0, made.output
    assert "gm crypto suite" in " ".join(made.output.split())
    assert json.loads((tmp_path / "keys.json").read_text())["suite"] == GM
    again = runner.invoke(cli, ["init", "--home", str(tmp_path), "--crypto", "gm"])
    assert again.exit_code == 0, again.output
    other = runner.invoke(cli, ["init", "--home", str(tmp_path), "--crypto", "standard"])
    assert other.exit_code == 2
    assert "a hub keeps the suite it was created with" in " ".join(other.output.split())
    unknown = runner.invoke(cli, ["init", "--home", str(tmp_path / "x"), "--crypto", "rot13"])
    assert unknown.exit_code == 2
    assert "no crypto suite 'rot13'" in " ".join(unknown.output.split())
