"""Provider calls made at once, on long-lived threads: a channel's `send_many` for providers that
take one network call per message and keep the caller waiting (Twilio).

A `CallPool` belongs to one channel object (so to one worker process) and starts its threads as
they are first needed, up to `max_calls`; no thread is started per call or per batch, and a
thread's provider connection is reused by the next call. Each call runs in a copy of the
caller's context, so it keeps the send batch's call deadline (worker.channels.timeouts). A chunk
of one message is sent in the caller's own thread. The results come back one per message, in
order, like `send_each`: a ChannelError becomes that message's result; a call the pool could not
start (it was closed meanwhile) is a TransientChannelError, since nothing reached the provider.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from worker.channels.base import OutgoingMessage, SendResult, send_each
from worker.errors import ChannelError, TransientChannelError


class CallPool:
    """Runs up to `max_calls` provider calls at once for one channel, on threads it keeps."""

    def __init__(self, max_calls: int, name: str) -> None:
        if max_calls < 1:
            raise ValueError("max_calls must be at least 1")
        self.max_calls = max_calls
        self._name = name
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def send_all(
        self, send: Callable[[OutgoingMessage], SendResult], messages: list[OutgoingMessage]
    ) -> list[SendResult | Exception]:
        """`send` each message, all at once; one result or ChannelError per message, in order."""
        if len(messages) <= 1:
            return send_each(send, messages)
        futures = [self._start(send, message) for message in messages]
        wait([f for f in futures if f is not None])
        results: list[SendResult | Exception] = []
        for future in futures:
            if future is None:
                results.append(TransientChannelError("the provider call was not started", code="closed"))
                continue
            error = future.exception()
            if error is None:
                results.append(future.result())
            elif isinstance(error, ChannelError):
                results.append(error)
            else:  # not a provider outcome (send_each lets it through too): the chunk fails
                raise error
        return results

    def close(self) -> None:
        """Let the threads go once their calls end; a later `send_all` starts new ones."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    def _start(
        self, send: Callable[[OutgoingMessage], SendResult], message: OutgoingMessage
    ) -> Future[SendResult] | None:
        context = contextvars.copy_context()  # one per call: a context runs in one thread at a time
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.max_calls, thread_name_prefix=self._name)
            executor = self._executor
        try:
            return executor.submit(context.run, send, message)
        except RuntimeError:  # shut down by `close` since: this call never started
            return None
