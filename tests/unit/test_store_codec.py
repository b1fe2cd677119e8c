"""The store's packing and its reading of Lua answers, by table (no Redis needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.records import EnrollmentState, EnrollmentUpdate, MessageRecord, MessageState
from worker.store import BeginSend, BeginStatus, FinishResult, FinishSend, Lease, Lifecycle, Retime
from worker.store.codec import _decode_intro, encode_update, pack_record, unpack_record, update_phi
from worker.store.results import parse_begin, parse_claims, parse_finish, parse_lifecycle, parse_retime

AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DELIVERED = MessageRecord("e1", "welcome", "sms", 1, MessageState.DELIVERED, AT, 12, "SM1", "optout:21610", 2)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ok:1", BeginSend(BeginStatus.OK, attempts=1)),
        ("ok:3", BeginSend(BeginStatus.OK, attempts=3)),
        ("busy", BeginSend(BeginStatus.BUSY)),
        ("stale", BeginSend(BeginStatus.STALE)),
        ("gone", BeginSend(BeginStatus.GONE)),
        ("inactive", BeginSend(BeginStatus.INACTIVE)),
        ("moved", BeginSend(BeginStatus.MOVED)),
        ("opted_out", BeginSend(BeginStatus.OPTED_OUT)),
        # the record's reason may hold a colon: only the first one separates the status
        ("done:d|1772463600|12|SM1|optout:21610|2", BeginSend(BeginStatus.DONE, record=DELIVERED)),
    ],
)
def test_begin_send_answers(raw: str, expected: BeginSend) -> None:
    assert parse_begin("e1", "welcome.sms.1", raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("paused:changed", Lifecycle(EnrollmentState.PAUSED, True)),
        ("active:changed", Lifecycle(EnrollmentState.ACTIVE, True)),
        ("canceled:changed", Lifecycle(EnrollmentState.CANCELED, True)),
        ("completed:same", Lifecycle(EnrollmentState.COMPLETED, False)),
        ("gone", None),
    ],
)
def test_lifecycle_answers(raw: str, expected: Lifecycle | None) -> None:
    assert parse_lifecycle(raw) == expected


def test_a_record_packs_and_unpacks_to_itself() -> None:
    packed = pack_record(DELIVERED)
    assert packed == "d|1772463600|12|SM1|optout:21610|2"
    assert unpack_record("e1", "welcome.sms.1", packed) == DELIVERED
    assert pack_record(MessageRecord("e1", "s", "sms", 1, MessageState.FAILED, AT, reason="a|b")).split("|")[4] == "a/b"


def test_an_update_writes_cursors_only_of_channels_it_adds() -> None:
    moved = EnrollmentUpdate("Ana", "+14155550100", None, "es", "Europe/Madrid", ("sms",), AT, due={"sms": None})
    assert encode_update(moved) == {
        "l": "es", "tz": "Europe/Madrid", "ch": "sms", "u": "1772463600", "d:sms": "0",
    }  # fmt: skip
    assert update_phi(moved) == {"n": "Ana", "ph": "+14155550100", "em": ""}  # sealed by the store
    swapped = EnrollmentUpdate("Ana", "+14155550100", None, "es", "Europe/Madrid", ("sms",), AT,
                               due={"sms": AT}, started={"sms": 2}, dropped=("email",))  # fmt: skip
    assert {k: v for k, v in encode_update(swapped).items() if ":" in k} == {
        "d:sms": "1772463600000", "k:sms": "2", "h:sms": "", "d:email": "0",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("dropped", BeginStatus.DROPPED), ("intro", BeginStatus.INTRO)],
)
def test_begin_send_refusals_added_for_safety(raw: str, expected: BeginStatus) -> None:
    assert parse_begin("e1", "welcome.sms.1", raw) == BeginSend(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("advanced", FinishSend(FinishResult.ADVANCED)),
        ("skipped", FinishSend(FinishResult.SKIPPED)),
        ("introduced", FinishSend(FinishResult.INTRODUCED)),
        ("retimed:America/Los_Angeles", FinishSend(FinishResult.RETIMED, "America/Los_Angeles")),
    ],
)
def test_finish_send_answers(raw: str, expected: FinishSend) -> None:
    assert parse_finish(raw) == expected


def test_retime_and_claim_answers() -> None:
    assert parse_retime("ok") == Retime(True)
    assert parse_retime("moved:3") == Retime(False, 3)
    assert parse_retime("gone") == Retime(False)
    token = "1772463600000-300000-ab12cd34"
    claims = parse_claims([token, "e1", "1772463600000", "e2", "1772463601000"])
    assert [(c.enrollment_id, c.token, c.handle) for c in claims] == [
        ("e1", token, f"e1:{token}"),
        ("e2", token, f"e2:{token}"),
    ]
    assert parse_claims([]) == []
    assert Lease.parse(claims[0].handle) == Lease("e1", token)
    assert (Lease.parse("e1").token, Lease.parse("e1").expires_at) == ("", None)  # a bare id: no claim known
    assert (Lease("e1", token).expires_at, Lease("e1", token).length_seconds) == (1772463600.0, 300.0)


def test_an_introduction_is_written_with_when_it_was_asked_for_and_read_back() -> None:
    asked = EnrollmentUpdate("Ana", "+14155550100", None, "en", "America/New_York", ("sms",), AT, intro=2)
    assert encode_update(asked)["i:sms"] == "2|1772463600"
    assert _decode_intro("2|1772463600") == {"intros": 2, "intro_asked": AT}
    assert _decode_intro("2") == {"intros": 2, "intro_asked": None}  # sent: none waiting
    assert _decode_intro("") == {"intros": 0, "intro_asked": None}
