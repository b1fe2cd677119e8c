"""The outbox channel: exact line format, one append per batch, safe appends from two processes."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.messages import outgoing
from worker.channels.base import OutgoingMessage, Sender, SendResult
from worker.channels.outbox import OutboxChannel
from worker.errors import PermanentChannelError, TransientChannelError

NOW = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
COMMON_KEYS = {
    "id",
    "enrollment_id",
    "clinic_id",
    "program",
    "step",
    "channel",
    "to",
    "body",
    "language",
    "timezone",
    "due_at",
    "sent_at",
    "local_time",
}


def sms(n: int = 0, **changes: Any) -> OutgoingMessage:
    due = datetime(2026, 3, 1, 14, 59, 30, tzinfo=UTC)
    return outgoing(n, **{"due_at": due, "segments": 1, "encoding": "GSM-7", **changes})


def email(n: int = 0) -> OutgoingMessage:
    return sms(
        n,
        channel="email",
        to="ana@example.com",
        subject="Day 1",
        html="<p>Hi</p>",
        segments=None,
        encoding=None,
        timezone="Asia/Kolkata",
    )


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_outbox_is_a_channel(tmp_path: Path) -> None:
    channel: Sender = OutboxChannel("email", tmp_path / "outbox.jsonl")  # checked by mypy
    assert (channel.name, channel.batch_size, channel.parallelism) == ("email", 100, 1)


def test_sms_line_has_exactly_the_documented_keys(tmp_path: Path) -> None:
    path = tmp_path / "var" / "outbox.jsonl"  # parent directory does not exist yet
    result = OutboxChannel("sms", path).send(sms(), now=NOW)

    assert result == SendResult(provider_id="outbox-e0:day1:0", sent_at=NOW)
    (line,) = read_lines(path)
    assert set(line) == COMMON_KEYS | {"segments", "encoding"}
    assert line["sent_at"] == "2026-03-01T15:00:00+00:00"
    assert line["due_at"] == "2026-03-01T14:59:30+00:00"
    assert line["local_time"] == "2026-03-01T09:00:00-06:00"
    assert (line["segments"], line["encoding"], line["channel"]) == (1, "GSM-7", "sms")


def test_email_line_has_subject_and_html_and_no_sms_keys(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    OutboxChannel("email", path).send(email(), now=NOW)

    (line,) = read_lines(path)
    assert set(line) == COMMON_KEYS | {"subject", "html"}
    assert line["local_time"] == "2026-03-01T20:30:00+05:30"
    assert (line["subject"], line["html"]) == ("Day 1", "<p>Hi</p>")


def test_a_batch_is_one_write_and_one_line_per_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes | memoryview) -> int:
        writes.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", counting_write)
    path = tmp_path / "outbox.jsonl"
    results = OutboxChannel("sms", path).send_many([sms(n) for n in range(100)], now=NOW)

    assert len(writes) == 1
    assert [r.provider_id for r in results if isinstance(r, SendResult)] == [f"outbox-e{n}:day1:0" for n in range(100)]
    assert [line["id"] for line in read_lines(path)] == [f"e{n}:day1:0" for n in range(100)]


def test_unusable_message_fails_alone_and_the_rest_are_written(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    batch = [sms(0), sms(1, timezone="Mars/Olympus_Mons"), email(2), sms(3)]
    results = OutboxChannel("sms", path).send_many(batch, now=NOW)

    assert isinstance(results[0], SendResult) and isinstance(results[3], SendResult)
    assert isinstance(results[1], PermanentChannelError) and results[1].code == "invalid"
    assert isinstance(results[2], PermanentChannelError) and results[2].code == "wrong-channel"
    assert [line["id"] for line in read_lines(path)] == ["e0:day1:0", "e3:day1:0"]


def test_each_line_of_a_batch_has_its_own_zones_local_time(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    zones = ["America/Chicago", "Asia/Kolkata", "America/Chicago", "Europe/London"]
    OutboxChannel("sms", path).send_many([sms(n, timezone=tz) for n, tz in enumerate(zones)], now=NOW)

    lines = read_lines(path)
    assert {line["sent_at"] for line in lines} == {"2026-03-01T15:00:00+00:00"}
    assert [line["local_time"] for line in lines] == [
        "2026-03-01T09:00:00-06:00",
        "2026-03-01T20:30:00+05:30",
        "2026-03-01T09:00:00-06:00",
        "2026-03-01T15:00:00+00:00",
    ]


def test_a_naive_hand_over_time_fails_each_message_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    results = OutboxChannel("sms", path).send_many([sms(0), sms(1)], now=NOW.replace(tzinfo=None))

    assert all(isinstance(r, PermanentChannelError) and r.code == "invalid" for r in results)
    assert not path.exists()


def test_unicode_line_separators_stay_inside_their_line(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    body = "Hola\u2028¿cómo está?\u2029\x85 👋"
    OutboxChannel("sms", path).send_many([sms(0, body=body), sms(1)], now=NOW)

    lines = read_lines(path)
    assert [line["body"] for line in lines] == [body, "Hi Ana, drink water today."]


def test_a_removed_file_is_recreated(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    channel = OutboxChannel("sms", path)
    channel.send(sms(0), now=NOW)
    path.rename(tmp_path / "outbox.jsonl.1")  # what logrotate does
    channel.send(sms(1), now=NOW)

    assert [line["id"] for line in read_lines(path)] == ["e1:day1:0"]


def test_failed_write_is_rolled_back_and_transient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "outbox.jsonl"
    channel = OutboxChannel("sms", path)
    channel.send(sms(0), now=NOW)
    size = path.stat().st_size
    real_write = os.write

    def half_then_full_disk(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 10:
            return real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full_disk)
    results = channel.send_many([sms(1), sms(2)], now=NOW)

    assert all(isinstance(r, TransientChannelError) for r in results)
    assert path.stat().st_size == size
    assert [line["id"] for line in read_lines(path)] == ["e0:day1:0"]


BATCHES_PER_WRITER = 40
BATCH = 100


def _write_batches(path: str, writer: int, start: Any) -> None:
    start.wait()
    channel = OutboxChannel("sms", path)
    for batch in range(BATCHES_PER_WRITER):
        body = f"{writer}-{batch} " + "x" * 2000  # ~200 KB a batch: far above any pipe/page size
        channel.send_many([sms(n, id=f"w{writer}:b{batch}:m{n}", body=body) for n in range(BATCH)], now=NOW)


def test_two_processes_append_whole_batches(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [context.Process(target=_write_batches, args=(str(path), w, start)) for w in (1, 2)]
    for process in writers:
        process.start()
    start.set()
    for process in writers:
        process.join(timeout=60)
        assert process.exitcode == 0

    raw_lines = path.read_bytes().split(b"\n")
    assert raw_lines[-1] == b""
    ids = [json.loads(line)["id"] for line in raw_lines[:-1]]  # every line is whole JSON
    assert len(ids) == len(set(ids)) == 2 * BATCHES_PER_WRITER * BATCH
    # each batch sits in one piece: the other process never wrote into the middle of it
    for first in range(0, len(ids), BATCH):
        prefixes = {i.rsplit(":", 1)[0] for i in ids[first : first + BATCH]}
        assert len(prefixes) == 1, prefixes
