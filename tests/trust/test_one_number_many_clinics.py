"""One number, many clinics (issue 13, items 1-3): repeats change nothing, replies follow the latest
message the number received, and caps count per number, not per enrollment."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import CLINIC_NAME, PATIENT_PHONE, enrollment_body, send_due
from tests.support.engine import make_deps, new_enrollment, outbox_lines, run_until_idle
from tests.trust.helpers import as_clinic, inbound
from worker.channels.base import OutgoingMessage, SendResult
from worker.channels.outbox import OutboxChannel
from worker.clock import FixedClock
from worker.delivery.resend import resend
from worker.delivery.send import send_batch
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.enrollment import enroll
from worker.errors import PermanentChannelError
from worker.inbox import unmatched
from worker.schedule import local_day
from worker.store import Store

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # the fixed clock's start: 10:00 in New York
OTHER_NAME = "Hillside Clinic"


def sms_to(outbox: Path, number: str = PATIENT_PHONE) -> list[dict[str, Any]]:
    return [m for m in outbox_lines(outbox) if m["channel"] == "sms" and m["to"] == number]


def replies(client: TestClient) -> list[dict[str, Any]]:
    """The clinic's inbox, as it reads it (GET /v1/replies)."""
    response = client.get("/v1/replies")
    assert response.status_code == 200, response.text
    return response.json()["replies"]  # type: ignore[no-any-return]


def help_text(anon: TestClient) -> str:
    response = inbound(anon, "HELP")
    assert response.status_code == 200
    return str(response.text)


def test_a_repeated_enrollment_by_another_clinic_does_not_take_the_number(
    api: FastAPI,
    client: TestClient,
    anon: TestClient,
    other_clinic: tuple[str, str],
    delivery: DeliveryDeps,
) -> None:
    assert client.post("/v1/enrollments", json=enrollment_body()).status_code == 201
    send_due(delivery)  # clinic A's welcome reaches the number
    with as_clinic(api, other_clinic[1]) as other:
        body = enrollment_body(patient_ref="hill-7")
        assert other.post("/v1/enrollments", json=body).status_code == 201
        assert other.post("/v1/enrollments", json=body).status_code == 200  # the repeat
        # Nothing from clinic B has reached the number: HELP and replies still belong to clinic A.
        assert CLINIC_NAME in help_text(anon)
        assert OTHER_NAME not in help_text(anon)
        inbound(anon, "my arm keeps twitching")
        assert len(replies(client)) == 1
        assert replies(other) == []


def test_replies_follow_the_clinic_whose_message_arrived_last(
    api: FastAPI,
    client: TestClient,
    anon: TestClient,
    other_clinic: tuple[str, str],
    delivery: DeliveryDeps,
    clock: FixedClock,
    outbox: Path,
) -> None:
    client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None))
    send_due(delivery)
    with as_clinic(api, other_clinic[1]) as other:
        other.post("/v1/enrollments", json=enrollment_body(patient_ref="hill-7", channels=["sms"], email=None))
        assert CLINIC_NAME in help_text(anon)
        # The next morning clinic B's welcome (held by the number's daily cap) goes out.
        clock.set(datetime(2026, 3, 3, 8, 30, tzinfo=NEW_YORK))
        send_due(delivery)
        assert [OTHER_NAME in m["body"] for m in sms_to(outbox)] == [False, True]
        assert OTHER_NAME in help_text(anon)
        inbound(anon, "who is this?")
        assert len(replies(other)) == 1
        assert replies(client) == []


def test_a_reply_from_a_number_no_clinic_texted_goes_to_the_operators(
    anon: TestClient, client: TestClient, engine: EngineDeps
) -> None:
    assert inbound(anon, "hello?", sender="+14155559999").status_code == 200
    assert len(unmatched(engine)) == 1
    assert replies(client) == []


