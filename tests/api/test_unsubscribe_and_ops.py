"""Email unsubscribe pages, /healthz and /metrics over HTTP."""

from __future__ import annotations

import dataclasses
import socket
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL, enrollment_body, send_due
from worker.api import create_app
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.store import ClinicStore, Store
from worker.tokens import unsubscribe_token


def token_for(engine: EngineDeps, eid: str) -> str:
    return unsubscribe_token(engine.secret, eid)


def test_unsubscribe_get_asks_and_changes_nothing(
    anon: TestClient, enrolled: dict[str, Any], engine: EngineDeps
) -> None:
    response = anon.get(f"/unsubscribe/{token_for(engine, enrolled['id'])}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<form method="post">' in response.text
    assert "Unsubscribe" in response.text
    assert "Ana" not in response.text  # no personal data on a page anyone with the link can open
    enrollment = engine.store.get_enrollment(enrolled["id"])
    assert enrollment is not None and enrollment.opted_out == {"sms": False, "email": False}


def test_unsubscribe_post_opts_out_of_email_only_and_is_idempotent(
    anon: TestClient,
    client: TestClient,
    enrolled: dict[str, Any],
    engine: EngineDeps,
    delivery: DeliveryDeps,
    outbox: Any,
) -> None:
    url = f"/unsubscribe/{token_for(engine, enrolled['id'])}"
    for _ in range(2):
        # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click
        response = anon.post(url, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        assert "You are unsubscribed" in response.text
    enrollment = engine.store.get_enrollment(enrolled["id"])
    assert enrollment is not None and enrollment.opted_out == {"sms": False, "email": True}
    assert anon.post(url).status_code == 200  # an empty POST works too
    send_due(delivery)
    assert [line["channel"] for line in map(__import__("json").loads, outbox.read_text().splitlines())] == ["sms"]


def test_unsubscribe_page_speaks_spanish(client: TestClient, anon: TestClient, engine: EngineDeps) -> None:
    eid = client.post("/v1/enrollments", json=enrollment_body(language="es")).json()["id"]
    url = f"/unsubscribe/{token_for(engine, eid)}"
    assert 'lang="es"' in anon.get(url).text
    assert "Su suscripción fue cancelada" in anon.post(url).text


@pytest.mark.parametrize(
    "token", ["nope", "0" * 20 + "." + "0" * 32, "", "a" * 300, "..", "x.y.z", "0.%C2%80", "%E2%80%AE.x"]
)
def test_unsubscribe_with_a_bad_token_is_404(anon: TestClient, enrolled: dict[str, Any], token: str) -> None:
    for method in ("GET", "POST"):
        response = anon.request(method, f"/unsubscribe/{token}")
        assert response.status_code == 404, (method, token)


def test_unsubscribe_token_of_a_forged_enrollment_id_is_404(
    anon: TestClient, enrolled: dict[str, Any], engine: EngineDeps
) -> None:
    good = token_for(engine, enrolled["id"])
    tampered = ("f" if good[0] != "f" else "e") + good[1:]
    assert anon.get(f"/unsubscribe/{tampered}").status_code == 404
    assert anon.get(f"/unsubscribe/{token_for(engine, '0' * 20)}").status_code == 404  # signed, but no such enrollment


def test_healthz_ok(anon: TestClient) -> None:
    response = anon.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "redis": True})


def test_healthz_503_when_redis_is_unreachable(engine: EngineDeps, clinic_store: ClinicStore) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    dead = Store(
        redis.Redis(
            host="127.0.0.1", port=port, socket_connect_timeout=0.5, decode_responses=True, retry=Retry(NoBackoff(), 0)
        ),
        engine.keyring,
        engine.index,
    )
    app = create_app(
        dataclasses.replace(engine, store=dead),
        clinic_store,
        public_base_url=BASE_URL,
        twilio_auth_token="t",
    )
    with TestClient(app) as c:
        response = c.get("/healthz")
        assert (response.status_code, response.json()) == (503, {"status": "unavailable", "redis": False})
        assert c.get("/metrics").status_code == 503


def test_metrics_count_messages_and_the_backlog(
    anon: TestClient, client: TestClient, delivery: DeliveryDeps, clock: Any
) -> None:
    client.post("/v1/enrollments", json=enrollment_body())
    # Another number and address: caps count per recipient (issue 13 item 3), one SMS a day each.
    client.post("/v1/enrollments", json=enrollment_body(patient_ref="p-2", phone="+14155552672", email="b@example.com"))
    clock.advance(minutes=5)
    before = anon.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    assert 'caredrip_due_backlog{channel="sms"} 2.0' in before.text
    assert 'caredrip_oldest_overdue_seconds{channel="sms"} 300.0' in before.text
    assert 'caredrip_in_flight{channel="email"} 0.0' in before.text
    send_due(delivery)
    after = anon.get("/metrics").text
    assert 'caredrip_messages_total{channel="sms",program="twitching",state="sent"} 2.0' in after
    assert 'caredrip_messages_total{channel="email",program="twitching",state="sent"} 2.0' in after
    assert 'caredrip_due_backlog{channel="sms"} 0.0' in after
    assert 'caredrip_oldest_overdue_seconds{channel="sms"} 0.0' in after
    for name in (
        "# TYPE caredrip_messages_total counter",
        "# TYPE caredrip_due_backlog gauge",
        "# TYPE caredrip_oldest_overdue_seconds gauge",
        "# TYPE caredrip_in_flight gauge",
    ):
        assert name in after


def test_metrics_and_health_need_no_key(anon: TestClient) -> None:
    assert anon.get("/metrics").status_code == 200
    assert anon.get("/healthz").status_code == 200
