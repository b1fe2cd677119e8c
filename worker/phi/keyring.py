"""The PHI keyring (CAREDRIP_DATA_KEYS) and AES-256-GCM sealing: the first key seals, every key opens.

A token is base64url (no padding) of: key id (1 byte) | nonce (12 random bytes) | ciphertext |
tag (16 bytes), 29 bytes over the (packed) plaintext, 4 characters for every 3 bytes. The
associated data binds it to its use: a mode byte (one string or packed fields), the key id, and
the caller's `aad` (the id of the record that holds it), so a token copied elsewhere does not
open. Nonces are random, so one key may seal up to 2**32 values (NIST SP 800-38D): rotate well
before that.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from worker.errors import CaredripError
from worker.phi import fields, setting, text
from worker.phi.setting import SETTING, DataKey

NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD_BYTES = 1 + NONCE_BYTES + TAG_BYTES


class SealError(CaredripError):
    """Raised when a token does not open: altered, bound to another record, or not a token at all."""


class UnknownKeyError(SealError):
    """Raised when a token was sealed under a key id the keyring lacks (removed too soon, or another keyring)."""


class Keyring:
    """Keys newest first: `seal*` uses the first, `open*` whichever key id the token names."""

    def __init__(self, keys: Sequence[DataKey]) -> None:
        if not keys or len({k.kid for k in keys}) != len(keys):
            raise ValueError(f"{SETTING}: a keyring needs at least one key and distinct key ids")
        self.keys = tuple(keys)
        self._aead = {k.kid: AESGCM(k.secret) for k in keys}

    @classmethod
    def from_setting(cls, raw: str) -> Keyring:
        """Parse CAREDRIP_DATA_KEYS; ValueError naming the setting and the 1-based position."""
        return cls(setting.parse(raw))

    @classmethod
    def generate(cls) -> Keyring:
        """A keyring of one fresh key."""
        return cls([setting.new_key()])

    def rotated(self) -> Keyring:
        """This keyring with a fresh key in front (a new id), every old key kept to open old tokens."""
        used = {k.kid for k in self.keys}
        after = [(self.keys[0].kid + step) % 256 for step in range(1, 256)]
        kid = next((kid for kid in after if kid not in used), None)
        if kid is None:
            raise ValueError(f"{SETTING}: all 256 key ids in use; drop retired keys first")
        return Keyring([setting.new_key(kid), *self.keys])

    def to_setting(self) -> str:
        """The CAREDRIP_DATA_KEYS value for this keyring, every key with its id."""
        return setting.format_keys(self.keys)

    def seal(self, plaintext: str, *, aad: str) -> str:
        """One string sealed under the first key, bound to `aad` (put the field in it: `<id>:reply`)."""
        return self._seal(b"s", plaintext.encode("utf-8"), aad)

    def open(self, token: str, *, aad: str) -> str:
        """The string `seal` sealed; SealError if altered or bound elsewhere, UnknownKeyError if its key is gone."""
        try:
            return self._open(b"s", token, aad).decode("utf-8")
        except UnicodeDecodeError:
            raise SealError("sealed value is not UTF-8") from None

    def seal_fields(self, values: Mapping[str, str], *, aad: str) -> str:
        """Several fields of one record as one token (one nonce and tag for all): `{"n": …, "ph": …}`."""
        return self._seal(b"f", fields.pack(values), aad)

    def open_fields(self, token: str, *, aad: str) -> dict[str, str]:
        """The fields `seal_fields` sealed, in their order; errors as `open`."""
        try:
            return fields.unpack(self._open(b"f", token, aad))
        except ValueError:
            raise SealError("sealed fields are malformed") from None

    def needs_rotation(self, token: str) -> bool:
        """True if `token` was sealed under a key other than the first (reseal it); SealError if no token."""
        return _split(token)[0] != self.keys[0].kid

    def _seal(self, mode: bytes, data: bytes, aad: str) -> str:
        kid = self.keys[0].kid
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[kid].encrypt(nonce, data, mode + bytes([kid]) + aad.encode("utf-8"))
        return text.encode(bytes([kid]) + nonce + sealed)

    def _open(self, mode: bytes, token: str, aad: str) -> bytes:
        kid, raw = _split(token)
        aead = self._aead.get(kid)
        if aead is None:
            raise UnknownKeyError(f"sealed under key id {kid}, which {SETTING} lacks (ids {self._ids()})")
        try:
            return aead.decrypt(raw[1 : 1 + NONCE_BYTES], raw[1 + NONCE_BYTES :], mode + raw[:1] + aad.encode())
        except InvalidTag:
            raise SealError("token does not open: altered, or sealed for another record") from None

    def _ids(self) -> str:
        return ",".join(str(k.kid) for k in self.keys)

    def __repr__(self) -> str:
        return f"Keyring(kids=[{self._ids()}])"


def _split(token: str) -> tuple[int, bytes]:
    try:
        raw = text.decode(token)
    except ValueError:
        raise SealError("not a sealed token") from None
    if len(raw) < OVERHEAD_BYTES:
        raise SealError("not a sealed token")
    return raw[0], raw
