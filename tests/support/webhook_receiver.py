"""A clinic's webhook endpoint for tests: a real threaded HTTP server on 127.0.0.1.

It checks each POST's `Caredrip-Signature` with `worker.webhooks.verify` (against the secret the
test registered and the time `now()` gives: the injected clock), keeps what it got, and answers
the statuses scripted for it in order (then 200); 0 holds the answer past the sender's timeout.
`deliver_due` runs one webhook tick in the test's own process.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from worker.delivery.types import DeliveryDeps
from worker.records import from_epoch_ms
from worker.store import DeliveryState
from worker.store.keys import WEBHOOKS_DUE
from worker.webhooks import HEADER, verify
from worker.webhooks.delivery import claim_due, deliver


@dataclass(frozen=True)
class Received:
    """One POST as the clinic got it: raw body, signature header, whether it verified, our answer."""

    body: bytes
    signature: str
    verified: bool
    answered: int
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


class WebhookReceiver:
    """`with WebhookReceiver(now=lambda: clock.now().timestamp()) as r:` then `r.url`, `r.secret = …`."""

    def __init__(self, *, now: Callable[[], float]) -> None:
        self.now = now
        self.secret = ""
        self.received: list[Received] = []
        self._script: deque[int] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                signature = self.headers.get(HEADER) or ""
                answer = owner._answer()
                if answer == 0:  # hang: never answer in time
                    owner._release.wait(30)
                    return
                verified = bool(owner.secret) and verify(owner.secret, body, signature, owner.now())
                with owner._lock:
                    owner.received.append(Received(body, signature, verified, answer, dict(self.headers.items())))
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/caredrip/events"

    def script(self, statuses: Iterable[int]) -> None:
        """Answer the next POSTs with these statuses in order (0: hang past the timeout); then 200."""
        with self._lock:
            self._script = deque(statuses)

    def _answer(self) -> int:
        with self._lock:
            return self._script.popleft() if self._script else 200

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def deliver_due(deps: DeliveryDeps, **deliver_kw: Any) -> list[DeliveryState | None]:
    """One webhook tick in this process (no Celery): claim what is due, make each attempt now."""
    handles: list[str] = []
    claim_due(deps, handles.append)
    return [deliver(deps, handle, **deliver_kw) for handle in handles]


def next_delivery_due(deps: DeliveryDeps) -> datetime | None:
    """When the earliest waiting delivery is due (None: none waits)."""
    first = deps.engine.store.redis.zrange(WEBHOOKS_DUE, 0, 0, withscores=True)
    return from_epoch_ms(float(first[0][1])) if first else None
