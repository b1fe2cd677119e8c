"""An ended enrollment's records are packed into a few fields, and stay readable and writable:
the store's readers, late status callbacks, cancel with a send in flight, the retention expiry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.support.engine import make_deps, new_enrollment, outbox_lines, run_until_idle
from worker.delivery.types import DeliveryDeps
from worker.enrollment import cancel, enroll
from worker.explain import explain
from worker.records import EnrollmentState, MessageRecord, MessageState
from worker.store import CallbackResult, packed
from worker.store import messages as store_messages
from worker.store.keys import enrollment_key, number_key, number_sends_key, records_key


def _stored(deps: DeliveryDeps, eid: str) -> dict[str, str]:
    """The records hash's fields, and the enrollment hash's chunk fields."""
    client = deps.engine.store.redis
    chunks = {str(k): str(v) for k, v in client.hgetall(enrollment_key(eid)).items() if packed.is_chunk(str(k))}
    return {**chunks, **{str(k): str(v) for k, v in client.hgetall(records_key(eid)).items()}}


def _completed(redis_url: str, tmp_path: Path) -> tuple[DeliveryDeps, str, Path]:
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    enrollment, _ = enroll(deps.engine, new_enrollment())
    run_until_idle(deps)
    return deps, enrollment.id, outbox


def test_a_completed_program_keeps_only_packed_chunks_and_reads_the_same(redis_url: str, tmp_path: Path) -> None:
    deps, eid, outbox = _completed(redis_url, tmp_path)
    store = deps.engine.store
    stored = _stored(deps, eid)
    assert stored and all(packed.is_chunk(f) for f in stored), list(stored)
    assert len(stored) <= 3  # 22 records in a few fields of the enrollment hash
    assert not store.redis.exists(records_key(eid))  # the records hash is gone
    assert store.redis.ttl(enrollment_key(eid)) > 0  # and the enrollment still expires with the retention
    assert store.get_enrollment(eid) is not None  # the enrollment reads as before
    lines = outbox_lines(outbox)
    records = store.records(eid)
    assert len(records) == len(lines) == 22
    assert {r.provider_id for r in records} == {f"outbox-{line['id']}" for line in lines}
    assert all(r.state is MessageState.SENT and r.attempts == 1 for r in records)
    one = store.record(lines[-1]["id"])
    assert one is not None and one.state is MessageState.SENT and one.provider_id == f"outbox-{lines[-1]['id']}"
    assert store.record(f"{eid}.nosuch.sms.1") is None
    schedule = explain(deps.engine, eid, None, deps.caps)  # the explain reader (console, CLI)
    assert sum(1 for m in schedule.messages if m.state == "sent" and m.sent_at is not None) == 22


def test_late_callbacks_apply_to_packed_records_and_fold_back_in(redis_url: str, tmp_path: Path) -> None:
    deps, eid, outbox = _completed(redis_url, tmp_path)
    store, now = deps.engine.store, deps.engine.clock.now() + timedelta(hours=3)
    last = outbox_lines(outbox)[-1]["id"]
    assert store.apply_callback(last, MessageState.DELIVERED, "", now) is CallbackResult.UPDATED
    assert not store.redis.exists(records_key(eid))  # folded back in at once
    record = store.record(last)
    assert record is not None and record.state is MessageState.DELIVERED
    assert all(packed.is_chunk(f) for f in _stored(deps, eid))  # folded back into the chunks
    assert store.apply_callback(last, MessageState.SENT, "", now) is CallbackResult.STALE  # never back
    assert store.apply_callback(last, MessageState.DELIVERED, "", now) is CallbackResult.STALE
    assert store.apply_callback(f"{eid}.nosuch.sms.1", MessageState.DELIVERED, "", now) is CallbackResult.MISSING
    states = {r.state for r in store.records(eid)}
    assert states == {MessageState.SENT, MessageState.DELIVERED}


def test_cancel_packs_the_records_and_a_send_in_flight_still_lands(redis_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    enrollment, _ = enroll(deps.engine, new_enrollment())
    run_until_idle(deps, until=deps.engine.clock.now() + timedelta(days=3))
    sent = outbox_lines(outbox)
    assert 0 < len(sent) < 22
    ended = cancel(deps.engine, enrollment.id)
    assert ended.state is EnrollmentState.CANCELED
    store = deps.engine.store
    assert all(packed.is_chunk(f) for f in _stored(deps, enrollment.id))
    assert len(store.records(enrollment.id)) == len(sent)
    # a message that was out when the cancel came is recorded beside the chunks, and wins
    mid = sent[0]["id"]
    late = MessageRecord(
        enrollment.id,
        sent[0]["step"],
        sent[0]["channel"],
        1,
        MessageState.FAILED,
        deps.engine.clock.now(),
        provider_id="SMlate",
        reason="30007",
        attempts=2,
    )
    now = deps.engine.clock.now()
    store._call(store_messages.finish_send(late, None, None, (), now, deps.engine.retention_s))
    assert 0 < store.redis.pttl(records_key(enrollment.id)) <= store.redis.pttl(enrollment_key(enrollment.id)) + 1000
    record = store.record(mid)
    assert record is not None and record.state is MessageState.FAILED and record.provider_id == "SMlate"
    assert len(store.records(enrollment.id)) == len(sent)
    assert store.compact_records([enrollment.id]) == 1  # folded in; nothing left to do after that
    assert store.compact_records([enrollment.id]) == 0
    record = store.record(mid)
    assert record is not None and record.state is MessageState.FAILED


def test_compaction_refuses_a_running_enrollment_and_a_hash_that_changed(redis_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(redis_url, outbox)
    enrollment, _ = enroll(deps.engine, new_enrollment())
    run_until_idle(deps, until=deps.engine.clock.now() + timedelta(days=3))
    store, eid = deps.engine.store, enrollment.id
    before = _stored(deps, eid)
    assert store.compact_records([eid]) == 0  # still active: left as it is
    assert _stored(deps, eid) == before
    cancel(deps.engine, eid)
    packed_now = _stored(deps, eid)
    chunks = {f: v for f, v in packed_now.items() if packed.is_chunk(f)}
    stale = packed.Stored({"extra.sms.1": "S|1|0|SMx||1"}, chunks)  # read before a write that is gone now
    assert store._call(store_messages.compact(eid, stale)) is False
    assert _stored(deps, eid) == packed_now


def test_a_failed_message_of_a_completed_program_is_resent_once_and_read_back(redis_url: str, tmp_path: Path) -> None:
    """A late `failed` report for a packed record, then an operator's resend: the new occurrence
    goes once, is recorded beside the chunks with the enrollment's expiry, and both read back."""
    from worker.delivery.resend import resend

    deps, eid, outbox = _completed(redis_url, tmp_path)
    store, clock = deps.engine.store, deps.engine.clock
    clock.advance(timedelta(days=2))  # type: ignore[attr-defined]  # past the caps of the last sends
    mid = next(line["id"] for line in outbox_lines(outbox) if line["channel"] == "sms" and line["step"] == "sleep")
    assert store.apply_callback(mid, MessageState.FAILED, "30003", clock.now()) is CallbackResult.UPDATED
    again = mid[: -len(".1")] + ".2"
    assert resend(deps, mid) == f"sent {again}"
    assert [line["id"] for line in outbox_lines(outbox)][-1] == again
    assert resend(deps, mid).startswith("not resendable: already resent")
    # the same expiry as the enrollment (two PTTL reads a few ms apart: allow for the time between)
    records_ttl, enrollment_ttl = store.redis.pttl(records_key(eid)), store.redis.pttl(enrollment_key(eid))
    assert 0 < records_ttl <= enrollment_ttl + 1000
    new, old = store.record(again), store.record(mid)
    assert new is not None and new.state is MessageState.SENT and new.occurrence == 2
    assert old is not None and old.state is MessageState.FAILED and old.reason == "30003"
    assert len(store.records(eid)) == 23


