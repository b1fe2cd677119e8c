"""Clinic webhooks: the Caredrip-Signature header, the event envelope and the retry schedule."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from worker.webhooks import (
    HEADER,
    RETRY_WINDOW_SECONDS,
    EventType,
    build_event,
    encode_event,
    event_id,
    new_secret,
    next_delay_seconds,
    retry_offsets,
    sign,
    verify,
)
from worker.webhooks.backoff import MAX_SECONDS, backoff_seconds
from worker.webhooks.signing import parse

SECRET = "whsec_test_secret"
BODY = b'{"id":"evt_1","type":"alert.raised"}'
T = 1_764_511_500
OPENSSL_VECTOR = "b95b2fc35e9bdc3e77213a53806239193a5c8a47e481300584089a5ea116eb63"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def test_header_format_and_a_known_vector() -> None:
    # From openssl, not from Python: printf '%s' '1764511500.{"id":"evt_1","type":"alert.raised"}'
    # | openssl dgst -sha256 -hmac whsec_test_secret
    assert HEADER == "Caredrip-Signature"
    assert sign(SECRET, BODY, T) == "t=1764511500,v1=" + OPENSSL_VECTOR


def test_round_trip() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(secret) > 40
    assert verify(secret, BODY, sign(secret, BODY, T), now=T)
    assert verify(secret, BODY, sign(secret, BODY, T), now=T + 300)
    assert verify(secret, BODY, sign(secret, BODY, T), now=T - 300)


@pytest.mark.parametrize(
    ("secret", "body", "header", "now"),
    [
        ("whsec_other", BODY, sign(SECRET, BODY, T), T),  # wrong secret
        (SECRET, BODY + b" ", sign(SECRET, BODY, T), T),  # body changed by one byte
        (SECRET, BODY.replace(b"alert", b"reply"), sign(SECRET, BODY, T), T),
        (SECRET, BODY, sign(SECRET, BODY, T).replace(f"t={T}", f"t={T + 1}"), T),  # timestamp changed
        (SECRET, BODY, sign(SECRET, BODY, T), T + 301),  # too old: a replay
        (SECRET, BODY, sign(SECRET, BODY, T), T - 301),  # from too far ahead
        (SECRET, BODY, sign(SECRET, BODY, T).upper(), T),
        (SECRET, BODY, "", T),
        (SECRET, BODY, "garbage", T),
        (SECRET, BODY, f"t={T}", T),  # no v1
        (SECRET, BODY, "v1=" + sign(SECRET, BODY, T).split("v1=")[1], T),  # no t
        (SECRET, BODY, f"t=-{T},v1=00", T),
        (SECRET, BODY, "t=１２,v1=00", T),  # non-ASCII digits
        (SECRET, BODY, f"t={T},v0=" + sign(SECRET, BODY, T).split("v1=")[1], T),  # another scheme
        (SECRET, BODY, sign(SECRET, BODY, T) + "," * 5000, T),  # absurdly long
    ],
)
def test_tampering_fails(secret: str, body: bytes, header: str, now: float) -> None:
    assert verify(secret, body, header, now=now) is False


def test_any_of_several_signatures_may_match() -> None:
    header = f"t={T},v1={'0' * 64},v1={sign(SECRET, BODY, T).split('v1=')[1]}"
    assert verify(SECRET, BODY, header, now=T)
    assert verify(SECRET, BODY, " " + header.replace(",", " , "), now=T)


def test_parse() -> None:
    assert parse(f"t={T},v1=ab,v0=cd,v1=ef") == (T, ["ab", "ef"])
    assert parse("t=x,v1=ab") is None


def test_the_documented_python_snippet_verifies_caredrip_signatures() -> None:
    snippet = re.search(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert snippet is not None
    namespace: dict[str, Any] = {}
    exec(snippet.group(1), namespace)
    docs_verify = namespace["verify"]
    now = int(datetime.now(UTC).timestamp())
    assert docs_verify(SECRET, BODY, sign(SECRET, BODY, now))
    assert not docs_verify(SECRET, BODY + b"x", sign(SECRET, BODY, now))
    assert not docs_verify(SECRET, BODY, sign(SECRET, BODY, now - 3600))


CREATED = datetime(2026, 11, 30, 9, 5, tzinfo=timezone(timedelta(hours=-5)))


def test_event_envelope() -> None:
    event = build_event(EventType.ALERT_RAISED, key="r_123", created_at=CREATED, data={"reply_id": "r_123"})
    assert list(event) == ["id", "type", "created_at", "data"]
    assert event["type"] == "alert.raised"
    assert event["created_at"] == "2026-11-30T14:05:00+00:00"
    assert re.fullmatch(r"evt_[0-9a-f]{32}", event["id"])
    assert json.loads(encode_event(event)) == event


def test_event_id_is_stable_across_retries_and_raises() -> None:
    first = build_event(EventType.REPLY_RECEIVED, key="r_1", created_at=CREATED, data={"body": "hola"})
    again = build_event(EventType.REPLY_RECEIVED, key="r_1", created_at=CREATED + timedelta(hours=3), data={})
    assert first["id"] == again["id"] == event_id(EventType.REPLY_RECEIVED, "r_1")
    assert event_id(EventType.ALERT_RAISED, "r_1") != first["id"]
    assert event_id(EventType.REPLY_RECEIVED, "r_2") != first["id"]


def test_encoding_is_deterministic_utf8() -> None:
    event = build_event(EventType.REPLY_RECEIVED, key="r_1", created_at=CREATED, data={"body": "me duele el pecho 💔"})
    body = encode_event(event)
    assert body == encode_event(dict(event))
    assert "💔".encode() in body and b" " not in body.split(b'"body"')[0]


def test_event_types() -> None:
    assert [t.value for t in EventType] == [
        "reply.received",
        "alert.raised",
        "enrollment.opted_out",
        "enrollment.completed",
        "message.failed",
    ]
    assert EventType("alert.raised") is EventType.ALERT_RAISED


def test_bad_events_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_event(EventType.MESSAGE_FAILED, key="m", created_at=datetime(2026, 1, 1), data={})
    with pytest.raises(ValueError, match="key"):
        event_id(EventType.MESSAGE_FAILED, "")


@pytest.mark.parametrize(
    ("attempts", "jitter", "expected"),
    [
        (1, 0.0, 15.0),
        (1, 0.5, 22.5),
        (2, 0.0, 30.0),
        (3, 0.0, 60.0),
        (7, 0.0, 960.0),
        (8, 0.0, 1800.0),  # the ceiling reaches MAX_SECONDS
        (8, 0.999, 1800.0 + 1800.0 * 0.999),
        (50, 0.0, 1800.0),
        (10_000, 0.0, 1800.0),
    ],
)
def test_backoff_seconds(attempts: int, jitter: float, expected: float) -> None:
    assert backoff_seconds(attempts=attempts, jitter=jitter) == pytest.approx(expected)


@pytest.mark.parametrize(("attempts", "jitter"), [(0, 0.0), (1, -0.1), (1, 1.0)])
def test_backoff_refuses_nonsense(attempts: int, jitter: float) -> None:
    with pytest.raises(ValueError):
        backoff_seconds(attempts=attempts, jitter=jitter)


@pytest.mark.parametrize("jitters", [[0.0], [0.5], [0.999], [random.Random(7).random() for _ in range(200)], []])
def test_retries_span_24_hours(jitters: list[float]) -> None:
    offsets = retry_offsets(jitters=jitters)
    assert offsets[-1] == RETRY_WINDOW_SECONDS == 24 * 3600
    gaps = [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]
    assert all(0 < gap <= MAX_SECONDS for gap in gaps)
    assert gaps[0] < 60  # the first retry comes quickly
    assert 25 <= len(offsets) <= 60


def test_next_delay_gives_up_after_the_window() -> None:
    assert next_delay_seconds(attempts=40, elapsed_seconds=RETRY_WINDOW_SECONDS, jitter=0.0) is None
    assert next_delay_seconds(attempts=40, elapsed_seconds=RETRY_WINDOW_SECONDS - 10, jitter=0.9) == 10
    assert next_delay_seconds(attempts=1, elapsed_seconds=0, jitter=0.0) == 15
