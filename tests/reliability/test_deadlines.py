"""A send batch keeps its claim's deadline (issue 13, item 13): the threads pool runs no Celery time
limit, so a hung provider call must not outlive the lease and go out after a second task, under
a fresh lease, marked the message `unknown`.

Leases here are 2 s (deadline 1.5 s after the claim); the provider is the Twilio stand-in or the
SMTP server, made to hang for 5 s, longer than the lease.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import make_deps, new_enrollment, outbox_lines
from tests.support.smtp_server import SmtpTestServer
from tests.support.twilio_standin import TwilioStandIn
from worker.channels.outbox import OutboxChannel
from worker.channels.smtp_email import SmtpEmailChannel
from worker.channels.twilio_sms import TwilioSmsChannel
from worker.delivery.deadline import Deadline, batch_deadline, margin_seconds
from worker.delivery.dispatch import dispatch_once
from worker.delivery.send import send_batch
from worker.delivery.types import DeliveryDeps
from worker.enrollment import enroll
from worker.records import MessageState
from worker.store import Lease
from worker.store.keys import due_key, lease_key, lease_tokens_key

TOKEN = "deadline-test-token"
LEASE_SECONDS = 2
HANG_SECONDS = 5.0


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(auth_token=TOKEN, hang_seconds=HANG_SECONDS) as server:
        yield server


@pytest.fixture
def twilio(standin: TwilioStandIn) -> Iterator[TwilioSmsChannel]:
    channel = TwilioSmsChannel(
        account_sid="AC" + "3" * 32,
        auth_token=TOKEN,
        from_number="+15005550006",
        api_base_url=standin.base_url,
        timeout_seconds=10,  # the channel's own timeout is longer than the lease
    )
    yield channel
    channel.close()


def deps_with(redis_url: str, tmp_path: Path, **channels: object) -> DeliveryDeps:
    outbox = tmp_path / "outbox.jsonl"
    chosen = {"sms": OutboxChannel("sms", outbox), "email": OutboxChannel("email", outbox), **channels}
    return make_deps(redis_url, outbox, channels=chosen, lease_seconds=LEASE_SECONDS)  # type: ignore[arg-type]


def claim(deps: DeliveryDeps, channel: str) -> list[str]:
    handed: list[tuple[str, list[str]]] = []
    dispatch_once(deps, lambda ch, handles: handed.append((ch, handles)))
    return [h for ch, handles in handed if ch == channel for h in handles]


def timed_send(deps: DeliveryDeps, channel: str, handles: list[str]) -> tuple[dict[str, int], float]:
    started = time.monotonic()
    outcome = send_batch(deps, channel, handles)
    return outcome.counts, time.monotonic() - started


def test_a_hung_twilio_call_ends_before_the_lease_does(
    redis_url: str, tmp_path: Path, standin: TwilioStandIn, twilio: TwilioSmsChannel
) -> None:
    deps = deps_with(redis_url, tmp_path, sms=twilio)
    eid = enroll(deps.engine, new_enrollment(channels=("sms",), email=None))[0].id
    standin.script(["hang"])
    counts, took = timed_send(deps, "sms", claim(deps, "sms"))
    assert took < LEASE_SECONDS, f"the provider call outlived its {LEASE_SECONDS} s lease ({took:.1f} s)"
    assert counts == {"unknown": 1}  # it may have reached Twilio: never sent again by itself
    record = deps.engine.store.record(f"{eid}.welcome.sms.1")
    assert record is not None and (record.state, record.reason) == (MessageState.UNKNOWN, "timeout")
    assert deps.engine.store.in_flight("sms") == 0  # released before the lease ran out


def test_past_the_deadline_the_rest_of_the_batch_goes_back_unsent_and_unmarked(
    redis_url: str, tmp_path: Path, standin: TwilioStandIn, twilio: TwilioSmsChannel
) -> None:
    """A batch whose leases are not renewed (a worker stalled, or cut off from Redis: its heartbeat
    cannot renew) keeps the deadline of its claim."""
    twilio.batch_size = twilio.parallelism = 1  # one call at a time: the chunks after the hung one start late
    deps = dataclasses.replace(deps_with(redis_url, tmp_path, sms=twilio), renew_leases=False)
    eids = [
        enroll(deps.engine, new_enrollment(f"p-{i}", channels=("sms",), email=None, phone=f"+1415555{i:04d}"))[0].id
        for i in range(3)
    ]
    standin.script(["hang"])  # the first request hangs, the others would be answered at once
    counts, took = timed_send(deps, "sms", claim(deps, "sms"))
    assert took < LEASE_SECONDS
    assert counts == {"unknown": 1, "expired": 2}
    assert len(standin.requests) == 1, "a call was made after the batch's deadline"
    store = deps.engine.store
    untouched = [e for e in eids if store.record(f"{e}.welcome.sms.1") is None]
    assert len(untouched) == 2  # nothing marked: not even "sending"
    assert all(store.redis.zscore(due_key("sms"), e) is not None for e in untouched)  # due again
    assert store.redis.zcard(lease_key("sms")) == 0


def test_a_hung_provider_leaves_at_most_parallelism_messages_sending(
    redis_url: str, tmp_path: Path, standin: TwilioStandIn, twilio: TwilioSmsChannel
) -> None:
    """A batch larger than the channel's `parallelism` never has more of its messages with the
    provider at once, whatever its chunk size: when every call hangs, that many are `unknown`
    and the rest go back unmarked (the exposure a crash mid-batch would leave)."""
    deps = dataclasses.replace(deps_with(redis_url, tmp_path, sms=twilio), renew_leases=False)
    for i in range(twilio.parallelism + 4):
        enroll(deps.engine, new_enrollment(f"p-{i}", channels=("sms",), email=None, phone=f"+1415555{i:04d}"))
    standin.script(lambda _index, _form: "hang")
    counts, took = timed_send(deps, "sms", claim(deps, "sms"))
    assert took < LEASE_SECONDS
    assert counts == {"unknown": twilio.parallelism, "expired": 4}
    assert len(standin.requests) == twilio.parallelism


def test_a_batch_that_outlives_its_lease_keeps_its_claims_by_heartbeat(
    redis_url: str, tmp_path: Path, standin: TwilioStandIn, twilio: TwilioSmsChannel
) -> None:
    """The same hung first call, with the heartbeat renewing the leases: the rest of the batch is
    still this batch's, and goes out once, under the renewed leases."""
    twilio.batch_size = twilio.parallelism = 1
    deps = deps_with(redis_url, tmp_path, sms=twilio)
    for i in range(3):
        enroll(deps.engine, new_enrollment(f"p-{i}", channels=("sms",), email=None, phone=f"+1415555{i:04d}"))
    standin.script(["hang"])
    counts, _ = timed_send(deps, "sms", claim(deps, "sms"))
    assert counts == {"unknown": 1, "sent": 2}
    assert len(standin.requests) == 3  # each message asked for once
    store = deps.engine.store
    assert store.redis.zcard(lease_key("sms")) == 0  # every lease released by the batch itself
    assert store.redis.hlen(lease_tokens_key("sms")) == 0


