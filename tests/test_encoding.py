from __future__ import annotations

import pytest

from hub.encoding import b64url_decode, b64url_encode


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xfb\xff", b"abc", b"\xff" * 17])
def test_base64url_round_trips_without_padding(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert not set(text) & set("+/")
    assert b64url_decode(text) == data


def test_padded_input_decodes_too() -> None:
    assert b64url_decode("-_8=") == b"\xfb\xff"
