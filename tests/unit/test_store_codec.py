"""The store's packing and its reading of Lua answers, by table (no Redis needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.records import EnrollmentState, EnrollmentUpdate, MessageRecord, MessageState
from worker.store import BeginSend, BeginStatus, Lifecycle
from worker.store.codec import encode_update, pack_record, unpack_record
from worker.store.results import parse_begin, parse_lifecycle

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
        "n": "Ana", "ph": "+14155550100", "em": "", "l": "es", "tz": "Europe/Madrid", "ch": "sms",
        "u": "1772463600", "d:sms": "0",
    }  # fmt: skip
    swapped = EnrollmentUpdate("Ana", "+14155550100", None, "es", "Europe/Madrid", ("sms",), AT,
                               due={"sms": AT}, started={"sms": 2}, dropped=("email",))  # fmt: skip
    assert {k: v for k, v in encode_update(swapped).items() if ":" in k} == {
        "d:sms": "1772463600000", "k:sms": "2", "h:sms": "", "d:email": "0",
    }  # fmt: skip
