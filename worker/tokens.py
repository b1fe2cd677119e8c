"""Derived identifiers and signed tokens: enrollment ids, unsubscribe tokens, clinic keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def enrollment_id(secret: bytes, clinic_id: str, patient_ref: str, program: str, generation: int = 0) -> str:
    """The same (clinic, patient_ref, program, generation) always maps to the same id; unguessable
    without the secret, and it says nothing about the patient. Generation 0 is the first
    enrollment; each re-enrollment after an end is the next generation, with an id of its own."""
    parts = (clinic_id, patient_ref, program) if generation == 0 else (clinic_id, patient_ref, program, str(generation))
    return hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:20]


def unsubscribe_token(secret: bytes, eid: str) -> str:
    """`<enrollment id>.<signature>`: one per enrollment, checked in constant time."""
    return f"{eid}.{_sign(secret, 'unsubscribe', eid)}"


def verify_unsubscribe_token(secret: bytes, token: str) -> str | None:
    """The enrollment id a valid token names, or None."""
    eid, _, signature = token.partition(".")
    if not eid or not signature or len(token) > 128:
        return None
    # bytes, not str: compare_digest refuses non-ASCII str (a mangled link would raise, not fail)
    expected = _sign(secret, "unsubscribe", eid).encode()
    return eid if hmac.compare_digest(signature.encode("utf-8", "replace"), expected) else None


def new_clinic_key() -> str:
    return "cdk_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """Clinic keys are stored only as this hash."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_id(key_hash: str) -> str:
    """A clinic key's id, from its hash: shown to operators in place of the key. Whoever holds a
    key can work out its id (`key_id(hash_key(key))`); the id gives nothing back of the key."""
    return "k_" + key_hash[:12]


def new_secret() -> str:
    return secrets.token_hex(32)


def _sign(secret: bytes, purpose: str, value: str) -> str:
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
