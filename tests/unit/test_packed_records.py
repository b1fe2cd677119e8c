"""The packed form of an ended enrollment's records (worker.store.packed): pure, no Redis."""

from __future__ import annotations

import pytest

from worker.store import packed

EID = "0123456789abcdef0123"
RECORDS = {
    "welcome.sms.1": "d|1772463600|0|SM0123456789abcdef0123456789abcdef||1",
    "welcome.email.1": f"S|1772463600|12|<{EID}%2Ewelcome%2Eemail%2E1@caredrip>||1",
    "dotted.email.1": f"S|1772463600|12|<{EID}.dotted.email.1@caredrip>||1",
    "hydration.sms.1": f"S|1772636400|0|outbox-{EID}.hydration.sms.1||1",
    "odd.sms.2": 'f|1772463700||SMx|line\nbreak\tand "quotes" ñ ✓|3',
    "sid-upper.sms.1": "S|1772463601|0|SM0123456789ABCDEF0123456789ABCDEF||1",
    "early.sms.1": "k|99|||paused|",
    "plus.sms.1": "q|+12|||",
    "no-time.sms.1": "s|||||1",
    "short.sms.1": "x|5",
    "marks.sms.1": "S|1772463600|0|a\x00b\x01c\x02||1",
    "other.sms.1": f"S|1772463600|0|outbox-{EID}.welcome.sms.1||1",  # another message's id: kept
}


def test_pack_and_unpack_give_back_every_record_exactly() -> None:
    chunks = packed.pack(EID, RECORDS)
    assert list(chunks) == [f"*{i}" for i in range(len(chunks))]
    assert all(len(v) <= packed.CHUNK for v in chunks.values())
    assert packed.unpack(EID, packed.joined(chunks)) == RECORDS


def test_a_program_is_much_smaller_packed() -> None:
    program = {
        f"step-{i}.{ch}.1": f"S|{1772463600 + i * 86400}|0|"
        + (f"SM{i:032x}" if ch == "sms" else f"<{EID}%2Estep-{i}%2Eemail%2E1@caredrip>")
        + "||1"
        for i in range(11)
        for ch in ("sms", "email")
    }
    chunks = packed.pack(EID, program)
    plain = sum(len(f) + len(v) for f, v in program.items())
    assert len(packed.joined(chunks)) < plain / 3
    assert packed.merge(EID, chunks) == program


def test_a_large_program_spans_several_chunks_under_the_listpack_limit() -> None:
    many = {f"step-{i}.sms.1": f"S|{1772463600 + i * 86400}|0|SM{i * 7919:032x}||1" for i in range(60)}
    chunks = packed.pack(EID, many)
    assert len(chunks) > 1
    assert max(len(v) for v in chunks.values()) <= 240 < 256
    assert packed.merge(EID, chunks) == many


def test_plain_fields_win_over_their_packed_copy() -> None:
    h = {**packed.pack(EID, RECORDS), "welcome.sms.1": "u|1772463900|0|SM01||30007|1", "resend.sms.2": "s|1||||1"}
    merged = packed.merge(EID, h)
    assert merged["welcome.sms.1"] == "u|1772463900|0|SM01||30007|1"
    assert merged["resend.sms.2"] == "s|1||||1"
    assert merged["odd.sms.2"] == RECORDS["odd.sms.2"]
    read = packed.Stored.read({"resend.sms.2": "s|1||||1"}, {**packed.pack(EID, RECORDS), "st": "completed"})
    assert read.records(EID) == {**RECORDS, "resend.sms.2": "s|1||||1"}
    assert "st" not in read.chunks


def test_a_hash_never_compacted_reads_as_it_is() -> None:
    assert packed.merge(EID, RECORDS) == RECORDS
    assert packed.joined(RECORDS) == "" and packed.unpack(EID, "") == {}


def test_an_unknown_format_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        packed.unpack(EID, ":9abc")


def test_the_digest_changes_with_the_records_hash_and_the_chunks() -> None:
    chunks = packed.pack(EID, RECORDS)
    base = packed.Stored(dict(RECORDS), chunks).digest()
    assert packed.Stored({**RECORDS, "x.sms.1": "q||||"}, chunks).digest() != base
    assert packed.Stored(dict(RECORDS), packed.pack(EID, {"a.sms.1": "S|1|0|x||1"})).digest() != base
    assert len(base) == 40


@pytest.mark.parametrize("size", [0, 1, 6, 7, 8, 13, 14, 15, 300])
def test_septets_round_trip_every_length(size: int) -> None:
    data = bytes((i * 37 + 11) % 256 for i in range(size))
    text = packed.septets(data)
    assert text.isascii() and len(text) == -(-size * 8 // 7)
    assert packed.from_septets(text) == data
