"""Clinic events and their deliveries: the stored event, the due set, leases, attempts, counters.

An event (`cd:{w:<id>}`) holds the JSON body it is sent as (encoded once, so every retry sends
the same bytes) and, per delivery kind (`hook`: the clinic's webhook; `mail`: the alert email),
its state, attempts and first attempt. Adding an event twice changes nothing (HSETNX), so the
same occurrence is one event. A delivery waits in `cd:{wh}:due` by due time; a claim moves it to
`cd:{wh}:lease` (webhook_claim.lua, which first returns expired leases), and finishing one records
the attempt and either ends it or puts it back due at its next try.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from worker.records import epoch_ms, epoch_s, from_epoch_ms
from worker.store.keys import (
    WEBHOOKS_DUE,
    WEBHOOKS_FAILED,
    WEBHOOKS_LEASE,
    WEBHOOKS_STATS,
    clinic_key,
    event_attempts_key,
    event_key,
)
from worker.store.ops import Call, Op, ScriptCall, command, effect, one

ATTEMPTS_KEEP = 200  # attempts kept per event (24 h of backoff makes about 30 per kind)


class DeliveryKind(StrEnum):
    HOOK = "hook"  # a signed POST to the clinic's webhook
    MAIL = "mail"  # the alert email to the clinic's address


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: 24 h of attempts, or refused for good
    DROPPED = "dropped"  # nowhere to deliver any more (the webhook was removed)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery of an event: its state, attempts so far and when the first was made."""

    state: DeliveryState
    attempts: int
    first_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: the exact body sent, and its deliveries by kind."""

    id: str
    clinic_id: str
    type: str
    body: bytes
    created_at: datetime
    deliveries: dict[DeliveryKind, Delivery]

    def data(self) -> dict[str, Any]:
        found = json.loads(self.body).get("data")
        return found if isinstance(found, dict) else {}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt: when, the HTTP status (or None) or the error, and how long it took."""

    kind: DeliveryKind
    at: datetime
    status: int | None
    error: str | None
    duration_ms: int

    def to_json(self) -> str:
        return json.dumps(
            {"kind": self.kind.value, "at": epoch_ms(self.at), "status": self.status, "error": self.error,
             "ms": self.duration_ms},
            separators=(",", ":"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class EventTarget:
    """Where a clinic's events go: its webhook URL and sealed secret, its email ('' when none)."""

    webhook_url: str
    sealed_secret: str
    email: str


def member(kind: DeliveryKind, evt_id: str) -> str:
    return f"{kind.value}:{evt_id}"


def parse_member(value: str) -> tuple[DeliveryKind, str]:
    """(kind, event id) of a due-set member; ValueError on anything else."""
    kind, sep, evt_id = value.partition(":")
    if not sep or not evt_id:
        raise ValueError(f"not a delivery: {value!r}")
    return DeliveryKind(kind), evt_id


def target(cid: str) -> Call[EventTarget]:
    op = command("hmget", clinic_key(cid), ["webhook_url", "webhook_secret", "email"])
    return one(op, lambda raw: EventTarget(*(str(v or "") for v in raw)))


def add(
    evt_id: str, clinic_id: str, event_type: str, body: bytes, kinds: list[DeliveryKind], at: datetime, ttl_s: int
) -> Call[list[DeliveryKind]]:
    """Store the event unless it is there, with a pending delivery of each kind it lacks; the kinds
    still to put in the due set (new ones, and any a crash left unqueued)."""
    key = event_key(evt_id)
    ops: list[Op] = [
        command("hsetnx", key, "c", clinic_id),
        command("hsetnx", key, "t", event_type),
        command("hsetnx", key, "b", body.decode()),
        command("hsetnx", key, "at", epoch_ms(at)),
    ]
    for kind in kinds:
        ops += [
            command("hsetnx", key, f"{kind}.s", DeliveryState.PENDING.value),
            command("hmget", key, [f"{kind}.s", f"{kind}.q"]),
        ]
    ops.append(command("expire", key, ttl_s))

    def parse(raw: list[Any]) -> list[DeliveryKind]:
        states = raw[4:-1][1::2]
        return [k for k, (s, q) in zip(kinds, states, strict=True) if s == DeliveryState.PENDING and not q]

    return Call(tuple(ops), parse)


def queue(evt_id: str, kinds: list[DeliveryKind], due: datetime) -> Call[None]:
    """Put each kind's delivery in the due set (NX: one already waiting keeps its time), marked queued."""
    ops: list[Op] = [command("zadd", WEBHOOKS_DUE, {member(k, evt_id): epoch_ms(due)}, True) for k in kinds]
    ops += [command("hset", event_key(evt_id), f"{k}.q", 1) for k in kinds]
    return effect(*ops)


def get(evt_id: str) -> Call[StoredEvent | None]:
    return one(command("hgetall", event_key(evt_id)), lambda raw: _event(evt_id, raw))


def _event(evt_id: str, raw: dict[str, str]) -> StoredEvent | None:
    if not raw or "b" not in raw:
        return None
    deliveries: dict[DeliveryKind, Delivery] = {}
    for kind in DeliveryKind:
        state = raw.get(f"{kind}.s")
        if state:
            first = raw.get(f"{kind}.f")
            deliveries[kind] = Delivery(
                DeliveryState(state), int(raw.get(f"{kind}.n") or 0), from_epoch_ms(int(first)) if first else None
            )
    return StoredEvent(
        evt_id,
        raw.get("c", ""),
        raw.get("t", ""),
        raw["b"].encode(),
        from_epoch_ms(int(raw.get("at") or 0)),
        deliveries,
    )


def attempts(evt_id: str) -> Call[list[Attempt]]:
    return one(command("lrange", event_attempts_key(evt_id), 0, -1), lambda raw: [_attempt(a) for a in raw])


def _attempt(raw: str) -> Attempt:
    found = json.loads(raw)
    return Attempt(
        DeliveryKind(found["kind"]), from_epoch_ms(found["at"]), found.get("status"), found.get("error"), found["ms"]
    )


def claim(now: datetime, limit: int, lease_ms: int, max_in_flight: int) -> Call[list[str]]:
    op = ScriptCall("webhook_claim", [WEBHOOKS_DUE, WEBHOOKS_LEASE], [epoch_ms(now), limit, lease_ms, max_in_flight])
    return one(op, lambda raw: [str(m) for m in raw])


def finish(
    evt_id: str,
    kind: DeliveryKind,
    attempt: Attempt | None,
    state: DeliveryState,
    retry_at: datetime | None,
    ttl_s: int,
) -> Call[None]:
    """Record `attempt` (if one was made), set the delivery's state, release its lease, and put
    it back due at `retry_at` when there is one; a delivery given up joins the failed set."""
    key, mem = event_key(evt_id), member(kind, evt_id)
    ops: list[Op] = []
    if attempt is not None:
        ops += [
            command("rpush", event_attempts_key(evt_id), attempt.to_json()),
            command("ltrim", event_attempts_key(evt_id), -ATTEMPTS_KEEP, -1),
            command("expire", event_attempts_key(evt_id), ttl_s),
            command("hincrby", key, f"{kind}.n", 1),
            command("hsetnx", key, f"{kind}.f", epoch_ms(attempt.at)),
        ]
    ops += [command("hset", key, f"{kind}.s", state.value), command("expire", key, ttl_s)]
    ops.append(command("zrem", WEBHOOKS_LEASE, mem))
    if retry_at is not None:
        ops.append(command("zadd", WEBHOOKS_DUE, {mem: epoch_ms(retry_at)}))
    elif state is not DeliveryState.PENDING:
        ops.append(command("hincrby", WEBHOOKS_STATS, f"{kind}:{state.value}", 1))
    if state is DeliveryState.FAILED and attempt is not None:
        now_s = epoch_s(attempt.at)
        ops += [
            command("zadd", WEBHOOKS_FAILED, {mem: now_s}),
            command("zremrangebyscore", WEBHOOKS_FAILED, "-inf", now_s - ttl_s),
        ]
    return effect(*ops)


def release(kind: DeliveryKind, evt_id: str) -> Call[None]:
    return effect(command("zrem", WEBHOOKS_LEASE, member(kind, evt_id)))


def count_emit_error() -> Call[None]:
    return effect(command("hincrby", WEBHOOKS_STATS, "emit:error", 1))


@dataclass(frozen=True, slots=True)
class WebhookFigures:
    """What operators see: deliveries waiting (due or leased), given up, and the counters."""

    pending: int
    in_flight: int
    failed: int
    counts: dict[str, int]


def figures() -> Call[WebhookFigures]:
    ops = (
        command("zcard", WEBHOOKS_DUE),
        command("zcard", WEBHOOKS_LEASE),
        command("zcard", WEBHOOKS_FAILED),
        command("hgetall", WEBHOOKS_STATS),
    )
    return Call(
        ops,
        lambda raw: WebhookFigures(int(raw[0]), int(raw[1]), int(raw[2]), {str(k): int(v) for k, v in raw[3].items()}),
    )


def failed(limit: int) -> Call[list[str]]:
    """Deliveries given up, newest first (`<kind>:<event id>`)."""
    return one(command("zrevrange", WEBHOOKS_FAILED, 0, limit - 1), lambda raw: [str(m) for m in raw])