def test_two_enrollments_to_one_number_stay_within_the_caps(
    api: FastAPI,
    client: TestClient,
    other_clinic: tuple[str, str],
    delivery: DeliveryDeps,
    outbox: Path,
) -> None:
    client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None))
    with as_clinic(api, other_clinic[1]) as other:
        other.post("/v1/enrollments", json=enrollment_body(patient_ref="hill-7", channels=["sms"], email=None))
    run_until_idle(delivery, max_ticks=5000)
    sent = sms_to(outbox)
    # Never dropped: each enrollment's 11 SMS steps arrive exactly once.
    per_enrollment = Counter((m["enrollment_id"], m["step"]) for m in sent)
    assert len(per_enrollment) == 22 and set(per_enrollment.values()) == {1}
    # Within the caps for the person holding the phone: 1 a local day, 3 in any 7 x 24 hours.
    times = sorted(datetime.fromisoformat(m["sent_at"]) for m in sent)
    days = Counter(t.astimezone(NEW_YORK).date() for t in times)
    assert max(days.values()) == 1
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u - t < timedelta(days=7)) <= 3, t


# -- more of items 1-3: what the rule means at its edges ------------------------------------------
READERS: dict[str, Any] = {
    "hash": lambda c, k: c.hgetall(k),
    "zset": lambda c, k: c.zrange(k, 0, -1, withscores=True),
    "string": lambda c, k: c.get(k),
    "set": lambda c, k: sorted(c.smembers(k)),
    "list": lambda c, k: c.lrange(k, 0, -1),
    "stream": lambda c, k: c.xrange(k),
}


def stored_state(store: Store) -> dict[str, Any]:
    """Every key in Redis with its value (and whether it expires): what a side effect would change."""
    client = store.redis
    found: dict[str, Any] = {}
    for key in sorted(client.scan_iter()):
        kind = client.type(key)
        found[str(key)] = (kind, READERS[str(kind)](client, key), client.pttl(key) > 0)
    return found


class Refuses(OutboxChannel):
    """A provider that refuses every message for good (never handed over)."""

    def send_many(self, messages: list[OutgoingMessage], *, now: datetime) -> list[SendResult | Exception]:
        return [PermanentChannelError("carrier said no", code="30006") for _ in messages]


def test_a_repeat_carrying_another_number_changes_nothing_stored(
    client: TestClient, anon: TestClient, delivery: DeliveryDeps, store: Store
) -> None:
    assert client.post("/v1/enrollments", json=enrollment_body()).status_code == 201
    send_due(delivery)
    before = stored_state(store)
    repeat = client.post("/v1/enrollments", json=enrollment_body(phone="+14155559876", first_name="Other"))
    assert repeat.status_code == 200 and repeat.json()["phone"] == PATIENT_PHONE
    assert stored_state(store) == before
    # The other number is nobody's: its reply goes to the operators, not to this clinic.
    inbound(anon, "hi", sender="+14155559876")
    assert replies(client) == []


def test_two_clinics_enrolled_and_nothing_sent_yet_go_to_the_operators(
    api: FastAPI, client: TestClient, anon: TestClient, other_clinic: tuple[str, str], engine: EngineDeps
) -> None:
    client.post("/v1/enrollments", json=enrollment_body())
    with as_clinic(api, other_clinic[1]) as other:
        assert other.post("/v1/enrollments", json=enrollment_body(patient_ref="hill-7")).status_code == 201
        generic = "<Message>Health tips by text. In an emergency, call 911. Reply STOP to opt out.</Message>"
        assert generic in help_text(anon)
        inbound(anon, "which clinic is this?")
        assert replies(client) == [] and replies(other) == []
    assert [(r.sender, r.length) for r in unmatched(engine)] == [("***2671", len("which clinic is this?"))]


def test_one_clinic_enrolled_and_nothing_sent_yet_hears_the_reply(
    client: TestClient, anon: TestClient, enrolled: dict[str, Any]
) -> None:
    assert CLINIC_NAME in help_text(anon)
    inbound(anon, "is this about my appointment?")
    assert [(r["enrollment_id"], r["body"]) for r in replies(client)] == [
        (enrolled["id"], "is this about my appointment?")
    ]


