"""Red-flag replies through the real API (issue 15): signed Twilio webhooks for each warning sign in
English and Spanish are answered at once with the safety text, pause their enrollment for
`red_flag`, are kept flagged and open an alert that the reply's acknowledgement closes; replies
that must not flag change nothing. Status and /metrics count open alerts and their age."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import CLINIC_NAME, PATIENT_PHONE, enrollment_body, send_due, twilio_post
from worker import events
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.redflags import red_flags_for
from worker.status import snapshot
from worker.store import UNMATCHED, Store
from worker.store.keys import enrollment_key
from worker.webhooks.events import EventType

INBOUND = "/webhooks/twilio/inbound"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
SAFETY = {
    "en": f"If this is an emergency, call 911 now. We've told {CLINIC_NAME}; they will contact you. "
    "You can also call them at +1 415-555-0100.",
    "es": f"Si es una emergencia, llama ya al 911. Avisamos a {CLINIC_NAME} y te van a llamar. "
    "O llama al +1 415-555-0100.",
}
SIGNS = [
    ("en", "weakness", "my left hand is getting weaker"),
    ("en", "weakness", "I keep dropping things"),
    ("en", "spreading_or_lasting", "the twitching is spreading to my other arm"),
    ("en", "spreading_or_lasting", "I've had this twitching for weeks"),
    ("en", "muscle_wasting", "my calf muscle looks smaller"),
    ("en", "swallowing", "hard to swalow"),
    ("en", "speech", "my speech is slurred"),
    ("en", "breathing", "I can't breathe"),
    ("en", "falls", "I fell twice this week"),
    ("en", "numbness", "my foot is numb"),
    ("en", "chest_pain", "having CHEST PAIN!!"),
    ("en", "emergency", "this is an emergency"),
    ("en", "emergency", "calling 911"),
    ("es", "weakness", "me siento muy débil"),
    ("es", "weakness", "DEBIL"),
    ("es", "spreading_or_lasting", "el tic se está extendiendo a la pierna"),
    ("es", "spreading_or_lasting", "llevo semanas con los espasmos"),
    ("es", "muscle_wasting", "el músculo se ve más delgado"),
    ("es", "swallowing", "me cuesta tragar"),
    ("es", "speech", "arrastro las palabras al hablar"),
    ("es", "breathing", "no puedo respirar"),
    ("es", "falls", "me caí dos veces"),
    ("es", "numbness", "tengo la mano adormecida"),
    ("es", "chest_pain", "ME DUELE EL PECHO"),
    ("es", "emergency", "es una emergencia"),
    ("es", "emergency", "voy a llamar al 911"),
]
NOT_FLAGS = [
    ("en", "thanks!"),
    ("en", "Got it, I'll drink more water"),
    ("en", "I fell asleep early last night"),
    ("en", "I did the deep breathing exercises"),
    ("en", "twitching is better today"),
    ("en", "😊"),
    ("es", "gracias"),
    ("es", "me siento mejor hoy"),
    ("es", "hice los ejercicios de respiración"),
    ("es", "¿A qué hora es mi cita?"),
]
_SIDS = itertools.count()


def inbound(body: str, sender: str = PATIENT_PHONE, **extra: str) -> dict[str, str]:
    return {"From": sender, "To": "+14155550199", "Body": body, "MessageSid": f"SMrf{next(_SIDS):030x}", **extra}


def text_in(anon: TestClient, body: str, sender: str = PATIENT_PHONE, **extra: str) -> Any:
    response = twilio_post(anon, INBOUND, inbound(body, sender, **extra))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    return response


def enroll(client: TestClient, language: str = "en", **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/enrollments", json=enrollment_body(language=language, **overrides))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, EventType, str, Mapping[str, Any]]]:
    """Events handed to `events.emit` (delivery is the webhooks work; here, what is asked of it)."""
    seen: list[tuple[str, EventType, str, Mapping[str, Any]]] = []

    def record(
        deps: EngineDeps, clinic_id: str, event_type: EventType, *, key: str, at: datetime, data: Mapping[str, Any]
    ) -> None:
        seen.append((clinic_id, event_type, key, data))

    monkeypatch.setattr(events, "emit", record)
    return seen


@pytest.mark.parametrize(
    "language, sign, text", SIGNS, ids=[f"{lang}-{sign}-{i}" for i, (lang, sign, _) in enumerate(SIGNS)]
)
def test_each_warning_sign_is_answered_paused_kept_and_alerted(
    anon: TestClient,
    client: TestClient,
    engine: EngineDeps,
    store: Store,
    clinic: tuple[str, str],
    emitted: list[tuple[str, EventType, str, Mapping[str, Any]]],
    language: str,
    sign: str,
    text: str,
) -> None:
    match = red_flags_for(engine.catalog.content_dir, "twitching").check(text, language)
    assert match is not None and sign in match.signs  # the sign the row names, not any sign
    eid = enroll(client, language)["id"]

    response = text_in(anon, text)

    assert response.text == (
        f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{SAFETY[language]}</Message></Response>'
    )
    shown = client.get(f"/v1/enrollments/{eid}").json()
    assert (shown["state"], shown["paused_reason"], shown["next_message_at"]) == ("paused", "red_flag", None)
    (reply,) = client.get("/v1/replies").json()["replies"]
    assert (reply["body"], reply["red_flag"], reply["enrollment_id"]) == (text, True, eid)
    (alert,) = store.open_alerts()
    assert (alert.reply_id, alert.clinic_id, alert.enrollment_id) == (reply["id"], clinic[0], eid)
    assert [(c, t, k) for c, t, k, _ in emitted] == [
        (clinic[0], EventType.ALERT_RAISED, reply["id"]),
        (clinic[0], EventType.REPLY_RECEIVED, reply["id"]),
    ]
    alert_data = emitted[0][3]
    assert alert_data == {
        "reply_id": reply["id"], "enrollment_id": eid, "patient_ref": "p-1", "received_at": reply["received_at"],
    }  # fmt: skip
    assert text not in repr([data for *_, data in emitted])  # no reply text in any event


@pytest.mark.parametrize("language, text", NOT_FLAGS)
def test_ordinary_replies_are_kept_unanswered_and_change_nothing(
    anon: TestClient,
    client: TestClient,
    store: Store,
    emitted: list[tuple[str, EventType, str, Mapping[str, Any]]],
    language: str,
    text: str,
) -> None:
    eid = enroll(client, language)["id"]
    assert text_in(anon, text).text == EMPTY_TWIML
    shown = client.get(f"/v1/enrollments/{eid}").json()
    assert (shown["state"], shown["paused_reason"]) == ("active", None)
    (reply,) = client.get("/v1/replies").json()["replies"]
    assert (reply["body"], reply["red_flag"]) == (text, False)
    assert store.open_alerts() == []
    assert [(t, k) for _, t, k, _ in emitted] == [(EventType.REPLY_RECEIVED, reply["id"])]
    assert emitted[0][3]["red_flag"] is False


def test_acknowledging_the_reply_closes_its_alert_and_status_and_metrics_follow(
    api: FastAPI,
    anon: TestClient,
    client: TestClient,
    engine: EngineDeps,
    store: Store,
    clock: FixedClock,
    other_clinic: tuple[str, str],
) -> None:
    enroll(client)
    assert snapshot(store, clock.now()).alerts.open == 0
    text_in(anon, "my arm is weak")
    (reply,) = client.get("/v1/replies").json()["replies"]
    clock.advance(timedelta(minutes=10))
    snap = snapshot(store, clock.now())
    assert (snap.alerts.open, snap.alert_oldest_age) == (1, timedelta(minutes=10))
    metrics = anon.get("/metrics").text
    assert "caredrip_alerts_open 1.0" in metrics
    assert "caredrip_alert_oldest_age_seconds 600.0" in metrics

    with TestClient(api, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        assert other.post(f"/v1/replies/{reply['id']}/ack").status_code == 404
    assert len(store.open_alerts()) == 1  # another clinic's ack closes nothing

    acked = client.post(f"/v1/replies/{reply['id']}/ack")
    assert acked.status_code == 200 and acked.json()["red_flag"] is True
    assert store.open_alerts() == []
    closed = store.get_alert(reply["id"])
    assert closed is not None and closed.closed_at == clock.now()
    snap = snapshot(store, clock.now())
    assert (snap.alerts.open, snap.alert_oldest_age) == (0, timedelta(0))
    assert "caredrip_alerts_open 0.0" in anon.get("/metrics").text
    assert client.post(f"/v1/replies/{reply['id']}/ack").status_code == 200  # again: still fine


def test_a_red_flag_from_a_number_nobody_enrolled_alerts_the_operators(
    anon: TestClient, store: Store, emitted: list[tuple[str, EventType, str, Mapping[str, Any]]]
) -> None:
    stranger = "+14155559999"
    response = text_in(anon, "no puedo respirar", sender=stranger)
    # Checked against every language of the default program; answered in the language that matched.
    assert "<Message>Si es una emergencia, llama ya al 911.</Message>" in response.text
    (alert,) = store.open_alerts()
    assert (alert.clinic_id, alert.enrollment_id) == ("", "")
    assert [a.reply_id for a in store.open_alerts(UNMATCHED)] == [alert.reply_id]
    (kept,) = store.get_replies([alert.reply_id])
    assert kept is not None and kept.red_flag and kept.masked_sender == "***9999"
    assert emitted == []  # no clinic to tell
    assert "call 911 now.</Message>" in text_in(anon, "chest pain", sender=stranger).text


def test_a_red_flag_raises_a_patients_pause_and_a_clinic_pause_stays_the_clinics(
    anon: TestClient, client: TestClient, store: Store
) -> None:
    eid = enroll(client)["id"]
    assert client.post(f"/v1/enrollments/{eid}/pause").json()["paused_reason"] == "clinic"
    text_in(anon, "PAUSE")
    assert client.get(f"/v1/enrollments/{eid}").json()["paused_reason"] == "clinic"
    text_in(anon, "I can't breathe")
    assert client.get(f"/v1/enrollments/{eid}").json()["paused_reason"] == "red_flag"
    text_in(anon, "pausa")  # a patient's pause never lowers it
    assert client.get(f"/v1/enrollments/{eid}").json()["paused_reason"] == "red_flag"
    resumed = client.post(f"/v1/enrollments/{eid}/resume").json()
    assert (resumed["state"], resumed["paused_reason"]) == ("active", None)
    assert len(store.open_alerts()) == 1  # resuming is not acknowledging


def test_a_red_flag_about_an_enrollment_gone_since_still_reaches_its_clinic(
    anon: TestClient,
    client: TestClient,
    delivery: DeliveryDeps,
    store: Store,
    clinic: tuple[str, str],
    emitted: list[tuple[str, EventType, str, Mapping[str, Any]]],
) -> None:
    eid = enroll(client)["id"]
    send_due(delivery)  # the number's latest message is this enrollment's: its replies go to the clinic
    store.redis.delete(enrollment_key(eid))  # its records expired (retention), the number's note did not
    answer = text_in(anon, "chest pain").text
    assert f"call 911 now. We've told {CLINIC_NAME}" in answer
    (reply,) = client.get("/v1/replies").json()["replies"]
    assert (reply["enrollment_id"], reply["red_flag"]) == (eid, True)
    (alert,) = store.open_alerts(clinic[0])
    assert (alert.reply_id, alert.enrollment_id) == (reply["id"], eid)
    assert [(c, t, k) for c, t, k, _ in emitted] == [
        (clinic[0], EventType.ALERT_RAISED, reply["id"]),
        (clinic[0], EventType.REPLY_RECEIVED, reply["id"]),
    ]
