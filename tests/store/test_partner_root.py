"""The partner-key root is split from the blind-index key: a key file from before the split
keeps every partner's record ids and pseudonyms, and is saved with its root written down."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from pathlib import Path

from hub.encoding import b64url_encode
from hub.sharing.ids import RecordIds
from hub.store import Keyring, Store
from hub.store.keyring import RetiredIndexKey
from policies.transform import pseudonym

FIXTURES = Path(__file__).parent / "fixtures"
OLD_KEYS = FIXTURES / "release-5dbbc28.keys.json"
"""The key file of the previous release: it names no partner root."""


def _as_before_the_split(keyring: Keyring, partner: str, use: str) -> bytes:
    """How ``Store.partner_key`` derived a partner's key before the split."""
    label = f"hub {use} v1:{partner}".encode()
    return hmac.new(keyring.index_key, label, hashlib.sha256).digest()


def test_a_key_file_without_a_root_takes_its_index_key_and_saves_it(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    shutil.copy(OLD_KEYS, path)
    assert "partner_root" not in json.loads(path.read_text())
    keyring = Keyring.load(path)
    store = Store.open(f"sqlite:///{tmp_path / 'none.db'}", keyring)
    for partner in ("grid-platform", "police-app"):
        for use in ("pseudonym", "record-id"):
            assert store.partner_key(partner, use) == _as_before_the_split(keyring, partner, use)
    ids = RecordIds(store).encode("grid-platform", "person", 42)
    hidden = pseudonym("110101199003077777", store.partner_key("grid-platform", "pseudonym"))

    keyring.save(path)
    saved = json.loads(path.read_text())
    assert (
        saved["partner_root"] == saved["index_key"] == json.loads(OLD_KEYS.read_text())["index_key"]
    )
    again = Store.open(f"sqlite:///{tmp_path / 'none.db'}", Keyring.load(path))
    assert RecordIds(again).encode("grid-platform", "person", 42) == ids
    assert pseudonym("110101199003077777", again.partner_key("grid-platform", "pseudonym")) == (
        hidden
    )
    store.close()
    again.close()


def test_a_new_keyring_has_a_root_of_its_own() -> None:
    keyring = Keyring.generate()
    assert keyring.partner_root is not None
    assert keyring.partner_root != keyring.index_key
    assert keyring.partner_key(b"x") != hmac.new(keyring.index_key, b"x", "sha256").digest()


def test_no_key_material_shows_in_a_keyring_repr() -> None:
    keyring = Keyring.generate()
    keyring.retired_index_keys["x1"] = RetiredIndexKey(b"\x07" * 32, "2026-12-01T00:00:00+00:00")
    shown = repr(keyring)
    assert keyring.active in shown
    secrets = [*keyring.data_keys.values(), keyring.index_key, keyring.audit_key, b"\x07" * 32]
    for key in secrets:
        assert key is not None
        for form in (repr(key), key.hex(), b64url_encode(key)):
            assert form not in shown
