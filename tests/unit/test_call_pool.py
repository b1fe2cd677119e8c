"""worker.channels.calls: a chunk's provider calls at once, on threads kept from chunk to chunk."""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime

import pytest

from tests.support.messages import outgoing
from worker.channels.base import OutgoingMessage, SendResult
from worker.channels.calls import CallPool
from worker.errors import PermanentChannelError

NOW = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
MARK: ContextVar[str] = ContextVar("test_mark", default="")


def test_results_come_back_in_order_one_per_message() -> None:
    pool = CallPool(8, "test-calls")

    def send(message: OutgoingMessage) -> SendResult:
        n = int(message.enrollment_id[1:])
        time.sleep(0.01 * (8 - n))  # the first messages answer last
        if n % 3 == 0:
            raise PermanentChannelError("refused", code=str(n))
        return SendResult(provider_id=f"id-{n}", sent_at=NOW)

    results = pool.send_all(send, [outgoing(n) for n in range(8)])
    pool.close()
    shown = [r.code if isinstance(r, PermanentChannelError) else getattr(r, "provider_id", r) for r in results]
    assert shown == [
        "0", "id-1", "id-2", "3", "id-4", "id-5", "6", "id-7",
    ]  # fmt: skip


def test_calls_run_at_once_in_the_callers_context_on_kept_threads() -> None:
    pool = CallPool(4, "test-calls")
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4, timeout=2)  # only passes if all four calls are in flight together

    def send(message: OutgoingMessage) -> SendResult:
        barrier.wait()
        with lock:
            seen.append((MARK.get(), threading.current_thread().name))
        return SendResult(provider_id=message.id, sent_at=NOW)

    token = MARK.set("batch-1")
    try:
        pool.send_all(send, [outgoing(n) for n in range(4)])
        pool.send_all(send, [outgoing(n) for n in range(4)])
    finally:
        MARK.reset(token)
    pool.close()
    assert {mark for mark, _ in seen} == {"batch-1"}
    assert len({name for _, name in seen}) == 4  # the second chunk ran on the first one's threads


def test_one_message_is_sent_in_the_callers_thread() -> None:
    pool = CallPool(4, "test-calls")
    threads: list[threading.Thread] = []

    def send(message: OutgoingMessage) -> SendResult:
        threads.append(threading.current_thread())
        return SendResult(provider_id=message.id, sent_at=NOW)

    pool.send_all(send, [outgoing()])
    assert threads == [threading.current_thread()]


def test_an_error_that_is_no_provider_outcome_fails_the_chunk_after_every_call_ended() -> None:
    pool = CallPool(4, "test-calls")
    ended: list[int] = []

    def send(message: OutgoingMessage) -> SendResult:
        n = int(message.enrollment_id[1:])
        if n == 0:
            raise KeyError("bug")
        time.sleep(0.05)
        ended.append(n)
        return SendResult(provider_id=message.id, sent_at=NOW)

    with pytest.raises(KeyError):
        pool.send_all(send, [outgoing(n) for n in range(4)])
    assert sorted(ended) == [1, 2, 3]
    pool.close()


def test_a_closed_pool_starts_new_threads() -> None:
    pool = CallPool(2, "test-calls")

    def send(message: OutgoingMessage) -> SendResult:
        return SendResult(provider_id=message.id, sent_at=NOW)

    pool.send_all(send, [outgoing(n) for n in range(2)])
    pool.close()
    again = pool.send_all(send, [outgoing(n) for n in range(2)])
    assert [getattr(r, "provider_id", r) for r in again] == ["e0:day1:0", "e1:day1:0"]
    pool.close()
    with pytest.raises(ValueError, match="at least 1"):
        CallPool(0, "test-calls")