def test_a_hung_smtp_server_gets_no_more_time_than_the_deadline_leaves(redis_url: str, tmp_path: Path) -> None:
    with SmtpTestServer(hang_seconds=HANG_SECONDS) as server:
        channel = SmtpEmailChannel(host=server.host, port=server.port, mail_from="Clinic <c@example.org>")
        deps = deps_with(redis_url, tmp_path, email=channel)
        eid = enroll(deps.engine, new_enrollment(channels=("email",), phone=None))[0].id
        server.script(["hang@data"])
        try:
            counts, took = timed_send(deps, "email", claim(deps, "email"))
        finally:
            channel.close()
    assert took < LEASE_SECONDS, f"the SMTP transaction outlived its {LEASE_SECONDS} s lease ({took:.1f} s)"
    assert counts == {"unknown": 1}  # the content may have been transmitted
    record = deps.engine.store.record(f"{eid}.welcome.email.1")
    assert record is not None and record.state is MessageState.UNKNOWN
    assert outbox_lines(tmp_path / "outbox.jsonl") == []


def test_a_batch_runs_on_its_claims_clock_not_its_own() -> None:
    """The deadline comes from the claim's token (lease end and length, Redis's clock): a task that
    waited in the queue has only what is left of its lease."""
    token = f"{1_000_300_000}-{300_000}-ab12cd34"  # a 300 s lease ending at Unix time 1,000,300
    leases = [Lease.parse(f"e1:{token}"), Lease.parse(f"e2:{token}")]
    assert leases[0] == Lease("e1", token) and leases[0].expires_at == 1_000_300.0
    assert margin_seconds(300) == 30.0 and margin_seconds(2) == 0.5 and margin_seconds(3600) == 30.0
    queued_for_100_s = batch_deadline(leases, 300, wall=lambda: 1_000_100.0, monotonic=lambda: 50.0)
    assert queued_for_100_s.at == 50.0 + 200 - 30
    too_late = batch_deadline(leases, 300, wall=lambda: 1_000_290.0, monotonic=lambda: 50.0)
    assert Deadline(too_late.at, lambda: 50.0).passed
    bare = batch_deadline([Lease.parse("e1")], 300, wall=lambda: 5.0, monotonic=lambda: 7.0)
    assert bare.at == 7.0 + 300 - 30  # an id without a claim: a lease taken now