def test_a_canceled_enrollment_does_not_claim_a_number_that_received_nothing(
    api: FastAPI, client: TestClient, anon: TestClient, other_clinic: tuple[str, str]
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body()).json()["id"]
    client.post(f"/v1/enrollments/{eid}/cancel")
    with as_clinic(api, other_clinic[1]) as other:
        other.post("/v1/enrollments", json=enrollment_body(patient_ref="hill-7"))
        assert OTHER_NAME in help_text(anon)
        inbound(anon, "ok")
        assert len(replies(other)) == 1 and replies(client) == []


def test_a_changed_number_takes_its_replies_along(
    client: TestClient, anon: TestClient, enrolled: dict[str, Any], engine: EngineDeps
) -> None:
    new_number = "+14155550123"
    patch = {"phone": new_number, "consent": {"sms": True, "recorded_at": "2026-03-01T00:00:00Z"}}
    assert client.patch(f"/v1/enrollments/{enrolled['id']}", json=patch).status_code == 200
    inbound(anon, "new phone, same me", sender=new_number)
    inbound(anon, "who dis", sender=PATIENT_PHONE)  # the old number received nothing: nobody's now
    assert [r["body"] for r in replies(client)] == ["new phone, same me"]
    assert [r.sender for r in unmatched(engine)] == ["***2671"]


def test_two_batches_at_once_give_one_number_one_sms(
    api: FastAPI, client: TestClient, other_clinic: tuple[str, str], delivery: DeliveryDeps, outbox: Path
) -> None:
    """The per-number check is atomic across workers: two send tasks at the same instant, one SMS."""
    eids = [client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]]
    with as_clinic(api, other_clinic[1]) as other:
        body = enrollment_body(patient_ref="hill-7", channels=["sms"], email=None)
        eids.append(other.post("/v1/enrollments", json=body).json()["id"])
    claimed = delivery.engine.store.claim("sms", delivery.engine.clock.now(), 10, 60_000)
    assert sorted(c.enrollment_id for c in claimed) == sorted(eids)
    start = threading.Barrier(2)

    def send(handle: str) -> dict[str, int]:
        start.wait()
        return send_batch(delivery, "sms", [handle]).counts

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(send, [c.handle for c in claimed]))
    assert sorted(outcomes, key=str) == sorted([{"sent": 1}, {"deferred": 1}], key=str)
    assert len(sms_to(outbox)) == 1
    # The held one waits in the due index for the next allowed instant (tomorrow 08:00 local).
    tomorrow = datetime(2026, 3, 3, 8, 0, tzinfo=NEW_YORK)
    assert [c.enrollment_id for c in delivery.engine.store.claim("sms", tomorrow, 10, 60_000)] != []


def test_a_message_not_handed_over_gives_its_place_back(
    api: FastAPI, client: TestClient, other_clinic: tuple[str, str], delivery: DeliveryDeps, outbox: Path, store: Store
) -> None:
    client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None))
    delivery.channels["sms"] = Refuses("sms", outbox)
    send_due(delivery)  # failed: it never reached the number, so it takes none of today's cap
    assert sms_to(outbox) == [] and store.recent_sends(delivery.engine.index.blind_index(PATIENT_PHONE)) == []
    delivery.channels["sms"] = OutboxChannel("sms", outbox)
    with as_clinic(api, other_clinic[1]) as other:
        other.post("/v1/enrollments", json=enrollment_body(patient_ref="hill-7", channels=["sms"], email=None))
    send_due(delivery)
    assert [OTHER_NAME in m["body"] for m in sms_to(outbox)] == [True]


