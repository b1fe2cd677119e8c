"""Console operators: `caredrip operator add NAME` makes one and its sign-in token.

The token is shown once, when it is made; only its SHA-256 is stored (like clinic keys,
`worker.clinics`), so a copy of Redis gives nobody a way in.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from worker.errors import ValidationError
from worker.intake import clean_text
from worker.records import epoch_s
from worker.store import ConsoleStore
from worker.tokens import hash_key

MAX_TOKEN_LENGTH = 256
TOKEN_PREFIX = "cdo_"


def new_operator_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def add_operator(store: ConsoleStore, name: str, now: datetime) -> tuple[str, str]:
    """Create an operator; (operator id, token). The token is returned once and stored only hashed.
    Raises ValidationError naming `name` when it is empty, too long or not printable."""
    try:
        clean = clean_text(name, what="name", max_length=100)
    except ValueError as exc:
        raise ValidationError("name", str(exc)) from None
    while True:
        oid = "o_" + secrets.token_hex(4)
        if not store.operator_exists(oid):
            break
    token = new_operator_token()
    store.add_operator(oid, {"name": clean, "created": str(epoch_s(now))}, hash_key(token))
    return oid, token


def authenticate_operator(store: ConsoleStore, token: str) -> str | None:
    """The operator id `token` belongs to, or None (unknown, malformed or revoked)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    return store.operator_by_token_hash(hash_key(token))