def _sends_of(deps: DeliveryDeps, phone: str) -> tuple[dict[str, str], dict[str, str], int]:
    """(the number record's fields, its parked sends, their expiry in ms)."""
    bi = deps.engine.index.blind_index(phone)
    client = deps.engine.store.redis
    record = {str(k): str(v) for k, v in client.hgetall(number_key(bi)).items()}
    return (
        record,
        {str(k): str(v) for k, v in client.hgetall(number_sends_key(bi)).items()},
        int(client.pttl(number_sends_key(bi))),
    )


def test_an_ended_program_parks_its_numbers_sends_for_the_caps_only(redis_url: str, tmp_path: Path) -> None:
    deps, eid, _ = _completed(redis_url, tmp_path)
    record, parked, ttl = _sends_of(deps, "+14155552671")
    assert set(record) == {f"e:{eid}", "last"}  # the routing fields only, for the retention
    assert parked and 0 < ttl <= 8 * 86400 * 1000  # the last week's sends, while the caps count them
    bi = deps.engine.index.blind_index("+14155552671")
    assert [int(t.timestamp() * 1000) for t in deps.engine.store.recent_sends(bi)] == sorted(map(int, parked.values()))

    outbox = tmp_path / "again.jsonl"
    deps = make_deps(redis_url, outbox)
    enrollment, _ = enroll(deps.engine, new_enrollment("p-2", phone="+14155550000", email=None, channels=("sms",)))
    run_until_idle(deps, until=deps.engine.clock.now() + timedelta(days=3))
    assert any(f.startswith("h:") for f in _sends_of(deps, "+14155550000")[0])  # active: in the record
    cancel(deps.engine, enrollment.id)
    record, parked, ttl = _sends_of(deps, "+14155550000")
    assert not any(f.startswith("h:") for f in record) and parked and 0 < ttl <= 8 * 86400 * 1000
