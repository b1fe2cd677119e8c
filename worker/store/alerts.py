"""Red-flag alerts: one per flagged reply (the reply's id names it), open until acknowledged.

An alert is a small hash (its clinic, '' for the operators' inbox, its enrollment and when it was
raised) plus its place in two time-ordered sets of open alerts: every owner's together (what
status and /metrics count, and `caredrip alerts` lists) and its own owner's. Closing takes it out
of both and stamps the hash; it is then kept, closed, until the retention period ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from worker.records import epoch_ms, from_epoch_ms
from worker.store.keys import ALERTS_OPEN, UNMATCHED, alert_key, open_alerts_key
from worker.store.ops import Call, command, effect
from worker.store.results import AlertSummary, StoredAlert


def _owner(clinic_id: str) -> str:
    return clinic_id or UNMATCHED


def raise_alert(alert: StoredAlert, ttl_s: int) -> Call[None]:
    """Keep `alert` for `ttl_s` seconds and list it as open (for all, and for its owner)."""
    at = epoch_ms(alert.raised_at)
    fields = {"c": alert.clinic_id, "e": alert.enrollment_id, "at": str(at)}
    return effect(
        command("hset", alert_key(alert.reply_id), mapping=fields),
        command("pexpire", alert_key(alert.reply_id), ttl_s * 1000),
        command("zadd", ALERTS_OPEN, {alert.reply_id: at}),
        command("zadd", open_alerts_key(_owner(alert.clinic_id)), {alert.reply_id: at}),
    )


def close(rid: str, clinic_id: str) -> Call[tuple[bool, bool]]:
    """Take the alert of reply `rid` owned by `clinic_id` ('' the operators') out of the open
    sets: (whether it was open, whether its record is still kept: then `stamp_closed`)."""
    ops = (
        command("zrem", ALERTS_OPEN, rid),
        command("zrem", open_alerts_key(_owner(clinic_id)), rid),
        command("exists", alert_key(rid)),
    )
    return Call(ops, lambda raw: (bool(raw[0]), bool(raw[2])))


def stamp_closed(rid: str, now: datetime) -> Call[None]:
    """Note when the alert was closed (only for an alert whose record `close` found kept)."""
    return effect(command("hsetnx", alert_key(rid), "closed", str(epoch_ms(now))))


def open_ids(owner: str | None, count: int) -> Call[list[tuple[str, datetime]]]:
    """Up to `count` open alerts, oldest first, of one owner (a clinic id or UNMATCHED) or of all
    (None): (reply id, raised at)."""
    key = ALERTS_OPEN if owner is None else open_alerts_key(owner)
    op = command("zrange", key, 0, count - 1, withscores=True)
    return Call((op,), lambda raw: [(str(rid), from_epoch_ms(int(score))) for rid, score in raw[0]])


def get_many(rids: Sequence[str]) -> Call[list[StoredAlert | None]]:
    def parse(rows: list[Any]) -> list[StoredAlert | None]:
        return [_stored(rid, row) if row else None for rid, row in zip(rids, rows, strict=True)]

    return Call(tuple(command("hgetall", alert_key(rid)) for rid in rids), parse)


def _stored(rid: str, h: dict[str, str]) -> StoredAlert:
    return StoredAlert(
        reply_id=rid,
        clinic_id=h.get("c", ""),
        enrollment_id=h.get("e", ""),
        raised_at=from_epoch_ms(int(h.get("at") or 0)),
        closed_at=from_epoch_ms(int(h["closed"])) if h.get("closed") else None,
    )


def summary() -> Call[AlertSummary]:
    """How many alerts are open, and when the oldest of them was raised (None: none open)."""
    ops = (command("zcard", ALERTS_OPEN), command("zrange", ALERTS_OPEN, 0, 0, withscores=True))

    def parse(raw: list[Any]) -> AlertSummary:
        oldest = from_epoch_ms(int(raw[1][0][1])) if raw[1] else None
        return AlertSummary(int(raw[0]), oldest)

    return Call(ops, parse)