def test_an_operator_resend_counts_toward_the_numbers_caps(
    api: FastAPI,
    client: TestClient,
    other_clinic: tuple[str, str],
    delivery: DeliveryDeps,
    clock: FixedClock,
    outbox: Path,
    store: Store,
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    delivery.channels["sms"] = Refuses("sms", outbox)
    send_due(delivery)
    delivery.channels["sms"] = OutboxChannel("sms", outbox)
    with as_clinic(api, other_clinic[1]) as other:
        other.post("/v1/enrollments", json=enrollment_body(patient_ref="hill-7", channels=["sms"], email=None))
    send_due(delivery)  # Hillside's welcome takes today's one SMS
    failed = f"{eid}.welcome.sms.1"
    assert resend(delivery, failed) == "not sent: the number's caps allow its next message at 2026-03-03T13:00:00+00:00"
    clock.set(datetime(2026, 3, 3, 8, 0, tzinfo=NEW_YORK))
    assert resend(delivery, failed) == f"sent {eid}.welcome.sms.2"
    # In the history the caps are checked against: Hillside's welcome yesterday, the resend today.
    resent_at = datetime(2026, 3, 3, 8, 0, tzinfo=NEW_YORK)
    assert store.recent_sends(delivery.engine.index.blind_index(PATIENT_PHONE)) == [NOW, resent_at]
    # Today's SMS went as that resend: nothing else reaches the number before tomorrow.
    clock.set(datetime(2026, 3, 3, 20, 0, tzinfo=NEW_YORK))
    run_until_idle(delivery, until=clock.now())
    assert len(sms_to(outbox)) == 2


def test_email_caps_count_per_address(redis_url: str, tmp_path: Path) -> None:
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl", caps="sms:1/day,3/week;email:1/day")
    for ref, phone in (("a", "+14155552671"), ("b", "+14155552672")):
        enroll(deps.engine, new_enrollment(ref, channels=("email",), phone=phone, email="Same@Example.com"))
    run_until_idle(deps, max_ticks=5000)
    sent = [m for m in outbox_lines(tmp_path / "outbox.jsonl") if m["channel"] == "email"]
    days = Counter(datetime.fromisoformat(m["sent_at"]).astimezone(NEW_YORK).date() for m in sent)
    assert len(sent) == 2 * len(deps.engine.catalog.get("twitching").steps_for("email"))
    assert max(days.values()) == 1


def test_a_place_is_given_back_only_by_the_attempt_that_owns_it(
    client: TestClient, anon: TestClient, delivery: DeliveryDeps, store: Store, clock: FixedClock
) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(channels=["sms"], email=None)).json()["id"]
    mid, bi = f"{eid}.welcome.sms.1", delivery.engine.index.blind_index(PATIENT_PHONE)
    day = local_day(clock.now(), NEW_YORK)

    def reserve_as_another_worker() -> None:
        batch = store.batch()
        batch.reserve_send(bi, mid, clock.now(), day, (1, 3), 86400)
        batch.run()

    # Another worker reserved the place and is sending the message: this attempt finds it busy
    # and leaves the place where it is.
    reserve_as_another_worker()
    store.begin_send(mid, cursor=0, now=clock.now(), stale_s=300)
    (claim,) = store.claim("sms", clock.now(), 10, 60_000)
    assert send_batch(delivery, "sms", [claim.handle]).counts == {"busy": 1}
    assert store.recent_sends(bi) == [NOW]
    # An attempt interrupted before it took "sending" left its place behind; the next attempt
    # (a lease later) takes "sending", finds the number opted out, and gives the place back.
    store.redis.delete(*store.redis.keys("cd:{e:*}:m"))
    inbound(anon, "STOP")
    clock.advance(timedelta(seconds=delivery.lease_seconds))
    (claim,) = store.claim("sms", clock.now(), 10, 60_000)
    assert send_batch(delivery, "sms", [claim.handle]).counts == {"skipped": 1}
    assert store.recent_sends(bi) == []


def test_concurrent_identical_enrollments_keep_the_numbers_note(engine: EngineDeps, store: Store) -> None:
    """Of 16 identical events at once one creates; whichever request wrote the number's note, it stays."""
    start = threading.Barrier(16)

    def enroll_once(_: int) -> bool:
        start.wait()
        return enroll(engine, new_enrollment("same", channels=("sms",), email=None, clinic_id="c_1"))[1]

    with ThreadPoolExecutor(16) as pool:
        created = list(pool.map(enroll_once, range(16)))
    assert created.count(True) == 1
    eid = enroll(engine, new_enrollment("same", channels=("sms",), email=None, clinic_id="c_1"))[0].id
    assert store.number_record(engine.index.blind_index(PATIENT_PHONE)).enrollments == {eid: "c_1"}
