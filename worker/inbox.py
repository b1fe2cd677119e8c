"""The inboxes of patients' replies: each clinic's own, and the operators' for unmatched replies.

A reply is a record: an opaque, unguessable id, the enrollment it is about, when it came, its
body (sealed at rest under the PHI keyring, bound to the reply's id), whether it raised a red
flag, and when the clinic acknowledged it. It is kept for the retention period
(CAREDRIP_RETENTION_DAYS) after it came. A clinic reads its own, newest first, a page at a
time (`list_replies`, behind `GET /v1/replies`) and acknowledges them (`acknowledge`). A reply
that no clinic can be told of (worker.routing) goes to the operators' inbox, which shows the
masked number, the time and the length, never the body (`unmatched`).

Any body a phone can send is kept: empty, whitespace only, emoji, 1,600 characters, and a
picture with no text (its attachments counted, never fetched). Acknowledging a red-flag reply
closes its alert (worker.alerts).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from worker.alerts import close_for_reply
from worker.contact import mask_phone
from worker.deps import EngineDeps
from worker.errors import NotFound, ValidationError
from worker.routing import blind_index
from worker.store import UNMATCHED, StoredReply

MAX_REPLY_CHARS = 1600  # Twilio's longest inbound message; a longer (hand-made) body is cut there
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_ENTRY = re.compile(r"[0-9]{13}:[A-Za-z0-9_-]{22}")


@dataclass(frozen=True, slots=True)
class Reply:
    """A patient's reply as its clinic reads it."""

    id: str
    enrollment_id: str
    received_at: datetime
    body: str
    red_flag: bool
    acknowledged_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReplyPage:
    """One page of a clinic's replies, newest first; `next_cursor` None on the last page."""

    replies: list[Reply]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class UnmatchedReply:
    """A reply in the operators' inbox, without its body: who (masked), when, how long."""

    id: str
    sender: str
    received_at: datetime
    length: int
    red_flag: bool = False
    media: int = 0


def new_reply_id() -> str:
    """22 URL-safe characters from 16 random bytes: opaque and unguessable."""
    return secrets.token_urlsafe(16)


def clean_body(body: str) -> str:
    """The body as kept: at most MAX_REPLY_CHARS, anything not encodable as UTF-8 replaced."""
    return body[:MAX_REPLY_CHARS].encode("utf-8", "replace").decode("utf-8")


def record_reply(
    deps: EngineDeps,
    clinic_id: str,
    enrollment_id: str,
    body: str,
    received_at: datetime,
    *,
    red_flag: bool = False,
    number: str | None = None,
    media: int = 0,
) -> Reply:
    """Keep a reply for the clinic (its body sealed), listed in its inbox; `number` (the sender,
    E.164) lets an erasure of that number find it; `media` notes attachments (never fetched)."""
    rid, text = new_reply_id(), clean_body(body)
    stored = StoredReply(
        id=rid,
        clinic_id=clinic_id,
        enrollment_id=enrollment_id,
        received_at=received_at,
        sealed_body=deps.keyring.seal(text, aad=rid),
        red_flag=red_flag,
        acknowledged_at=None,
        length=len(text),
        sender_index=(blind_index(deps.index, number) or "") if number else "",
        media=max(0, media),
    )
    deps.store.add_reply(stored, deps.retention_s)
    return Reply(rid, enrollment_id, received_at, text, red_flag, None)


def record_unmatched(
    deps: EngineDeps, number: str, body: str, received_at: datetime, *, red_flag: bool = False, media: int = 0
) -> UnmatchedReply:
    """Keep a reply no clinic can be told of, in the operators' inbox (body sealed, never shown)."""
    rid, text = new_reply_id(), clean_body(body)
    stored = StoredReply(
        id=rid,
        clinic_id="",
        enrollment_id="",
        received_at=received_at,
        sealed_body=deps.keyring.seal(text, aad=rid),
        red_flag=red_flag,
        acknowledged_at=None,
        length=len(text),
        sender_index=blind_index(deps.index, number) or "",
        masked_sender=mask_phone(number),
        media=max(0, media),
    )
    deps.store.add_reply(stored, deps.retention_s)
    return UnmatchedReply(rid, stored.masked_sender, received_at, stored.length, red_flag, stored.media)


def list_replies(
    deps: EngineDeps,
    clinic_id: str,
    *,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> ReplyPage:
    """The clinic's replies, newest first: received at or after `since`, after the page that
    `cursor` ended (ValidationError naming `cursor` for one caredrip did not give)."""
    before = decode_cursor(cursor) if cursor else None
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    found = deps.store.reply_page(clinic_id, before=before, since=since, count=limit + 1)
    page = found[:limit]
    replies = [_opened(deps, stored) for _, stored in page if stored is not None and stored.clinic_id == clinic_id]
    more = len(found) > limit
    return ReplyPage(replies, encode_cursor(page[-1][0]) if more else None)


def acknowledge(deps: EngineDeps, clinic_id: str, rid: str) -> Reply:
    """Mark the clinic's reply read (the first acknowledgement's time stays) and close its red-flag
    alert, if open; NotFound for an id that is not one of the clinic's replies."""
    if not _ID.fullmatch(rid) or deps.store.acknowledge_reply(rid, clinic_id, deps.clock.now()) is None:
        raise NotFound(f"no reply {rid}")
    close_for_reply(deps, rid, clinic_id)
    stored = deps.store.get_replies([rid])[0]
    if stored is None or stored.clinic_id != clinic_id:
        raise NotFound(f"no reply {rid}")
    return _opened(deps, stored)


def unmatched(deps: EngineDeps, limit: int = 100) -> list[UnmatchedReply]:
    """The operators' inbox, newest first, without bodies."""
    found = deps.store.reply_page(UNMATCHED, count=max(1, limit))
    return [
        UnmatchedReply(r.id, r.masked_sender, r.received_at, r.length, r.red_flag, r.media)
        for _, r in found
        if r is not None
    ]


def _opened(deps: EngineDeps, stored: StoredReply) -> Reply:
    body = deps.keyring.open(stored.sealed_body, aad=stored.id)
    return Reply(stored.id, stored.enrollment_id, stored.received_at, body, stored.red_flag, stored.acknowledged_at)


def encode_cursor(entry: str) -> str:
    """An opaque cursor for the page after the reply whose index entry is `entry`."""
    return base64.urlsafe_b64encode(entry.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The index entry a cursor stands for; ValidationError naming `cursor` otherwise."""
    try:
        entry = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        entry = ""
    if not _ENTRY.fullmatch(entry):
        raise ValidationError("cursor", "not a cursor caredrip gave: pass next_cursor from the previous page")
    return entry
