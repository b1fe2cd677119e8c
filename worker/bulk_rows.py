"""The rows of a bulk intake file: CSV or JSON lines, each row as a POST /v1/enrollments body.

Reading only: the file's shape (columns, JSON, size) is checked here, each row becomes the
payload `worker.intake.parse_enrollment` validates, with the row's own `clinic_id` (if any) kept
apart. A row this module cannot read at all (bad JSON, a consent flag that is not true/false)
comes out as a `RowError` naming the field; nothing here knows about clinics or the store.

CSV columns (header row first; names as POST /v1/enrollments fields): patient_ref, program,
first_name, phone, email, channels (`sms;email`), language, timezone, consent_sms, consent_email
(`true`/`false`, empty = false), consent_recorded_at, start_at, `anchor_<name>` (the anchor
`<name>` of the body's `anchors`, e.g. `anchor_visit`), and clinic_id (operators). An
empty cell is a field left out. `row` numbers the records from 1: the first record after the CSV
header is row 1; in JSON lines, row N is line N (blank lines are skipped, still counted).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from worker.errors import ValidationError

Format = Literal["csv", "ndjson"]
MAX_ROWS = 100_000
COLUMNS = (
    "clinic_id", "patient_ref", "program", "first_name", "phone", "email", "channels", "language",
    "timezone", "consent_sms", "consent_email", "consent_recorded_at", "start_at",
)  # fmt: skip
ANCHOR_PREFIX = "anchor_"  # `anchor_visit`: the body's anchors.visit
_ANCHOR_COLUMN = re.compile(r"^anchor_[a-z0-9][a-z0-9-]{0,39}$")
REQUIRED_COLUMNS = ("patient_ref", "program", "first_name", "channels", "timezone", "consent_recorded_at")
_FLAGS = {"true": True, "false": False, "": False}


class TooManyRows(ValidationError):
    """Raised when a file holds more rows than one bulk intake takes (MAX_ROWS); nothing is stored."""

    def __init__(self, rows: int, limit: int = MAX_ROWS) -> None:
        super().__init__("file", f"{rows} rows: at most {limit:,} in one file, split it")
        self.rows = rows


@dataclass(frozen=True, slots=True)
class Row:
    """One readable row: its number, the row's clinic_id ('' none) and the enrollment body."""

    number: int
    clinic_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not be read into a body: its number, the field and why."""

    number: int
    field: str
    reason: str


def read_rows(text: str, fmt: Format, *, limit: int = MAX_ROWS) -> tuple[int, Iterator[Row | RowError]]:
    """How many rows `text` holds, and each of them in order. Raises TooManyRows when it holds
    more than `limit`, ValidationError naming `columns` for a CSV header that lacks a required
    column or has an unknown one (both before any row is read)."""
    try:
        count = _count_rows(text, fmt)
    except csv.Error as exc:  # a cell over the csv module's limit: every record is read here first
        raise ValidationError("body", f"not a CSV file: {exc}") from None
    if count > limit:
        raise TooManyRows(count, limit)
    if fmt == "ndjson":
        return count, _json_rows(text)
    reader = csv.reader(io.StringIO(text))
    header = [name.strip().lower() for name in next(reader, [])]
    _check_header(header)
    return count, _csv_rows(reader, header)


def _count_rows(text: str, fmt: Format) -> int:
    if fmt == "ndjson":
        return sum(1 for line in _lines(text) if line.strip())
    return max(0, sum(1 for record in csv.reader(io.StringIO(text)) if any(c.strip() for c in record)) - 1)


def _csv_rows(reader: Iterator[list[str]], header: list[str]) -> Iterator[Row | RowError]:
    number = 0
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        number += 1
        if len(record) > len(header):
            yield RowError(number, "row", f"{len(record)} cells for {len(header)} columns")
            continue
        cells = {name: cell.strip() for name, cell in zip(header, record, strict=False) if cell.strip()}
        yield _from_cells(number, cells)


def _check_header(header: list[str]) -> None:
    unknown = [name for name in header if name not in COLUMNS and not _ANCHOR_COLUMN.match(name)]
    if unknown:
        known = ", ".join((*COLUMNS, f"{ANCHOR_PREFIX}<name>"))
        raise ValidationError("columns", f"unknown column {unknown[0]!r} (known: {known})")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValidationError("columns", f"column {repeated[0]!r} appears twice")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ValidationError("columns", f"missing column {missing[0]!r} (required: {', '.join(REQUIRED_COLUMNS)})")


def _from_cells(number: int, cells: dict[str, str]) -> Row | RowError:
    """A CSV record as the JSON body: channels split on `;`, consent flags gathered."""
    payload: dict[str, Any] = {
        k: v
        for k, v in cells.items()
        if k not in ("clinic_id", "channels") and not k.startswith(("consent_", ANCHOR_PREFIX))
    }
    anchors = {k.removeprefix(ANCHOR_PREFIX): v for k, v in cells.items() if k.startswith(ANCHOR_PREFIX)}
    if anchors:
        payload["anchors"] = anchors
    if "channels" in cells:
        payload["channels"] = [c.strip() for c in cells["channels"].replace(",", ";").split(";") if c.strip()]
    consent: dict[str, Any] = {}
    for channel in ("sms", "email"):
        raw = cells.get(f"consent_{channel}", "").lower()
        if raw not in _FLAGS:
            return RowError(number, f"consent_{channel}", "true or false (empty: false)")
        consent[channel] = _FLAGS[raw]
    if "consent_recorded_at" in cells:
        consent["recorded_at"] = cells["consent_recorded_at"]
    payload["consent"] = consent
    return Row(number, cells.get("clinic_id", ""), payload)


def _json_rows(text: str) -> Iterator[Row | RowError]:
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            payload = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RowError(number, "row", f"not JSON: {exc.msg} at column {exc.colno}")
            continue
        except RecursionError:
            yield RowError(number, "row", "not JSON: nested too deeply")
            continue
        if not isinstance(payload, dict):
            yield RowError(number, "row", "a JSON object is needed")
            continue
        clinic = payload.pop("clinic_id", "")
        if not isinstance(clinic, str):
            yield RowError(number, "clinic_id", "a string is needed")
            continue
        yield Row(number, clinic, payload)


def _lines(text: str) -> list[str]:
    """JSON lines split at line feeds only (a JSON string may hold U+2028, which splitlines() splits at)."""
    return [line.removesuffix("\r") for line in text.split("\n")]
