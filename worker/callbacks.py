"""Twilio status callbacks: a message's delivery state, as the provider reports it.

A plain function over a store and an instant; the webhook handler in `worker.api.webhooks`
checks Twilio's signature and calls `handle_status`.

- A callback moves a message's record forward only (a late "sent" never overwrites "delivered"),
  so callbacks may come in any order and any number of times.
- A failure with error 21610 (the recipient opted out with the carrier) opts the number out of SMS
  (`worker.optouts`, source `provider`), once per message: a replay after the patient texted
  START does not opt the number out again.
- A message the provider reports leaves the operators' `unknown` list; failures join the
  `failed` list; final states count in the totals behind /metrics.
- The clinic hears of a failure (`message.failed`) and of a 21610 opt-out (`enrollment.opted_out`)
  through `worker.clinic_events`, which never raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from worker.clinic_events import message_failed, number_opted_out
from worker.contact import inbound_number
from worker.deps import EngineDeps
from worker.logs import get_logger
from worker.optouts import OptOutSource, is_provider_opt_out, opt_out_sms
from worker.records import Enrollment, MessageState, parse_message_id
from worker.replays import act_once
from worker.store import FAILED_INDEX, UNKNOWN_INDEX, CallbackResult, Store

log = get_logger("caredrip.callbacks")

# Twilio MessageStatus -> our state. Anything else (scheduled, canceled, receiving...) is ignored.
STATUS_STATES = {
    "queued": MessageState.SENT,
    "accepted": MessageState.SENT,
    "sending": MessageState.SENT,
    "sent": MessageState.SENT,
    "delivered": MessageState.DELIVERED,
    "read": MessageState.DELIVERED,
    "undelivered": MessageState.UNDELIVERED,
    "failed": MessageState.FAILED,
}
FAILED_STATES = (MessageState.UNDELIVERED, MessageState.FAILED)
FINAL_STATES = (MessageState.DELIVERED, *FAILED_STATES)


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    """`updated`, `stale` (an older or repeated report), `missing` (no such record) or `ignored`."""

    result: str
    state: MessageState | None = None


def handle_status(
    deps: EngineDeps, mid: str, status: str, error_code: str, to: str, now: datetime, *, message_sid: str = ""
) -> StatusOutcome:
    """Apply one status callback for message `mid`; raises ValueError if `mid` is not a message id."""
    store = deps.store
    eid, _step, channel, _occ = parse_message_id(mid)
    state = STATUS_STATES.get(status.strip().lower())
    if state is None:
        return StatusOutcome("ignored")
    failed = state in FAILED_STATES
    reason = error_code.strip()[:32] if failed else ""
    result = store.apply_callback(mid, state, reason, now)
    if failed and is_provider_opt_out(reason) and to:
        number = inbound_number(to)
        act_once(store, "optout", message_sid, lambda: opt_out_sms(store, number, now, OptOutSource.PROVIDER))
        number_opted_out(deps, number)  # the same opt-out is the same event: a replay tells no one twice
    if result is CallbackResult.UPDATED:
        enrollment = _bookkeeping(store, eid, channel, mid, state, now)
        if failed and enrollment is not None:
            message_failed(deps, enrollment, mid, channel, state, reason, now)
    log.info("status_callback", message_id=mid, state=state.value, result=result, reason=reason or None)
    return StatusOutcome(result, state)


def _bookkeeping(
    store: Store, eid: str, channel: str, mid: str, state: MessageState, now: datetime
) -> Enrollment | None:
    """The provider has the message: it is no longer `unknown`; failures join the failed index;
    final states count in the totals behind /metrics (a 'sent' was counted at send time). The
    enrollment, when a final state had it read."""
    store.drop_from_index(UNKNOWN_INDEX, mid)
    batch = store.batch()
    if state in FAILED_STATES:
        batch.add_to_index(FAILED_INDEX, mid, now)
    enrollment = store.get_enrollment(eid) if state in FINAL_STATES else None
    if enrollment is not None:
        batch.count(state, channel, enrollment.program)
    batch.run()
    return enrollment
