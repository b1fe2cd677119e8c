"""Keywords in the patient's language and PAUSE through the real API (issue 15): signed Twilio
webhooks; answers in the enrollment's language; PAUSE pauses the number's enrollments at every
clinic for 7 days and they resume by themselves on the dispatch tick, on a fixed clock that
travels the 7 days; bodies a phone can send are never a 500 and never lost."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import CLINIC_NAME, PATIENT_PHONE, enrollment_body, send_due, twilio_post
from tests.support.engine import outbox_lines
from worker.clock import FixedClock
from worker.delivery.types import DeliveryDeps
from worker.store import Store

INBOUND = "/webhooks/twilio/inbound"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
_SIDS = itertools.count()


def text_in(anon: TestClient, body: str, sender: str = PATIENT_PHONE, **extra: str) -> str:
    params = {"From": sender, "To": "+14155550199", "Body": body, "MessageSid": f"SMkw{next(_SIDS):030x}", **extra}
    response = twilio_post(anon, INBOUND, params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    return str(response.text)


def message(text: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{text}</Message></Response>'


def enroll(client: TestClient, language: str = "en", **overrides: Any) -> str:
    response = client.post("/v1/enrollments", json=enrollment_body(language=language, **overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def shown(client: TestClient, eid: str) -> tuple[str, str | None]:
    body = client.get(f"/v1/enrollments/{eid}").json()
    return body["state"], body["paused_reason"]


# -- keywords, answered in the enrollment's language ---------------------------------------------
@pytest.mark.parametrize("word", ["PARAR", "alto", "Cancelar", " baja. ", "STOP"])
def test_spanish_stop_words_opt_out_and_are_confirmed_in_spanish(
    anon: TestClient, client: TestClient, store: Store, word: str
) -> None:
    enroll(client, "es")
    assert text_in(anon, word) == message(
        f"{CLINIC_NAME}: Ya no recibirás mensajes nuestros. Responde START para recibirlos de nuevo."
    )
    assert store.sms_opted_out([PATIENT_PHONE]) == [True]
    assert text_in(anon, "Comenzar") == message(
        f"{CLINIC_NAME}: Volverás a recibir nuestros mensajes. Responde STOP para cancelar, HELP para ayuda."
    )
    assert store.sms_opted_out([PATIENT_PHONE]) == [False]


@pytest.mark.parametrize(
    "language, expected",
    [
        ("es", f"{CLINIC_NAME}: Consejos de salud. ¿Dudas? Llama al +1 415-555-0100. Emergencias: 911. "
               "Responde STOP para cancelar."),
        ("en", f"{CLINIC_NAME}: Health tips by text. Questions? Call +1 415-555-0100. In an emergency, call 911. "
               "Reply STOP to opt out."),
    ],
)  # fmt: skip
@pytest.mark.parametrize("word", ["AYUDA", "help", "Ayúda!", "INFO"])
def test_help_words_answer_in_the_enrollments_language(
    anon: TestClient, client: TestClient, language: str, expected: str, word: str
) -> None:
    enroll(client, language)
    assert text_in(anon, word) == message(expected)


# -- PAUSE / PAUSA -------------------------------------------------------------------------------
def test_pause_pauses_every_enrollment_of_the_number_for_seven_days_then_they_resume(
    api: FastAPI,
    anon: TestClient,
    client: TestClient,
    other_clinic: tuple[str, str],
    delivery: DeliveryDeps,
    clock: FixedClock,
    store: Store,
    outbox: Path,
) -> None:
    mine = enroll(client, channels=["sms"], email=None)
    with TestClient(api, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        theirs = str(other.post("/v1/enrollments", json=enrollment_body(patient_ref="h-1")).json()["id"])
        elsewhere = str(
            other.post("/v1/enrollments", json=enrollment_body(patient_ref="h-2", phone="+14155550123")).json()["id"]
        )
    send_due(delivery)  # one welcome reaches the number (the other clinic's waits for the daily cap)
    sent_before = len(outbox_lines(outbox))
    paused_at = clock.now()  # 2026-03-02 10:00 in New York

    answer = text_in(anon, " Pause ")

    # 7 days on is Monday March 9 in New York (after the DST change of March 8).
    assert "Your tips are paused for 7 days, until Monday, March 9. They will start again by themselves." in answer
    assert shown(client, mine) == ("paused", "patient")
    with TestClient(api, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as other:
        assert other.get(f"/v1/enrollments/{theirs}").json()["paused_reason"] == "patient"
        assert other.get(f"/v1/enrollments/{elsewhere}").json()["state"] == "active"  # another number
    assert store.patient_resume_at(mine) is not None

    for day in range(1, 7):  # a week of dispatch ticks: nothing goes to the paused number
        clock.set(paused_at + timedelta(days=day))
        send_due(delivery)
    during = outbox_lines(outbox)[sent_before:]
    assert during and {line["enrollment_id"] for line in during} == {elsewhere}  # only the number not paused
    clock.set(paused_at + timedelta(days=7) - timedelta(seconds=1))
    send_due(delivery)
    assert shown(client, mine) == ("paused", "patient")

    clock.set(paused_at + timedelta(days=7))
    send_due(delivery)  # the tick resumes them and sends what fell due meanwhile
    assert shown(client, mine) == ("active", None)
    assert store.patient_resume_at(mine) is None
    to_patient = [line for line in outbox_lines(outbox)[sent_before:] if line["to"] == PATIENT_PHONE]
    # one SMS, of an enrollment that was paused: the number's daily cap holds the rest
    assert len(to_patient) == 1 and to_patient[0]["enrollment_id"] in {mine, theirs}


def test_pausa_answers_in_spanish_and_a_second_pause_moves_the_end_on(
    anon: TestClient, client: TestClient, delivery: DeliveryDeps, clock: FixedClock, store: Store
) -> None:
    eid = enroll(client, "es")
    start = clock.now()
    answer = text_in(anon, "PAUSA")
    assert f"{CLINIC_NAME}: Pausamos tus consejos 7 días, hasta el 9 de marzo. Luego vuelven solos." in answer
    clock.set(start + timedelta(days=3))
    assert "hasta el 12 de marzo" in text_in(anon, "pausa")
    clock.set(start + timedelta(days=7, hours=1))
    send_due(delivery)
    assert shown(client, eid) == ("paused", "patient")  # the second PAUSE's week is not over
    clock.set(start + timedelta(days=10))
    send_due(delivery)
    assert shown(client, eid) == ("active", None)


def test_the_auto_resume_never_ends_a_clinics_or_a_red_flags_pause(
    anon: TestClient, client: TestClient, delivery: DeliveryDeps, clock: FixedClock, store: Store
) -> None:
    by_clinic = enroll(client, patient_ref="p-clinic")
    flagged = enroll(client, patient_ref="p-flag", phone="+14155550111")
    text_in(anon, "PAUSE")
    text_in(anon, "PAUSE", sender="+14155550111")
    assert shown(client, by_clinic) == shown(client, flagged) == ("paused", "patient")
    # the clinic pauses one itself; the other's patient writes a warning sign
    assert client.post(f"/v1/enrollments/{by_clinic}/pause").json()["paused_reason"] == "clinic"
    assert "call 911 now" in text_in(anon, "my legs feel weak", sender="+14155550111")
    clock.advance(timedelta(days=8))
    send_due(delivery)
    assert shown(client, by_clinic) == ("paused", "clinic")
    assert shown(client, flagged) == ("paused", "red_flag")
    assert store.patient_resume_at(by_clinic) is None  # handled: it will not come back


def test_a_clinic_may_resume_a_patients_pause_early(
    anon: TestClient, client: TestClient, delivery: DeliveryDeps, clock: FixedClock
) -> None:
    eid = enroll(client)
    text_in(anon, "pause")
    assert client.post(f"/v1/enrollments/{eid}/resume").json()["state"] == "active"
    assert client.post(f"/v1/enrollments/{eid}/pause").json()["paused_reason"] == "clinic"
    clock.advance(timedelta(days=7))
    send_due(delivery)
    assert shown(client, eid) == ("paused", "clinic")  # the patient's week ended; the clinic's pause did not


def test_pause_from_a_number_nobody_enrolled_is_answered_and_changes_nothing(anon: TestClient, store: Store) -> None:
    answer = text_in(anon, "PAUSE", sender="+14155559999")
    assert "Your tips are paused for 7 days, until Monday, March 9." in answer
    assert store.due_patient_resumes(datetime(2100, 1, 1).astimezone()) == []


# -- any body a phone can send -------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"Body": ""},
        {"Body": "   \n\t"},
        {"Body": "🙂" * 800},
        {"Body": "x" * 1600},
        {"Body": "x" * 5000},
        {},  # no Body at all
        {"Body": "", "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1",
         "MediaContentType0": "image/jpeg"},
        {"Body": "", "NumMedia": "lots"},
        {"Body": "\u0000\ufffd\u202e"},
    ],
    ids=["empty", "whitespace", "emoji-800", "1600", "5000", "no-body", "mms", "bad-nummedia", "control"],
)  # fmt: skip
def test_any_body_is_kept_never_a_500(
    anon: TestClient, client: TestClient, store: Store, params: dict[str, str]
) -> None:
    eid = enroll(client)
    sent = {"From": PATIENT_PHONE, "To": "+14155550199", "MessageSid": f"SMkw{next(_SIDS):030x}", **params}
    response = twilio_post(anon, INBOUND, sent)
    assert (response.status_code, response.text) == (200, EMPTY_TWIML)
    (reply,) = client.get("/v1/replies").json()["replies"]
    assert reply["body"] == params.get("Body", "")[:1600]
    assert (reply["enrollment_id"], reply["red_flag"]) == (eid, False)
    (kept,) = store.get_replies([reply["id"]])
    assert kept is not None and kept.media == (1 if params.get("NumMedia") == "1" else 0)
    assert shown(client, eid) == ("active", None) and store.open_alerts() == []


def test_a_1600_character_reply_with_a_warning_sign_at_its_end_flags(
    anon: TestClient, client: TestClient, store: Store
) -> None:
    eid = enroll(client)
    body = ("ok " * 600)[: 1600 - len(" chest pain")] + " chest pain"
    assert len(body) == 1600
    assert "call 911 now" in text_in(anon, body)
    assert shown(client, eid) == ("paused", "red_flag")
    assert len(store.open_alerts()) == 1
