"""CAREDRIP_DATA_KEYS: the accepted shapes, and one clear error naming the setting and position."""

from __future__ import annotations

import base64
import secrets

import pytest

from worker.phi import Keyring
from worker.phi.setting import parse

K1 = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()  # 44 characters, with "="
K2 = K1.rstrip("=")[::-1]
K3 = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def test_accepts_padded_unpadded_prefixed_and_spaced() -> None:
    ring = Keyring.from_setting(f" 7:{K1} , {K2},0:{K3} ")
    assert [k.kid for k in ring.keys][::2] == [7, 0]
    assert [k.secret for k in ring.keys] == [base64.urlsafe_b64decode(k + "=" * (-len(k) % 4)) for k in (K1, K2, K3)]


def test_to_setting_round_trips_with_every_id() -> None:
    ring = Keyring.from_setting(f"{K1},{K2}")
    again = Keyring.from_setting(ring.to_setting())
    assert again.keys == ring.keys
    assert all(":" in entry for entry in ring.to_setting().split(","))


def test_unprefixed_key_gets_a_stable_id() -> None:
    assert Keyring.from_setting(K1).keys[0].kid == Keyring.from_setting(K1).keys[0].kid


def test_generated_keyring_parses_back() -> None:
    ring = Keyring.generate()
    assert Keyring.from_setting(ring.to_setting()).keys == ring.keys


WEAK = base64.urlsafe_b64encode(b"0123456789abcdef" * 2).decode()  # 16 distinct bytes, but repeated
WORD = base64.urlsafe_b64encode(b"correct horse battery staple!!!!").decode()
SHORT = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode()
LONG = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "key 1 is empty"),
        ("   ", "key 1 is empty"),
        (f"{K1},", "key 2 is empty"),
        (f"{K1},,{K2}", "key 2 is empty"),
        ("not a key", "key 1 is not urlsafe base64 of 32 bytes"),
        (f"{K1},{SHORT}", "key 2 is not urlsafe base64 of 32 bytes"),
        (LONG, "key 1 is not urlsafe base64 of 32 bytes"),
        (K2.replace(K2[5], "+"), "key 1 is not urlsafe base64"),
        (K2[:-1], "key 1 is not urlsafe base64"),
        (base64.urlsafe_b64encode(bytes(32)).decode(), "key 1 is too weak"),
        (f"{K1},{WEAK}", "key 2 is too weak"),
        (f"{K1},{K2},{WORD}", "key 3 is too weak"),
        (f"256:{K1}", "key 1: the key id before `:` must be a number 0-255"),
        (f"-1:{K1}", "key 1: the key id"),
        (f"a:{K1}", "key 1: the key id"),
        (f":{K1}", "key 1: the key id"),
        (f"1:2:{K1}", "key 1: the key id"),
        (f"3:{K1},3:{K2}", "key 2 has the id 3 of key 1"),
        (f"{K1},{K2},{K1}", "key 3 repeats key 1"),
        (f"1:{K1},2:{K1}", "key 2 repeats key 1"),
    ],
)
def test_malformed_settings_name_the_setting_and_position(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^CAREDRIP_DATA_KEYS: ") as caught:
        Keyring.from_setting(raw)
    assert message in str(caught.value)
    for key in (K1, K2, K3, WEAK, WORD, SHORT, LONG):
        assert key.rstrip("=")[:8] not in str(caught.value)


def test_parse_keeps_order_newest_first() -> None:
    assert [k.kid for k in parse(f"9:{K1},4:{K2},200:{K3}")] == [9, 4, 200]
