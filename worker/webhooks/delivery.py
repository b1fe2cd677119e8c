"""Delivering clinic events: claim what is due, then one attempt per task, retried by backoff.

`claim_due` (the beat's webhook tick) leases due deliveries in the store and hands each to a
`caredrip.webhook` task; `deliver` makes one attempt: a POST of the stored body to the clinic's
webhook, signed at send time (a fresh `t`), or the alert email. Each attempt is recorded (time,
status or error, duration). A 2xx (or an email the relay took) ends it; anything else is tried
again by `worker.webhooks.backoff` until 24 hours after the first attempt, then given up (listed
for operators). At least once: a delivery whose task died comes back when its lease runs out,
with the same event id. Where it goes is read at each attempt, so a new URL or secret applies at
once and a removed webhook drops what waits for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from worker.channels.base import SendResult
from worker.delivery.types import DeliveryDeps
from worker.errors import PermanentChannelError
from worker.events import event_ttl_s
from worker.logs import get_logger
from worker.phi import SealError
from worker.store import Attempt, DeliveryKind, DeliveryState, StoredEvent
from worker.store.webhooks import EventTarget, parse_member
from worker.webhooks.alert_mail import alert_email
from worker.webhooks.backoff import ATTEMPT_TIMEOUT_SECONDS, next_delay_seconds
from worker.webhooks.signing import HEADER, sign

log = get_logger("caredrip.webhooks")

CLAIM_LIMIT = 100  # deliveries claimed per tick
MAX_IN_FLIGHT = 50  # leased at once: with a slow endpoint (10 s an attempt) none waits in the queue past its lease
LEASE_SECONDS = 300  # real seconds: far more than an attempt's timeout and its wait in the queue
USER_AGENT = "caredrip-webhooks/1"


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt got: an HTTP status, or an error name (`timeout`, `connect`, ...)."""

    status: int | None = None
    error: str | None = None
    permanent: bool = False  # never worth another try (an email address the relay refuses)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Poster = Callable[[str, bytes, dict[str, str], float], Answer]


_client_lock = threading.Lock()
_clients: list[httpx.Client] = []


def http_client() -> httpx.Client:
    """This process's one httpx client (thread-safe, keeps connections to clinics' endpoints
    alive): a new client costs ~60 ms, loading the CA certificates, an attempt ~1 ms."""
    with _client_lock:
        if not _clients:
            _clients.append(httpx.Client(follow_redirects=False, timeout=ATTEMPT_TIMEOUT_SECONDS))
        return _clients[0]


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to `url` with httpx; redirects are not followed (a 3xx is a failed attempt) and
    the answer's body is never read."""
    try:
        with http_client().stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
            return Answer(status=response.status_code)
    except httpx.TimeoutException:
        return Answer(error="timeout")
    except httpx.ConnectError:
        return Answer(error="connect")
    except httpx.HTTPError as exc:
        return Answer(error=type(exc).__name__)


def claim_due(deps: DeliveryDeps, enqueue: Callable[[str], None]) -> int:
    """One tick: lease the deliveries due now and hand each to a task; how many."""
    claimed = deps.engine.store.claim_deliveries(
        deps.engine.clock.now(), CLAIM_LIMIT, LEASE_SECONDS * 1000, MAX_IN_FLIGHT
    )
    for handle in claimed:
        enqueue(handle)
    return len(claimed)


def deliver(
    deps: DeliveryDeps, handle: str, *, poster: Poster = post, monotonic: Callable[[], float] = time.monotonic
) -> DeliveryState | None:
    """One attempt at the claimed delivery `handle` (`<kind>:<event id>`); its state afterwards,
    None when there was nothing to do (the event expired or was already delivered)."""
    store = deps.engine.store
    kind, evt_id = parse_member(handle)
    event = store.get_event(evt_id)
    delivery = event.deliveries.get(kind) if event else None
    if event is None or delivery is None or delivery.state is not DeliveryState.PENDING:
        store.release_delivery(kind, evt_id)
        return None
    target = store.event_target(event.clinic_id)
    if not (target.webhook_url if kind is DeliveryKind.HOOK else target.email):
        store.finish_delivery(evt_id, kind, None, DeliveryState.DROPPED, None, event_ttl_s(deps.engine))
        log.info("event_delivery", event_id=evt_id, kind=kind.value, state="dropped")
        return DeliveryState.DROPPED
    at, started = deps.engine.clock.now(), monotonic()
    if kind is DeliveryKind.HOOK:
        answer = _post_event(deps, event, target, at, poster)
    else:
        answer = _mail_alert(deps, event, target.email, at)
    attempt = Attempt(kind, at, answer.status, answer.error, int((monotonic() - started) * 1000))
    state, retry_at = _next(deps, delivery.first_at or at, delivery.attempts + 1, answer, at)
    store.finish_delivery(evt_id, kind, attempt, state, retry_at, event_ttl_s(deps.engine))
    log.info(
        "event_delivery", event_id=evt_id, kind=kind.value, state=state.value, status=answer.status,
        error=answer.error, attempt=delivery.attempts + 1, retry_at=retry_at.isoformat() if retry_at else None,
    )  # fmt: skip
    return state


def _post_event(deps: DeliveryDeps, event: StoredEvent, target: EventTarget, at: datetime, poster: Poster) -> Answer:
    try:
        secret = deps.engine.keyring.open(target.sealed_secret, aad=event.clinic_id)
    except SealError:  # a key missing from CAREDRIP_DATA_KEYS: tried again once it is back
        return Answer(error="secret_unreadable")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER: sign(secret, event.body, int(at.timestamp())),
    }
    return poster(target.webhook_url, event.body, headers, ATTEMPT_TIMEOUT_SECONDS)


def _mail_alert(deps: DeliveryDeps, event: StoredEvent, to: str, at: datetime) -> Answer:
    message = alert_email(event, to, public_base_url=deps.public_base_url, now=at)
    result = deps.channels["email"].send_many([message], now=at)[0]
    if isinstance(result, SendResult):
        return Answer(status=250)
    return Answer(error=type(result).__name__, permanent=isinstance(result, PermanentChannelError))


def _next(
    deps: DeliveryDeps, first_at: datetime, attempts: int, answer: Answer, at: datetime
) -> tuple[DeliveryState, datetime | None]:
    """The delivery's state after this attempt, and when to try again (None: no more tries)."""
    if answer.ok:
        return DeliveryState.DELIVERED, None
    if answer.permanent:
        return DeliveryState.FAILED, None
    elapsed = (at - first_at).total_seconds()
    delay = next_delay_seconds(attempts=attempts, elapsed_seconds=elapsed, jitter=deps.jitter())
    if delay is None:
        return DeliveryState.FAILED, None
    return DeliveryState.PENDING, at + timedelta(seconds=delay)


__all__ = ["Answer", "claim_due", "deliver", "post"]
