"""Reply records: one hash a reply, a time-ordered index per clinic (and one for the operators).

A clinic's index holds `<epoch ms, 13 digits>:<reply id>` at score 0, so its lexical order is
time order: a page is one ZREVRANGEBYLEX between a cursor (a member) and `since`. Each reply
expires with the retention period; the indexes drop expired members whenever a reply is added.
The body is stored as the caller sealed it (worker.inbox): nothing here reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from worker.records import epoch_ms, from_epoch_ms
from worker.store.keys import UNMATCHED, number_replies_key, replies_key, reply_key
from worker.store.ops import Call, ScriptCall, command, effect, one
from worker.store.results import StoredReply

MS_DIGITS = 13  # epoch ms up to the year 2286


def member(received_at: datetime, rid: str) -> str:
    """The reply's entry in its clinic's index: time first, so lexical order is time order."""
    return f"{epoch_ms(received_at):0{MS_DIGITS}d}:{rid}"


def _time_bound(at: datetime) -> str:
    return f"{epoch_ms(at):0{MS_DIGITS}d}"


def owner(reply: StoredReply) -> str:
    return reply.clinic_id or UNMATCHED


def add(reply: StoredReply, ttl_s: int) -> Call[None]:
    """Store `reply` for `ttl_s` seconds, index it for its clinic (or the operators) and, with a
    sender index, for its number; expired entries leave the clinic's index."""
    fields = {
        "c": reply.clinic_id,
        "e": reply.enrollment_id,
        "at": str(epoch_ms(reply.received_at)),
        "b": reply.sealed_body,
        "f": "1" if reply.red_flag else "0",
        "len": str(reply.length),
        **({"n": reply.sender_index} if reply.sender_index else {}),
        **({"m": reply.masked_sender} if reply.masked_sender else {}),
        **({"md": str(reply.media)} if reply.media else {}),
    }
    key, index, ttl_ms = reply_key(reply.id), replies_key(owner(reply)), ttl_s * 1000
    cutoff = _time_bound(from_epoch_ms(epoch_ms(reply.received_at) - ttl_ms))
    ops = [
        command("hset", key, mapping=fields),
        command("pexpire", key, ttl_ms),
        command("zadd", index, {member(reply.received_at, reply.id): 0}),
        command("zremrangebylex", index, "-", f"({cutoff}"),
        command("pexpire", index, ttl_ms),
    ]
    if reply.sender_index:
        by_number = number_replies_key(reply.sender_index)
        ops.append(command("zadd", by_number, {reply.id: epoch_ms(reply.received_at)}))
        ops.append(command("pexpire", by_number, ttl_ms))
    return effect(*ops)


def page(owner_id: str, before: str | None, since: datetime | None, count: int) -> Call[list[str]]:
    """Up to `count` index members of `owner_id`, newest first: older than member `before` (a
    cursor), received at or after `since`."""
    top = f"({before}" if before else "+"
    bottom = f"[{_time_bound(since)}" if since else "-"
    op = command("zrevrangebylex", replies_key(owner_id), top, bottom, 0, count)
    return one(op, lambda raw: [str(m) for m in raw])


def rid_of(entry: str) -> str:
    """The reply id in an index member."""
    return entry.partition(":")[2]


def get_many(rids: Sequence[str]) -> Call[list[StoredReply | None]]:
    """The replies (None where one expired or never was)."""

    def parse(rows: list[Any]) -> list[StoredReply | None]:
        return [_stored(rid, row) if row else None for rid, row in zip(rids, rows, strict=True)]

    return Call(tuple(command("hgetall", reply_key(rid)) for rid in rids), parse)


def _stored(rid: str, h: dict[str, str]) -> StoredReply:
    return StoredReply(
        id=rid,
        clinic_id=h.get("c", ""),
        enrollment_id=h.get("e", ""),
        received_at=from_epoch_ms(int(h.get("at") or 0)),
        sealed_body=h.get("b", ""),
        red_flag=h.get("f") == "1",
        acknowledged_at=from_epoch_ms(int(h["ack"])) if h.get("ack") else None,
        length=int(h.get("len") or 0),
        sender_index=h.get("n", ""),
        masked_sender=h.get("m", ""),
        media=int(h.get("md") or 0),
    )


def acknowledge(rid: str, clinic_id: str, now: datetime) -> Call[datetime | None]:
    """Mark the clinic's reply acknowledged at `now` unless it already was (ack_reply.lua): the
    time it was acknowledged; None when there is no such reply of `clinic_id`."""
    op = ScriptCall("ack_reply", [reply_key(rid)], [clinic_id, epoch_ms(now)])
    return one(op, lambda raw: None if raw is None else from_epoch_ms(int(raw)))


def of_number(bi: str) -> Call[list[str]]:
    """The ids of the replies received from the number (erasure)."""
    return one(command("zrange", number_replies_key(bi), 0, -1), lambda raw: [str(r) for r in raw])


def drop(replies: Sequence[StoredReply]) -> Call[None]:
    """Remove the replies and their index entries (erasure)."""
    ops = []
    for reply in replies:
        ops.append(command("delete", reply_key(reply.id)))
        ops.append(command("zrem", replies_key(owner(reply)), member(reply.received_at, reply.id)))
        if reply.sender_index:
            ops.append(command("zrem", number_replies_key(reply.sender_index), reply.id))
    return effect(*ops)
