"""Operations' 24-hour charts: the send path counts each sent message's lateness in its minute's
hash (same round trip as its outcome), kept 25 hours; the console estimates p50/p99 from it."""

from __future__ import annotations

from datetime import timedelta

import redis
from starlette.testclient import TestClient

from tests.support.engine import new_enrollment, send_inline
from worker.clock import FixedClock
from worker.delivery.dispatch import dispatch_window
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll
from worker.records import epoch_s
from worker.store.keys import STATS_MINUTE_TTL_S, stats_minute_key


def _send_due(delivery: DeliveryDeps) -> None:
    dispatch_window(delivery, send_inline(delivery), window_seconds=0, sleep=lambda _s: None)


def test_sent_messages_lateness_is_counted_per_minute_and_charted(
    as_operator: TestClient, delivery: DeliveryDeps, clinic: tuple[str, str], redis_url: str
) -> None:
    engine, clock = delivery.engine, delivery.engine.clock
    assert isinstance(clock, FixedClock)
    for n in range(3):  # welcome messages due now (10:00 in New York)...
        phone = f"+1415555{2671 + n:04d}"
        enroll(engine, new_enrollment(f"MRN-{n}", clinic_id=clinic[0], phone=phone, email=None, channels=("sms",)))
    clock.advance(timedelta(minutes=10))  # ...sent ten minutes late: a backlog
    _send_due(delivery)

    minute = stats_minute_key(epoch_s(clock.now()) // 60)
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    assert raw.hgetall(minute) == {"sent:sms": "3", "late:900": "3"}  # 600 s late: the (300, 900] bucket
    assert STATS_MINUTE_TTL_S - 60 < raw.ttl(minute) <= STATS_MINUTE_TTL_S == 25 * 3600
    raw.close()

    body = as_operator.get("/console/operations/series.json").json()
    assert body["minutes"] == len(body["t"]) == len(body["sent"]) == len(body["late_p99_s"]) == 24 * 60
    assert body["t"][-1] == epoch_s(clock.now()) // 60 * 60 and body["t"][-1] - body["t"][0] == (24 * 60 - 1) * 60
    assert body["sent"][-1] == 3 and sum(body["sent"]) == 3 and body["late_p50_s"][-2] is None
    assert 300 < body["late_p50_s"][-1] <= body["late_p99_s"][-1] <= 900
    assert body["summary"]["sent"] == 3 and body["summary"]["p50_s"] == body["late_p50_s"][-1]

    clock.advance(timedelta(hours=23, minutes=59))  # still inside the 24-hour window
    assert as_operator.get("/console/operations/series.json").json()["summary"]["sent"] == 3
    page = as_operator.get("/console/operations").text
    assert 'id="lateness-chart"' in page and 'lateness p50 <span id="late-p50">' in page
    clock.advance(timedelta(minutes=1))  # the minute has left the window
    assert as_operator.get("/console/operations/series.json").json()["summary"]["sent"] == 0


def test_the_charts_are_for_operators_only(as_clinic: TestClient) -> None:
    answer = as_clinic.get("/console/operations/series.json")
    assert answer.status_code == 403 and "text/html" in answer.headers["content-type"]
