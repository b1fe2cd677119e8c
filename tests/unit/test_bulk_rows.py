"""Reading bulk intake files (worker.bulk_rows): columns, consent flags, row numbers, limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worker.bulk_rows import MAX_ROWS, Row, RowError, TooManyRows, read_rows
from worker.errors import ValidationError

ROOT = Path(__file__).resolve().parents[2]
HEADER = "patient_ref,program,first_name,phone,channels,timezone,consent_sms,consent_recorded_at"


def rows(text: str, fmt: str = "csv") -> list[Row | RowError]:
    count, found = read_rows(text, fmt)  # type: ignore[arg-type]
    listed = list(found)
    assert count == len(listed)
    return listed


def test_a_csv_row_becomes_the_json_body() -> None:
    cells = "MRN-1,twitching,Ana,+14155552671,sms;email,America/New_York,TRUE,2026-01-01T00:00:00Z,a@example.com,true"
    text = f"{HEADER},email,consent_email\n{cells}\n"
    [row] = rows(text)
    assert isinstance(row, Row) and row.number == 1 and row.clinic_id == ""
    assert row.payload == {
        "patient_ref": "MRN-1", "program": "twitching", "first_name": "Ana", "phone": "+14155552671",
        "email": "a@example.com", "channels": ["sms", "email"], "timezone": "America/New_York",
        "consent": {"sms": True, "email": True, "recorded_at": "2026-01-01T00:00:00Z"},
    }  # fmt: skip


def test_empty_cells_are_fields_left_out_and_blank_lines_are_not_rows() -> None:
    text = (
        HEADER
        + "\n\nMRN-1,twitching,Ana,,sms,America/New_York,,2026-01-01T00:00:00Z\n,,,,,,,\nMRN-2,x,B,,sms,UTC,false,t\n"
    )
    first, second = rows(text)
    assert isinstance(first, Row) and isinstance(second, Row)
    assert (first.number, second.number) == (1, 2)
    assert "phone" not in first.payload and first.payload["consent"]["sms"] is False


def test_a_consent_flag_other_than_true_or_false_names_its_column() -> None:
    [row] = rows(HEADER + "\nMRN-1,twitching,Ana,+14155552671,sms,UTC,yes,2026-01-01T00:00:00Z\n")
    assert row == RowError(1, "consent_sms", "true or false (empty: false)")


def test_more_cells_than_columns_is_a_row_error() -> None:
    [row] = rows(HEADER + "\nMRN-1,twitching,Ana,+14155552671,sms,UTC,true,2026-01-01T00:00:00Z,extra\n")
    assert isinstance(row, RowError) and row.field == "row"


@pytest.mark.parametrize(
    ("header", "says"),
    [
        (HEADER + ",phon", "unknown column 'phon'"),
        ("patient_ref,program,first_name,channels,timezone", "missing column 'consent_recorded_at'"),
        (HEADER + ",phone", "column 'phone' appears twice"),
    ],
)
def test_a_bad_header_refuses_the_whole_file(header: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        read_rows(header + "\n", "csv")
    assert caught.value.field == "columns" and says in caught.value.message


def test_json_lines_number_rows_by_line_and_keep_clinic_id_apart() -> None:
    lines = [json.dumps({"patient_ref": "a", "clinic_id": "c_1"}), "", "{not json", "[1]", json.dumps({"clinic_id": 7})]
    found = rows("\n".join(lines), "ndjson")
    assert found[0] == Row(1, "c_1", {"patient_ref": "a"})
    assert [(r.number, r.field) for r in found[1:] if isinstance(r, RowError)] == [
        (3, "row"),
        (4, "row"),
        (5, "clinic_id"),
    ]


def test_more_than_the_limit_refuses_the_file_before_any_row() -> None:
    over = HEADER + "\n" + "MRN,twitching,A,,sms,UTC,true,2026-01-01T00:00:00Z\n" * (MAX_ROWS + 1)
    with pytest.raises(TooManyRows) as caught:
        read_rows(over, "csv")
    assert caught.value.rows == MAX_ROWS + 1 and caught.value.field == "file" and "100,000" in caught.value.message
    count, _ = read_rows(HEADER + "\n" + "x\n" * MAX_ROWS, "csv")
    assert count == MAX_ROWS
    with pytest.raises(TooManyRows):
        read_rows("{}\n" * 4, "ndjson", limit=3)


def test_the_example_files_read_cleanly() -> None:
    csv_rows = rows((ROOT / "docs/examples/enrollments.csv").read_text())
    json_rows = rows((ROOT / "docs/examples/enrollments.jsonl").read_text(), "ndjson")
    assert all(isinstance(r, Row) for r in csv_rows + json_rows) and len(csv_rows) == 3


def test_unreadable_input_is_refused_or_rejected_never_an_exception() -> None:
    with pytest.raises(ValidationError) as caught:
        read_rows(HEADER + "\n" + "x" * 200_000 + ",twitching\n", "csv")  # over the csv module's field limit
    assert caught.value.field == "body"
    deep, separator = "[" * 100_000, json.dumps({"first_name": "A\u2028B"})
    found = rows(f"{deep}\n{separator}\r\n", "ndjson")
    assert isinstance(found[0], RowError) and found[1] == Row(2, "", {"first_name": "A\u2028B"})


def test_anchor_columns_become_the_bodys_anchors() -> None:
    cells = "MRN-1,visit-prep,Ana,+14155552671,sms,America/New_York,true,2026-01-01T00:00:00Z,2026-12-03T15:00:00-05:00"
    text = f"{HEADER},anchor_visit\n{cells}\n"
    [row] = rows(text)
    assert isinstance(row, Row)
    assert row.payload["anchors"] == {"visit": "2026-12-03T15:00:00-05:00"}
    with pytest.raises(ValidationError, match=r"unknown column 'anchor_' .*anchor_<name>"):
        rows(f"{HEADER},anchor_\n")
