"""The store's packing and its reading of Lua answers, by table (no Redis needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from worker.phi import Keyring, SealError
from worker.records import Enrollment, EnrollmentState, EnrollmentUpdate, MessageRecord, MessageState, PausedReason
from worker.store import BeginSend, BeginStatus, FinishResult, FinishSend, Lease, Lifecycle, Retime
from worker.store.codec import (
    ERASABLE,
    _decode_intro,
    decode_enrollment,
    encode_enrollment,
    encode_enrollment_unsealed,
    encode_update,
    pack_record,
    unpack_record,
    update_phi,
)
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


# -- the patient's details, sealed as one token ----------------------------------------------
RING = Keyring.generate()
PATIENT = Enrollment(
    id="72fa106921c0605fa9d2", clinic_id="c_3f9a1b07", patient_ref="MRN-0042", program="twitching",
    first_name="Guadalupe", phone="+14155552671", email="guadalupe.lopez@example.com", channels=("sms", "email"),
    language="es", timezone="America/New_York", state=EnrollmentState.ACTIVE, anchor=AT, created_at=AT,
    consent={"sms": AT}, cursor={"sms": 0, "email": 0}, next_due={"sms": AT, "email": None},
    history={"sms": [], "email": []}, opted_out={"sms": False, "email": False},
)  # fmt: skip


def test_an_enrollment_is_stored_with_its_details_in_one_sealed_token_and_read_back_whole() -> None:
    stored = encode_enrollment(PATIENT, RING)
    assert not {"n", "ph", "em", "r"} & set(stored)
    flat = "|".join(f"{k}={v}" for k, v in stored.items())
    for detail in ("Guadalupe", "+14155552671", "4155552671", "guadalupe.lopez", "MRN-0042"):
        assert detail not in flat
    assert RING.open_fields(stored["x"], aad=PATIENT.id) == {
        "n": "Guadalupe", "ph": "+14155552671", "em": "guadalupe.lopez@example.com", "r": "MRN-0042"
    }  # fmt: skip
    assert decode_enrollment(PATIENT.id, stored, RING) == PATIENT


def test_a_token_copied_to_another_enrollment_does_not_open() -> None:
    with pytest.raises(SealError):
        decode_enrollment("00000000000000000000", encode_enrollment(PATIENT, RING), RING)


def test_an_sms_only_token_stays_within_the_compact_hash_value_limit() -> None:
    sms_only = replace(PATIENT, first_name="Maximiliano", email=None, channels=("sms",), patient_ref="MRN-00000042")
    assert len(encode_enrollment(sms_only, RING)["x"]) <= 100 < 256  # hash-max-ziplist-value 256


def test_a_plain_enrollment_from_before_sealing_reads_the_same() -> None:
    plain = encode_enrollment_unsealed(PATIENT)
    assert (plain["n"], plain["ph"], plain["em"], plain["r"]) == (
        "Guadalupe",
        "+14155552671",
        "guadalupe.lopez@example.com",
        "MRN-0042",
    )
    assert "x" not in plain and decode_enrollment(PATIENT.id, plain, RING) == PATIENT


def test_an_erased_enrollment_reads_with_no_details() -> None:
    erased = {k: v for k, v in encode_enrollment(PATIENT, RING).items() if k not in ERASABLE}
    got = decode_enrollment(PATIENT.id, erased, RING)
    assert (got.first_name, got.phone, got.email, got.patient_ref) == ("", None, None, "")
    assert (got.clinic_id, got.channels, got.state) == (PATIENT.clinic_id, PATIENT.channels, PATIENT.state)


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"st": "paused"}, PausedReason.CLINIC),  # stored before `pr` existed: only clinics paused then
        ({"st": "paused", "pr": "red_flag"}, PausedReason.RED_FLAG),
        ({"st": "paused", "pr": "patient"}, PausedReason.PATIENT),
        ({"st": "paused", "pr": "garbage"}, PausedReason.CLINIC),
        ({"st": "active", "pr": "patient"}, None),  # a reason only means something while paused
        ({"st": "canceled"}, None),
    ],
)
def test_the_paused_reason_is_read_from_pr_while_paused(fields: dict[str, str], expected: PausedReason | None) -> None:
    base = {"c": "c_1", "r": "p-1", "p": "twitching", "ch": "sms", "l": "en", "tz": "UTC", "a": "1772463600"}
    assert decode_enrollment("e1", {**base, **fields}, RING).paused_reason is expected


def test_the_program_version_is_stored_only_past_version_1() -> None:
    assert "v" not in encode_enrollment(PATIENT, RING)  # version 1, and every enrollment from before versions
    on_v2 = replace(PATIENT, version=2)
    stored = encode_enrollment(on_v2, RING)
    assert stored["v"] == "2" and decode_enrollment(PATIENT.id, stored, RING).version == 2
    assert decode_enrollment(PATIENT.id, encode_enrollment(PATIENT, RING), RING).version == 1


def test_every_field_a_stored_enrollment_may_hold_is_read() -> None:
    def at(s: int) -> datetime:
        return datetime.fromtimestamp(s, UTC)

    stored = {
        **{k: v for k, v in encode_enrollment(PATIENT, RING).items() if not k.startswith(("k:", "d:", "h:"))},
        "ch": "sms,email",
        "st": "paused",
        "pr": "patient",
        "a": "1772463600",
        "ca": "1772400000",
        "cs": "sms=1772300000;;email=x",
        "k:sms": "2",
        "d:sms": "1772470000500",
        "h:sms": "1772460000,1772461000",
        "o:sms": "1772462000|patient",
        "k:email": "1",
        "d:email": "0",
        "i:sms": "2|1772450000",
        "end": "1772480000",
        "g": "3",
        "v": "2",
        "lt": "1772440000",
        "am": "1772441000",
    }
    got = decode_enrollment(PATIENT.id, stored, RING)
    assert (got.channels, got.state, got.paused_reason) == (
        ("sms", "email"),
        EnrollmentState.PAUSED,
        PausedReason.PATIENT,
    )
    assert (got.anchor, got.created_at, got.consent) == (at(1772463600), at(1772400000), {"sms": at(1772300000)})
    assert got.cursor == {"sms": 2, "email": 1}
    assert got.next_due == {"sms": datetime.fromtimestamp(1772470000.5, UTC), "email": None}
    assert got.history == {"sms": [at(1772460000), at(1772461000)], "email": []}
    assert got.opted_out == {"sms": True, "email": False}
    assert (got.intros, got.intro_asked, got.ended_at) == (2, at(1772450000), at(1772480000))
    assert (got.generation, got.version, got.late_mark, got.anchors_moved_at) == (3, 2, at(1772440000), at(1772441000))
    assert got.first_name == PATIENT.first_name and got.phone == PATIENT.phone
    bare = decode_enrollment(
        PATIENT.id,
        {k: v for k, v in stored.items() if k not in ("ca", "cs", "i:sms", "end", "lt", "am", "g", "v")},
        RING,
    )
    assert (bare.created_at, bare.consent, bare.intros, bare.intro_asked, bare.ended_at) == (
        bare.anchor,
        {},
        0,
        None,
        None,
    )
    assert (bare.generation, bare.version, bare.late_mark, bare.anchors_moved_at) == (0, 1, None, None)
