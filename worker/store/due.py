"""The due index and its leases: scheduling, claiming and returning enrollments' next messages.

Each channel has a due index (enrollment id scored by its next message's due time, caredrip
clock ms) and a lease set (claimed ids scored by lease expiry, Redis server time ms). Each claim
has a token, kept per claimed id: only the task holding the current claim releases an entry, so
a task that outlived its lease (reaped, claimed again) changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from worker.records import Enrollment, epoch_ms, from_epoch_ms
from worker.store.keys import due_key, lease_key, lease_tokens_key
from worker.store.ops import Call, ScriptCall, command, effect, one
from worker.store.results import Claim, DueCounts, parse_claims


def schedule(enrollment: Enrollment) -> Call[None]:
    """ZADD NX of each channel's next message into its due index (an entry stays put); on SMS an
    introduction waiting is the next message."""
    due = {ch: at for ch, at in enrollment.next_due.items() if at is not None}
    if "sms" in due and enrollment.intro_asked is not None:
        due["sms"] = min(due["sms"], enrollment.intro_asked)
    return effect(*(command("zadd", due_key(ch), {enrollment.id: epoch_ms(at)}, True) for ch, at in due.items()))


def indexed(eid: str, channel: str) -> Call[bool]:
    """Whether the enrollment has an entry for `channel`, due or leased."""
    ops = (command("zscore", due_key(channel), eid), command("zscore", lease_key(channel), eid))
    return Call(ops, lambda raw: raw[0] is not None or raw[1] is not None)


def entries(eid: str, channels: Sequence[str]) -> Call[dict[str, tuple[datetime | None, bool]]]:
    """Per channel: when the enrollment's entry is due in the index (None: no entry) and whether
    it is claimed (leased) right now."""
    ops = tuple(
        op for ch in channels for op in (command("zscore", due_key(ch), eid), command("zscore", lease_key(ch), eid))
    )

    def parse(raw: list[Any]) -> dict[str, tuple[datetime | None, bool]]:
        pairs = zip(raw[0::2], raw[1::2], strict=True)
        return {
            ch: (None if d is None else from_epoch_ms(float(d)), leased is not None)
            for ch, (d, leased) in zip(channels, pairs, strict=True)
        }

    return Call(ops, parse)


def unschedule(eid: str, channels: Iterable[str]) -> Call[None]:
    return effect(*(command("zrem", due_key(ch), eid) for ch in channels))


def _keys(channel: str) -> list[str]:
    return [due_key(channel), lease_key(channel), lease_tokens_key(channel)]


def reschedule(eid: str, channel: str, due: datetime | None, token: str) -> Call[bool]:
    """Release the claim `token` holds and, when `due` is given, put the entry back at `due` (an
    entry scheduled meanwhile keeps the earlier time); False when the claim is no longer that
    token's (release.lua). `token` '': the caller holds no claim, and acts only while none does."""
    return one(ScriptCall("release", _keys(channel), release_args(eid, due, token)), lambda done: bool(done[0]))


def release_args(eid: str, due: datetime | None, token: str) -> list[str | int]:
    """One entry's triple for release.lua."""
    return [eid, token, "" if due is None else epoch_ms(due)]


def release_many(channel: str, args: Sequence[str | int]) -> Call[list[bool]]:
    """Several entries' releases (`release_args` triples, concatenated) in one release.lua call,
    each as `reschedule` would: same keys, same checks, in order; one answer per entry."""
    return one(ScriptCall("release", _keys(channel), args), lambda done: [bool(d) for d in done])


def claim(channel: str, now: datetime, limit: int, lease_ms: int, token: str) -> Call[list[Claim]]:
    """Move up to `limit` entries due by `now` to the lease set under one claim (claim.lua);
    `token` is the random part of the claim's token."""
    return one(ScriptCall("claim", _keys(channel), [epoch_ms(now), limit, lease_ms, token]), parse_claims)


def reap(channel: str, now: datetime, limit: int) -> Call[int]:
    """Return expired leases to the due index, due now (reap.lua); how many."""
    return one(ScriptCall("reap", _keys(channel), [epoch_ms(now), limit]), int)


def renew(channel: str, token: str, confirmed_end_ms: int, lease_ms: int, eids: Sequence[str]) -> Call[int | None]:
    """Extend the leases `token` still holds among `eids` to `lease_ms` from now (renew.lua): the
    new lease end (Redis time, ms), or None when `confirmed_end_ms` has passed (nothing renewed)."""
    args = [token, confirmed_end_ms, lease_ms, *eids]
    return one(ScriptCall("renew", _keys(channel)[1:], args), _renewed)


def _renewed(raw: Any) -> int | None:
    end = int(raw[0])
    return None if end < 0 else end


def next_due(channels: Sequence[str]) -> Call[datetime | None]:
    """The earliest due time in the channels' due indexes (None: all empty); one ZRANGE each."""
    ops = tuple(command("zrange", due_key(ch), 0, 0, False, True) for ch in channels)
    return Call(ops, _earliest)


def _earliest(raw: list[Any]) -> datetime | None:
    scores = [float(first[0][1]) for first in raw if first]
    return from_epoch_ms(min(scores)) if scores else None


def in_flight(channel: str) -> Call[int]:
    return one(command("zcard", lease_key(channel)), int)


def due_counts(channel: str, now: datetime, horizon: datetime) -> Call[DueCounts]:
    """Due now, due by `horizon`, and the oldest due instant, for one channel."""
    ops = (
        command("zcount", due_key(channel), "-inf", epoch_ms(now)),
        command("zcount", due_key(channel), "-inf", epoch_ms(horizon)),
        command("zrange", due_key(channel), 0, 0, False, True),
    )
    return Call(ops, _due_counts)


def _due_counts(raw: list[Any]) -> DueCounts:
    due_now, due_soon, oldest = raw
    return DueCounts(int(due_now), int(due_soon), from_epoch_ms(float(oldest[0][1])) if oldest else None)
