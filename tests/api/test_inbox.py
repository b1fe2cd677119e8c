"""The clinic's inbox (issue 15): GET /v1/replies and POST /v1/replies/{id}/ack over HTTP, replies
kept as sealed records for the retention period, the operators' inbox, erasure by number."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL, PATIENT_PHONE, twilio_post
from worker.clock import FixedClock
from worker.deps import EngineDeps
from worker.inbox import record_reply, unmatched
from worker.store import Store
from worker.store.keys import reply_key

INBOUND = "/webhooks/twilio/inbound"
_SIDS = itertools.count()


def text_in(anon: TestClient, body: str, sender: str = PATIENT_PHONE) -> None:
    params = {"From": sender, "To": "+14155550199", "Body": body, "MessageSid": f"SM{next(_SIDS):032x}"}
    assert twilio_post(anon, INBOUND, params).status_code == 200


def inbox(client: TestClient, **query: Any) -> dict[str, Any]:
    response = client.get("/v1/replies", params=query)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "body",
    ["", "   ", "\n\t", "🙂👍🏽 thanks", "x" * 1600, "Mi mano está más débil", "<b>&amp;</b>", "STOP please"],
    ids=["empty", "spaces", "whitespace", "emoji", "1600", "accents", "markup", "not-a-keyword"],
)
def test_any_body_a_phone_can_send_is_kept_as_sent(
    anon: TestClient, client: TestClient, enrolled: dict[str, Any], body: str
) -> None:
    text_in(anon, body)
    (reply,) = inbox(client)["replies"]
    assert reply["body"] == body
    assert set(reply) == {"id", "enrollment_id", "received_at", "body", "red_flag", "acknowledged_at"}
    flagged = body == "Mi mano está más débil"  # a warning sign (weakness): kept as sent, and flagged
    assert (reply["enrollment_id"], reply["red_flag"], reply["acknowledged_at"]) == (enrolled["id"], flagged, None)


def test_a_body_longer_than_twilio_sends_is_cut_at_1600(
    anon: TestClient, client: TestClient, enrolled: dict[str, Any]
) -> None:
    text_in(anon, "y" * 2000)
    assert inbox(client)["replies"][0]["body"] == "y" * 1600


def test_replies_are_newest_first_paged_by_cursor_and_since(
    anon: TestClient, client: TestClient, enrolled: dict[str, Any], clock: FixedClock
) -> None:
    sent_at = []
    for i in range(5):
        text_in(anon, f"reply {i}")
        sent_at.append(clock.now().isoformat())
        clock.advance(timedelta(minutes=1))
    first = inbox(client, limit=2)
    assert [r["body"] for r in first["replies"]] == ["reply 4", "reply 3"]
    second = inbox(client, limit=2, cursor=first["next_cursor"])
    assert [r["body"] for r in second["replies"]] == ["reply 2", "reply 1"]
    last = inbox(client, limit=2, cursor=second["next_cursor"])
    assert ([r["body"] for r in last["replies"]], last["next_cursor"]) == (["reply 0"], None)
    assert [r["received_at"] for r in inbox(client)["replies"]] == sent_at[::-1]
    recent = inbox(client, since=sent_at[3])
    assert ([r["body"] for r in recent["replies"]], recent["next_cursor"]) == (["reply 4", "reply 3"], None)
    assert inbox(client, since=sent_at[3], limit=1)["next_cursor"] is not None


def test_bad_paging_input_answers_422_naming_the_parameter(client: TestClient) -> None:
    for query, field in (
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "MDAwMDAwMDAwMDAwMDp4"}, "cursor"),  # base64 of a malformed entry
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-03-02T10:00:00"}, "since"),  # no UTC offset
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
    ):
        response = client.get("/v1/replies", params=query)
        assert response.status_code == 422, query
        assert response.json()["detail"][0]["loc"] == ["query", field]


def test_a_clinic_sees_and_acknowledges_only_its_own_replies(
    api: FastAPI,
    anon: TestClient,
    client: TestClient,
    enrolled: dict[str, Any],
    other_clinic: tuple[str, str],
    clock: FixedClock,
) -> None:
    text_in(anon, "my hand feels weak")
    (reply,) = inbox(client)["replies"]
    with TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        assert inbox(other) == {"replies": [], "next_cursor": None}
        missing = other.post(f"/v1/replies/{reply['id']}/ack")
        assert (missing.status_code, missing.json()) == (404, {"detail": "reply not found"})
    assert inbox(client)["replies"][0]["acknowledged_at"] is None  # another clinic's ack changed nothing
    acked = client.post(f"/v1/replies/{reply['id']}/ack")
    assert acked.status_code == 200
    assert acked.json() == {**reply, "acknowledged_at": clock.now().isoformat()}
    clock.advance(timedelta(hours=1))
    again = client.post(f"/v1/replies/{reply['id']}/ack").json()
    assert again["acknowledged_at"] == acked.json()["acknowledged_at"]  # the first acknowledgement stays
    assert inbox(client)["replies"] == [acked.json()]
    for rid in ("nope", "A" * 22, "../../etc", "%00"):
        assert client.post(f"/v1/replies/{rid}/ack").status_code == 404
    assert anon.get("/v1/replies").status_code == 401
    assert anon.post(f"/v1/replies/{reply['id']}/ack").status_code == 401


def test_reply_bodies_are_sealed_at_rest_and_kept_for_the_retention_period(
    anon: TestClient, client: TestClient, enrolled: dict[str, Any], store: Store, engine: EngineDeps
) -> None:
    text_in(anon, "chest pain since this morning")
    (reply,) = inbox(client)["replies"]
    dump = " ".join(f"{key} {k} {v}" for key in store.redis.scan_iter() for k, v in _values(store, key))
    assert "chest pain" not in dump
    # The number is no key, and nothing kept for routing, caps or replies holds it (the enrollment
    # hash is sealed by issue 14's codec, not here).
    mine = [key for key in store.redis.scan_iter() if key.startswith(("cd:{n:", "cd:{r:", "cd:replies:"))]
    assert len(mine) >= 3
    kept = " ".join(f"{key} {k} {v}" for key in mine for k, v in _values(store, key))
    assert PATIENT_PHONE[2:] not in kept and PATIENT_PHONE[2:] not in " ".join(store.redis.scan_iter())
    ttl = store.redis.pttl(reply_key(reply["id"]))
    assert engine.retention_s * 1000 - 60_000 < ttl <= engine.retention_s * 1000


def _values(store: Store, key: str) -> list[tuple[str, str]]:
    kind = store.redis.type(key)
    if kind == "hash":
        return [(str(k), str(v)) for k, v in store.redis.hgetall(key).items()]
    if kind == "zset":
        return [(str(m), str(s)) for m, s in store.redis.zrange(key, 0, -1, withscores=True)]  # type: ignore[str-unpack]
    return [(key, str(store.redis.get(key)))] if kind == "string" else []


def test_the_red_flag_helper_records_a_flagged_reply(
    client: TestClient, enrolled: dict[str, Any], engine: EngineDeps, clock: FixedClock
) -> None:
    reply = record_reply(
        engine, enrolled["clinic_id"], enrolled["id"], "I choke when I swallow", clock.now(), red_flag=True
    )
    listed = inbox(client)["replies"]
    assert [(r["id"], r["body"], r["red_flag"]) for r in listed] == [(reply.id, "I choke when I swallow", True)]


def test_unmatched_replies_show_operators_no_body(anon: TestClient, engine: EngineDeps, clock: FixedClock) -> None:
    text_in(anon, "hello, who is this? 🙂", sender="+14155559999")
    earlier = clock.now()
    clock.advance(timedelta(minutes=1))
    text_in(anon, "x", sender="+0123")  # not a number anyone could enroll: nobody's
    found = unmatched(engine)
    assert [(r.sender, r.received_at, r.length) for r in found] == [
        ("***", clock.now(), 1),
        ("***9999", earlier, len("hello, who is this? 🙂")),
    ]
    assert not hasattr(found[0], "body")


def test_erasing_a_number_removes_its_replies_and_its_record(
    anon: TestClient, client: TestClient, enrolled: dict[str, Any], store: Store, engine: EngineDeps
) -> None:
    text_in(anon, "please forget me")
    text_in(anon, "and this", sender="+14155559999")
    bi = engine.index.blind_index(PATIENT_PHONE)
    assert store.number_record(bi).enrollments == {enrolled["id"]: enrolled["clinic_id"]}
    assert [r.enrollment_id for r in store.number_replies(bi)] == [enrolled["id"]]
    assert store.erase_number(bi).replies == 1
    assert inbox(client)["replies"] == []
    assert store.number_record(bi).enrollments == {} and store.number_replies(bi) == []
    assert len(unmatched(engine)) == 1  # another number's reply stays
