"""PHI sealing: round trips, tamper and misplaced tokens refused, rotation, compact tokens."""

from __future__ import annotations

import pytest

from worker.errors import CaredripError
from worker.phi import Keyring, SealError, UnknownKeyError
from worker.phi.fields import pack, unpack
from worker.phi.keyring import OVERHEAD_BYTES
from worker.phi.text import decode, encode

EID = "3f2a9c0d41b7e8a55c10"
PATIENT = {"n": "Ana", "ph": "+14155552671", "em": "ana.lopez@example.com"}


@pytest.fixture(scope="module")
def ring() -> Keyring:
    return Keyring.generate()


@pytest.mark.parametrize(
    "values",
    [
        PATIENT,
        {"n": "Zoë", "ph": "+447700900123"},
        {"n": "Nguyễn Thị Ánh", "em": "ánh@exämple.vn"},
        {"n": "李小龍 👩🏽‍⚕️"},
        {"n": "", "note": "x" * 300},  # an empty value, and a length past one varint byte
        {"r": "a|b,c:d\x00e\n"},
        {},
    ],
)
def test_fields_round_trip(ring: Keyring, values: dict[str, str]) -> None:
    token = ring.seal_fields(values, aad=EID)
    assert token.isascii()
    assert ring.open_fields(token, aad=EID) == values
    assert list(ring.open_fields(token, aad=EID)) == list(values)


@pytest.mark.parametrize("plaintext", ["", "chest pain since Monday, taking metoprolol", "¿Dónde está? 🙂"])
def test_string_round_trip(ring: Keyring, plaintext: str) -> None:
    assert ring.open(ring.seal(plaintext, aad=f"{EID}:reply"), aad=f"{EID}:reply") == plaintext


def test_token_is_compact_base64url(ring: Keyring) -> None:
    token = ring.seal_fields({"n": "Ana", "ph": "+14155552671"}, aad=EID)
    plain = len(pack({"n": "Ana", "ph": "+14155552671"}))
    assert len(decode(token)) == OVERHEAD_BYTES + plain == 29 + 15
    assert len(token) == -(-(OVERHEAD_BYTES + plain) * 4 // 3) == 59
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_same_value_seals_differently(ring: Keyring) -> None:
    assert ring.seal_fields(PATIENT, aad=EID) != ring.seal_fields(PATIENT, aad=EID)


def test_every_altered_byte_is_refused(ring: Keyring) -> None:
    raw = decode(ring.seal_fields(PATIENT, aad=EID))
    for i in range(1, len(raw)):  # byte 0 is the key id: see test_unknown_key_id
        altered = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        with pytest.raises(SealError):
            ring.open_fields(encode(altered), aad=EID)


def test_truncated_or_extended_token_is_refused(ring: Keyring) -> None:
    token = ring.seal_fields(PATIENT, aad=EID)
    for bad in (token[:-1], token[:-4], token + "A", token + "AAAA", token[:38], "", "not a token!", "====" + token):
        with pytest.raises(SealError):
            ring.open_fields(bad, aad=EID)


def test_token_bound_to_its_record(ring: Keyring) -> None:
    token = ring.seal_fields(PATIENT, aad=EID)
    for other in ("3f2a9c0d41b7e8a55c11", "", EID + " ", EID.upper()):
        with pytest.raises(SealError, match="altered, or sealed for another record"):
            ring.open_fields(token, aad=other)


def test_a_fields_token_is_not_a_string_token(ring: Keyring) -> None:
    with pytest.raises(SealError):
        ring.open(ring.seal_fields({"n": "Ana"}, aad=EID), aad=EID)
    with pytest.raises(SealError):
        ring.open_fields(ring.seal("Ana", aad=EID), aad=EID)


def test_another_keyring_cannot_open(ring: Keyring) -> None:
    token = ring.seal_fields(PATIENT, aad=EID)
    kid = ring.keys[0].kid
    impostor = Keyring.from_setting(f"{kid}:{encode(Keyring.generate().keys[0].secret)}")
    with pytest.raises(SealError):
        impostor.open_fields(token, aad=EID)


def test_unknown_key_id(ring: Keyring) -> None:
    token = ring.seal_fields(PATIENT, aad=EID)
    stranger = Keyring.generate()
    while stranger.keys[0].kid == ring.keys[0].kid:
        stranger = Keyring.generate()
    with pytest.raises(UnknownKeyError, match=rf"key id {ring.keys[0].kid}, which CAREDRIP_DATA_KEYS lacks"):
        stranger.open_fields(token, aad=EID)
    assert issubclass(UnknownKeyError, SealError) and issubclass(SealError, CaredripError)


def test_rotation_keeps_old_tokens_open(ring: Keyring) -> None:
    old_token = ring.seal_fields(PATIENT, aad=EID)
    rotated = Keyring.from_setting(ring.rotated().to_setting())
    assert rotated.keys[1:] == ring.keys and rotated.keys[0].kid != ring.keys[0].kid
    assert rotated.open_fields(old_token, aad=EID) == PATIENT
    assert rotated.needs_rotation(old_token)
    new_token = rotated.seal_fields(rotated.open_fields(old_token, aad=EID), aad=EID)
    assert not rotated.needs_rotation(new_token)
    assert decode(new_token)[0] == rotated.keys[0].kid
    assert not ring.needs_rotation(old_token)
    with pytest.raises(UnknownKeyError):
        ring.open_fields(new_token, aad=EID)  # the old ring never had the new key


def test_rotated_finds_a_free_id_and_stops_at_256() -> None:
    ring = Keyring.from_setting(",".join(f"{kid}:{encode(Keyring.generate().keys[0].secret)}" for kid in (255, 0, 2)))
    assert ring.rotated().keys[0].kid == 1
    full = _ring_of(256)
    with pytest.raises(ValueError, match="all 256 key ids"):
        full.rotated()


def test_needs_rotation_refuses_garbage(ring: Keyring) -> None:
    with pytest.raises(SealError):
        ring.needs_rotation("short")


def test_repr_never_shows_key_material(ring: Keyring) -> None:
    secret_text = encode(ring.keys[0].secret)
    for shown in (repr(ring), str(ring), repr(ring.keys), repr(ring.keys[0])):
        assert secret_text not in shown and "secret" not in shown


def test_field_keys_are_short_codes() -> None:
    for bad in ("", "N", "1n", "a-b", "x" * 17, "é"):
        with pytest.raises(ValueError, match="field key"):
            pack({bad: "v"})


@pytest.mark.parametrize(
    "data",
    [
        b"\x01n",  # no header
        b"\x01n\x0aabc",  # 5 bytes promised, 3 given
        b"\x01n\x80",  # header cut short
        b"\x02n",  # key cut short
        b"\x01n\x00\x01n\x00",  # the same key twice
        b"\x01N\x00",  # not a field code
        b"\x01n\x03",  # a 1-byte number with no byte
        b"\x01n\x03\x00",  # a number that is no E.164 number (0)
        b"\x01n\x03\x09",  # one digit: no E.164 number either
        b"\x01n\x0f" + b"\xff" * 7,  # past 15 digits
        b"\x01n" + b"\xff" * 9 + b"\x01",  # a header past 63 bits
        b"\x01n\x04\xff\xfe",  # not UTF-8
    ],
)
def test_unpack_refuses_malformed(data: bytes) -> None:
    with pytest.raises(ValueError):
        unpack(data)


@pytest.mark.parametrize(
    ("value", "packed_size"),
    [
        ("+14155552671", 5),  # a North American number: 5 bytes, not 12
        ("+447700900123", 5),
        ("+999999999999999", 7),  # 15 digits, the most E.164 allows
        ("+12", 1),
        ("+10", 1),
        ("+0123456789", 11),  # not E.164: kept as text
        ("+1234567890123456", 17),  # 16 digits: text
        ("14155552671", 11),
        ("+1 415 555 2671", 15),
    ],
)
def test_numbers_pack_small_and_exactly(value: str, packed_size: int) -> None:
    packed = pack({"ph": value})
    assert len(packed) == 1 + 2 + 1 + packed_size
    assert unpack(packed) == {"ph": value}


def _ring_of(count: int) -> Keyring:
    return Keyring.from_setting(",".join(f"{kid}:{encode(Keyring.generate().keys[0].secret)}" for kid in range(count)))
